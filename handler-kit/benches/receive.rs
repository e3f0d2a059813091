//! The receive path side by side, per invocation, on the same three bodies
//! (`benches/support/envelopes.rs`):
//!
//! - `floor`: HMAC-SHA256 of the payload bytes alone, key prepared — the work no receiver
//!   can avoid;
//! - `kit_read`: `Envelope::parse`, the kit's reader alone (the whole body checked as JSON
//!   and UTF-8, the payload's span, the two headers and each event's fields found): what any
//!   receiver must do besides the HMAC, so that the rest of `kit_handle` shows apart;
//! - `kit_verify`: `Verifier::verify_lambda_body` and decoding every event;
//! - `kit_handle`: `Webhooks::verify_and_receive` (the dispatcher, verification, dispatch) with
//!   three no-op callbacks;
//! - `serde_json`: the straightforward Rust receiver (`RawValue` payload, `HashMap` headers,
//!   `Vec<Value>` events, the same HMAC).
//!
//! Run with `cargo bench -p soketi-handler-kit --bench receive`; `scripts/bench` runs it with
//! the Node handler and prints the ratios to the floor.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use serde_json::value::RawValue;
use soketi_handler_kit::wire::{Envelope, Secret, Signature};

#[path = "support/envelopes.rs"]
mod envelopes;
#[path = "support/router.rs"]
mod router;

use router::run_ready;

#[derive(Deserialize)]
struct PlainInvocation<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
    headers: HashMap<String, String>,
}

#[derive(Deserialize)]
struct PlainPayload {
    time_ms: u64,
    events: Vec<serde_json::Value>,
}

/// The obvious serde_json receiver, as a user would write it without the kit.
fn plain_serde_json(secret: &Secret, body: &[u8]) -> usize {
    let invocation: PlainInvocation<'_> = serde_json::from_slice(body).expect("envelope");
    let signature = invocation
        .headers
        .get("X-Pusher-Signature")
        .and_then(|s| Signature::from_hex(s).ok())
        .expect("signature");
    assert!(secret.verifies(invocation.payload.get().as_bytes(), &signature));
    let payload: PlainPayload = serde_json::from_str(invocation.payload.get()).expect("payload");
    black_box(payload.time_ms);
    payload
        .events
        .iter()
        .filter(|event| {
            matches!(
                event["name"].as_str(),
                Some("channel_occupied" | "member_added" | "client_event")
            )
        })
        .count()
}

fn receive(c: &mut Criterion) {
    let secret = Secret::new(envelopes::APP_SECRET);
    let verifier = router::verifier();
    let webhooks = router::webhooks();
    let mut group = c.benchmark_group("receive");
    for (case, body) in envelopes::all() {
        let payload = Envelope::parse(&body)
            .expect("envelope")
            .payload_json()
            .as_bytes()
            .to_vec();
        group.throughput(Throughput::Bytes(body.len() as u64));
        if body.len() > 100_000 {
            group.sample_size(30);
        } else {
            group.sample_size(100);
        }
        group.bench_with_input(BenchmarkId::new("floor", case), &payload, |b, payload| {
            b.iter(|| secret.sign(black_box(payload)))
        });
        group.bench_with_input(BenchmarkId::new("kit_read", case), &body, |b, body| {
            b.iter(|| {
                Envelope::parse(black_box(body))
                    .expect("envelope")
                    .payload_json()
                    .len()
            })
        });
        group.bench_with_input(BenchmarkId::new("kit_verify", case), &body, |b, body| {
            b.iter(|| {
                let verified = verifier.verify_lambda_body(black_box(body)).expect("valid");
                verified.payload().events().filter(Result::is_ok).count()
            })
        });
        group.bench_with_input(BenchmarkId::new("kit_handle", case), &body, |b, body| {
            b.iter(|| {
                run_ready(webhooks.verify_and_receive(black_box(body), "bench")).expect("handled")
            })
        });
        group.bench_with_input(BenchmarkId::new("serde_json", case), &body, |b, body| {
            b.iter(|| plain_serde_json(&secret, black_box(body)))
        });
    }
    group.finish();
}

criterion_group!(benches, receive);
criterion_main!(benches);
