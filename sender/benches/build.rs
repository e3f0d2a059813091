//! How long building the signed requests takes: routing a batch to several webhooks, splitting
//! a large batch under Lambda's limit, and reading events from JSON text.
//! Run with `cargo bench -p soketi-lambda-sender --bench build`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event, EventKind};
use soketi_lambda_sender::config::{App, Filter, Webhook};
use soketi_lambda_sender::input::parse_event;
use soketi_lambda_sender::route::{Limits, plan};

fn app() -> App {
    App::new("1", "app1key", "app1secret")
        .webhook(
            Webhook::lambda("all")
                .region("eu-west-1")
                .event_types(EventKind::ALL),
        )
        .webhook(
            Webhook::lambda("presence")
                .region("eu-west-1")
                .async_invocation(true)
                .event_types([EventKind::MemberAdded, EventKind::MemberRemoved])
                .filter(Filter::new("presence-", "")),
        )
        .webhook(
            Webhook::http("http://127.0.0.1:8080/hook")
                .event_types([EventKind::ClientEvent])
                .header("X-Custom", "v"),
        )
}

fn events(n: usize, data_len: usize) -> Vec<Event> {
    (0..n)
        .map(|i| match i % 3 {
            0 => Event::channel_occupied(format!("private-{i}")),
            1 => Event::member_added("presence-room", format!("user-{i}")),
            _ => ClientEvent::new("private-chat", "client-msg")
                .with_data(ClientData::string(&"é".repeat(data_len / 2)))
                .with_socket_id("1.2")
                .into(),
        })
        .collect()
}

fn routing(c: &mut Criterion) {
    let app = app();
    let mut group = c.benchmark_group("plan");
    for (n, data_len) in [(5usize, 20usize), (100, 200), (3_000, 2_000)] {
        let batch = events(n, data_len);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("events", n), &batch, |b, batch| {
            b.iter(|| {
                plan(&app, 1_700_000_000_000, 42, batch, &Limits::default())
                    .requests
                    .len()
            })
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let text = r#"{"name":"client_event","channel":"presence-room","event":"client-typing","data":{"who":"user-2","text":"héllo 😀 \"q\" </script>","n":[1.0,1e21,-0]},"socket_id":"5460767047.7868393145","user_id":"user-2"}"#;
    c.bench_function("parse_event", |b| b.iter(|| parse_event(text).is_ok()));
}

criterion_group!(benches, routing, parsing);
criterion_main!(benches);
