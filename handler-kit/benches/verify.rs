//! How long verification and dispatch take: a recorded soketi request, a five-event batch, and
//! large payloads (throughput). Run with `cargo bench -p soketi-handler-kit --bench verify`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ClientData, ClientEvent};
use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/vectors/soketi-1.6.1/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).expect("recorded vector")
}

fn verifier() -> Verifier {
    Verifier::new(Keyring::new().app("app1key", "app1secret"))
}

fn recorded(c: &mut Criterion) {
    let verifier = verifier();
    let mut group = c.benchmark_group("verify_recorded");
    for name in ["001.json", "029.json", "076.json"] {
        let body = vector(name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| {
                let verified = verifier.verify_lambda_body(body).expect("valid");
                verified.payload().events().filter(Result::is_ok).count()
            })
        });
    }
    group.finish();
}

fn large(c: &mut Criterion) {
    let verifier = verifier();
    let mut group = c.benchmark_group("verify_large");
    group.sample_size(20);
    for mib in [1usize, 6] {
        let data = ClientData::string(&"x".repeat(mib * 1024 * 1024 - 200));
        let body = SignedEnvelope::new("app1key", "app1secret")
            .event(ClientEvent::new("private-c", "client-big").with_data(data))
            .to_bytes();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{mib}MiB")),
            &body,
            |b, body| {
                b.iter(|| {
                    verifier
                        .verify_lambda_body(body)
                        .expect("valid")
                        .payload()
                        .len()
                })
            },
        );
    }
    group.finish();
}

fn dispatch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let webhooks = Webhooks::new(verifier())
        .on_channel_vacated(|_ev, _cx: Context| async { Ok(()) })
        .on_member_removed(|_ev, _cx: Context| async { Ok(()) });
    let body = vector("076.json");
    c.bench_function("handle_recorded_batch_076", |b| {
        b.iter(|| {
            runtime
                .block_on(webhooks.verify_and_receive(&body, "bench"))
                .expect("handled")
        })
    });
}

criterion_group!(benches, recorded, large, dispatch);
criterion_main!(benches);
