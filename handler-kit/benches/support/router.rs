//! The router the receive benchmarks time, and running its futures without an executor: with
//! no-op callbacks they never wait, and what is measured is then the kit's work, not a
//! runtime's.

use std::future::Future;
use std::pin::pin;
use std::task::{Poll, Waker};

use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};

use super::envelopes::{APP_KEY, APP_SECRET};

/// The verifier of the app the bodies are signed for.
pub fn verifier() -> Verifier {
    Verifier::new(Keyring::new().app(APP_KEY, APP_SECRET))
}

/// The router the benchmarks time: three no-op callbacks (`channel_occupied`, `member_added`,
/// `client_event`); the other kinds are only checked.
pub fn webhooks() -> Webhooks {
    Webhooks::new(verifier())
        .on_channel_occupied(|_ev, _cx: Context| async { Ok(()) })
        .on_member_added(|_ev, _cx: Context| async { Ok(()) })
        .on_client_event(|_ev, _cx: Context| async { Ok(()) })
}

/// Polls a future that never waits to its end.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = std::task::Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
