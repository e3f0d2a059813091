//! Peak heap memory of verifying and dispatching one invocation, beyond the body itself.
//! Prints figures; asserts nothing. Run with `cargo bench -p soketi-handler-kit --bench memory`.
//!
//! The payload is verified and decoded from the bytes that arrived (borrowed), so the extra
//! memory should stay small whatever the body size: only the decoded events are allocated.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};
use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let webhooks = Webhooks::new(Verifier::new(Keyring::new().app("app1key", "app1secret")))
        .on_client_event(|_ev, _cx: Context| async { Ok(()) })
        .on_channel_occupied(|_ev, _cx: Context| async { Ok(()) });
    println!(
        "{:<44} {:>12} {:>16}",
        "invocation", "body bytes", "peak extra bytes"
    );
    let cases: Vec<(String, Vec<u8>)> = vec![
        (
            "1 event, recorded soketi request 001".to_owned(),
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/soketi-1.6.1/001.json"
            ))
            .expect("vector"),
        ),
        (
            "100 channel_occupied events".to_owned(),
            SignedEnvelope::new("app1key", "app1secret")
                .events((0..100).map(|i| Event::channel_occupied(format!("channel-{i}"))))
                .to_bytes(),
        ),
        ("1 client event, 1 MiB of data".to_owned(), big(1)),
        ("1 client event, 6 MiB of data".to_owned(), big(6)),
    ];
    for (name, body) in cases {
        let base = CURRENT.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let response = runtime
            .block_on(webhooks.verify_and_receive(&body, "memory"))
            .expect("handled");
        assert!(response.summary().is_some_and(|s| s.handled() > 0));
        let extra = PEAK.load(Ordering::Relaxed) - base;
        println!("{name:<44} {:>12} {extra:>16}", body.len());
    }
}

fn big(mib: usize) -> Vec<u8> {
    let data = ClientData::string(&"x".repeat(mib * 1024 * 1024 - 200));
    SignedEnvelope::new("app1key", "app1secret")
        .event(ClientEvent::new("private-c", "client-big").with_data(data))
        .to_bytes()
}
