//! What the fuzz targets share: a router with a callback for every kind of event, and a way to
//! run its futures (the callbacks never wait) without an executor.

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};

/// The app every target signs for.
pub const KEY: &str = "app1key";
/// Its secret: the one of soketi's recorded requests, so that the seeds verify.
pub const SECRET: &str = "app1secret";

/// A router that takes every event (so that every event is decoded) and checks what it gets.
pub fn webhooks() -> Webhooks {
    Webhooks::new(Verifier::new(Keyring::new().app(KEY, SECRET))).on_any(
        |event, _cx: Context| async move {
            // Whatever was decoded prints as JSON that reads back and prints the same (numbers
            // are printed the JavaScript way, so the text, not the value, is what must hold).
            let json = event.to_json();
            let again = soketi_handler_kit::wire::Event::from_json(&json)
                .map_err(|e| format!("{json} reads back as an error: {e}"))?;
            if again.to_json() != json {
                return Err(format!("{json} reads back as {}", again.to_json()).into());
            }
            Ok(())
        },
    )
}

/// Polls a future that never waits to its end.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
