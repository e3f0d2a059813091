//! Jobs per second through `Sender::deliver_jobs` without a queue server: batches of soketi's
//! jobs handed to the library as Lambda's event source mapping hands them to the delivery
//! function (up to 10 messages of one FIFO message group per batch; one batch of a group in
//! flight at a time, the groups side by side), delivered to a loopback HTTP webhook that
//! answers every request after a fixed latency. Each job is one `channel_occupied` event,
//! signed as soketi signs it. Prints jobs/s for 1 group and for many, with coalescing off and
//! on, and checks that the target received every job exactly once.
//!
//! `scripts/bench-sqs --no-moto` runs it; or
//! `cargo bench -p soketi-lambda-sender --bench queue` (`LATENCY_MS`, default 50;
//! `GROUPS`, default 50; `JOBS_PER_GROUP`, default 100).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use soketi_handler_kit::wire::{EventKind, Secret, write_job};
use soketi_lambda_sender::config::{App, Webhook};
use soketi_lambda_sender::deliver::{Deadline, RetryPolicy};
use soketi_lambda_sender::jobs::JobMessage;
use soketi_lambda_sender::{RegionFallback, Sender};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback HTTP server answering every request 200 after `latency`, keeping connections
/// open; counts the events (`"channel_occupied"`) it received.
async fn target(latency: Duration, events: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let events = events.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    // One request: its head, then Content-Length bytes.
                    let (head_end, length) = loop {
                        if let Some(end) = find(&buffer, b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buffer.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = &buffer[head_end..head_end + length];
                    let count = count(body, b"\"channel_occupied\"");
                    buffer.drain(..head_end + length);
                    tokio::time::sleep(latency).await;
                    events.fetch_add(count, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Delivers `per_group` jobs in each of `groups` groups, batches of 10 per group one after the
/// other, the groups side by side; returns jobs/s.
async fn run(
    url: &str,
    groups: usize,
    per_group: usize,
    coalesce: bool,
    events: &AtomicUsize,
) -> f64 {
    let app = App::new("1", "app1key", "app1secret")
        .webhook(Webhook::http(format!("{url}/hook")).event_types([EventKind::ChannelOccupied]));
    let sender = Sender::builder()
        .app(app)
        .retry_policy(RetryPolicy::default().max_attempts(1))
        .coalesce_jobs(coalesce)
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("sender");
    let secret = Secret::new("app1secret");
    let before = events.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for g in 0..groups {
        let sender = sender.clone();
        let secret = secret.clone();
        tasks.spawn(async move {
            let group = format!("1_group_{g}");
            let jobs: Vec<JobMessage> = (0..per_group)
                .map(|i| {
                    let payload = format!(
                        r#"{{"time_ms":1,"events":[{{"name":"channel_occupied","channel":"c-{g}-{i}"}}]}}"#
                    );
                    let body = write_job("app1key", "1", &payload, &secret);
                    JobMessage::new(format!("m-{g}-{i}"), Some(group.clone()), body)
                })
                .collect();
            let mut delivered = 0;
            for batch in jobs.chunks(10) {
                let deadline = Deadline::after(Duration::from_secs(60));
                let outcome = sender.deliver_jobs(batch.to_vec(), deadline).await;
                delivered += outcome.counts().delivered;
            }
            delivered
        });
    }
    let mut delivered = 0;
    while let Some(done) = tasks.join_next().await {
        delivered += done.expect("a group task");
    }
    let seconds = started.elapsed().as_secs_f64();
    let total = groups * per_group;
    assert_eq!(delivered, total, "every job delivered");
    assert_eq!(
        events.load(Ordering::SeqCst) - before,
        total,
        "every job received once"
    );
    total as f64 / seconds
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the arguments.
    let latency = Duration::from_millis(setting("LATENCY_MS", 50) as u64);
    let groups = setting("GROUPS", 50);
    let per_group = setting("JOBS_PER_GROUP", 100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let events = Arc::new(AtomicUsize::new(0));
        let url = target(latency, events.clone()).await;
        println!(
            "queue jobs through deliver_jobs, batches of 10 per group, target latency {} ms",
            latency.as_millis()
        );
        println!(
            "{:<12} {:>8} {:>10} {:>10}",
            "coalescing", "groups", "jobs", "jobs/s"
        );
        for coalesce in [false, true] {
            for g in [1, groups] {
                // One group without coalescing moves at ~1/latency: fewer jobs keep it short.
                let per = if !coalesce && g == 1 {
                    per_group.min(100)
                } else {
                    per_group
                };
                let rate = run(&url, g, per, coalesce, &events).await;
                println!(
                    "{:<12} {:>8} {:>10} {:>10.0}",
                    if coalesce { "on" } else { "off" },
                    g,
                    g * per,
                    rate
                );
            }
        }
    });
}
