//! Events per second through the sender, and the peak memory it takes, two ways:
//!
//! - **cli**: `soketi-lambda send --apps … EVENTS` with a file of JSON lines (read, routed,
//!   signed and delivered in one batch, the report printed);
//! - **queue**: a program pushing the events one by one into a `Queue` (default
//!   `QueueConfig`: batches of up to 100 events or 50 ms) and shutting it down.
//!
//! Each runs in a process of its own (the queue's is this program again), against the loopback
//! Lambda Invoke / HTTP server of the tests (`tests/common`) running here, answering every
//! request at once. The app has three webhooks: a `RequestResponse` Lambda taking every event,
//! an `Event` Lambda taking presence members, an HTTP webhook taking client events. The events
//! cycle through `channel_occupied`, `member_added` and a client event with ~100 bytes of
//! object data. Printed: events per second (wall clock, start to exit), the peak resident set
//! (the process's `ru_maxrss`), median of three runs each.
//!
//! ```sh
//! cargo bench -p soketi-lambda-sender --bench throughput             # 100,000 events
//! THROUGHPUT_EVENTS=20000 cargo bench -p soketi-lambda-sender --bench throughput
//! ```
//!
//! `THROUGHPUT_CLI=path/to/soketi-lambda` runs another build of the CLI (another version's,
//! to compare).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{FakeServer, Reply};
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};
use soketi_lambda_sender::config::parse_apps_file;
use soketi_lambda_sender::{QueueConfig, RegionFallback, Sender};

const RUNS: usize = 3;

/// soketi's apps file for the benchmark, its Lambda webhooks sent to `server`.
fn apps_file(server: &str) -> String {
    format!(
        r#"[{{"id":"1","key":"app1key","secret":"app1secret","webhooks":[
            {{"lambda_function":"all","event_types":["channel_occupied","channel_vacated",
              "member_added","member_removed","client_event","cache_miss"],
              "lambda":{{"region":"eu-west-1","client_options":{{"endpoint":"{server}"}}}}}},
            {{"lambda_function":"presence","event_types":["member_added","member_removed"],
              "filter":{{"channel_name_starts_with":"presence-"}},
              "lambda":{{"async":true,"region":"eu-west-1","client_options":{{"endpoint":"{server}"}}}}}},
            {{"url":"{server}/hook","event_types":["client_event"],"headers":{{"X-Env":"bench"}}}}
        ]}}]"#
    )
}

fn event(i: usize) -> Event {
    match i % 3 {
        0 => Event::channel_occupied(format!("private-room-{i}")),
        1 => Event::member_added("presence-lobby", format!("user-{i}")),
        _ => ClientEvent::new("private-chat", "client-message")
            .with_data(ClientData::from_value(&serde_json::json!({
                "from": format!("user-{i}"),
                "text": "héllo, a short chat line with \"quotes\" </b>",
                "n": [1, 2.5, -0.0],
            })))
            .with_socket_id("123.456")
            .into(),
    }
}

fn events_wanted() -> usize {
    std::env::var("THROUGHPUT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Runs `command` to its end; its wall time and peak resident set (KiB).
fn measure(mut command: Command) -> (Duration, u64) {
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // waited for below, by wait4, which gives its rusage
    let child = command.spawn().expect("spawn");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed: status {status}"
    );
    (elapsed, u64::try_from(usage.ru_maxrss).unwrap_or(0))
}

fn median(mut runs: Vec<(Duration, u64)>) -> (Duration, u64) {
    runs.sort();
    let time = runs[runs.len() / 2].0;
    let mut rss: Vec<u64> = runs.iter().map(|r| r.1).collect();
    rss.sort_unstable();
    (time, rss[rss.len() / 2])
}

fn report(what: &str, events: usize, (time, rss): (Duration, u64)) {
    println!(
        "{what:>5}: {events} events in {:.2} s: {:.0} events/s, peak RSS {:.1} MiB",
        time.as_secs_f64(),
        events as f64 / time.as_secs_f64(),
        rss as f64 / 1024.0
    );
}

/// The AWS environment of the processes: fixed credentials and region, nothing else.
fn hermetic(command: &mut Command) {
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
}

/// The queue's process: pushes `events` events into a `Queue` and shuts it down.
async fn queue_child(server: String, events: usize) {
    let apps = parse_apps_file(&apps_file(&server)).expect("apps");
    let sender = Sender::builder()
        .apps(apps)
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("sender");
    let queue = sender.queue(QueueConfig::default());
    for i in 0..events {
        queue.push("1", event(i)).await.expect("push");
    }
    let report = queue.shutdown().await.expect("shutdown");
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.unrouted_events, 0);
}

fn main() {
    // `cargo bench` passes `--bench`; the queue's process is this program with the role set.
    if let Ok(server) = std::env::var("THROUGHPUT_QUEUE_SERVER") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(queue_child(server, events_wanted()));
        return;
    }
    let events = events_wanted();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    let server = runtime.block_on(FakeServer::observed(
        |_, _| Reply::Ok,
        move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        },
    ));
    let dir = tempfile::tempdir().expect("temporary directory");
    let apps = dir.path().join("apps.json");
    std::fs::write(&apps, apps_file(&server.url)).expect("apps file");
    let lines = dir.path().join("events.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&lines).expect("events file"));
    for i in 0..events {
        writeln!(file, "{}", event(i).to_json()).expect("write");
    }
    file.flush().expect("flush");
    drop(file);

    let cli = (0..RUNS)
        .map(|_| {
            let cli = std::env::var_os("THROUGHPUT_CLI")
                .unwrap_or_else(|| env!("CARGO_BIN_EXE_soketi-lambda").into());
            let mut command = Command::new(cli);
            hermetic(&mut command);
            command.arg("send").arg("--apps").arg(&apps).arg(&lines);
            measure(command)
        })
        .collect();
    let queue = (0..RUNS)
        .map(|_| {
            let mut command = Command::new(std::env::current_exe().expect("this program"));
            hermetic(&mut command);
            command.env("THROUGHPUT_QUEUE_SERVER", &server.url);
            measure(command)
        })
        .collect();
    println!(
        "{events} events a run, median of {RUNS} runs ({} requests received in all)",
        received.load(Ordering::Relaxed)
    );
    report("cli", events, median(cli));
    report("queue", events, median(queue));
}
