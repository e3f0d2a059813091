//! soketi's queue jobs delivered as a production consumer must: before a deadline (a slow
//! target never makes a batch time out with jobs already delivered), coalesced per webhook
//! with every event's identity carried so that the kit's idempotency catches a duplicate
//! whatever the batch boundaries, a forged job not holding its group back, and the events'
//! bytes as they stood in the job.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{FakeServer, Recorded, Reply};
use soketi_handler_kit::idempotency::MemoryStore;
use soketi_handler_kit::wire::{ChannelOccupied, QueueJob, ReceivedPayload, Secret, write_job};
use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};
use soketi_lambda_sender::config::{App, Webhook};
use soketi_lambda_sender::deliver::{Deadline, RetryPolicy};
use soketi_lambda_sender::jobs::{JobMessage, JobOutcome};
use soketi_lambda_sender::{RegionFallback, Sender};

const GROUP: &str = "1_channel_occupied_webhooks";

fn policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(2)
        .backoff(Duration::from_millis(5), Duration::from_millis(10))
        .attempt_timeout(Duration::from_secs(1))
        .max_elapsed(Duration::from_secs(2))
}

/// A job of app `1`/`k` (secret `s`) with one `channel_occupied` event per channel.
fn job(channels: &[&str]) -> String {
    let events: Vec<String> = channels
        .iter()
        .map(|c| format!(r#"{{"name":"channel_occupied","channel":"{c}"}}"#))
        .collect();
    let payload = format!(r#"{{"time_ms":1,"events":[{}]}}"#, events.join(","));
    write_job("k", "1", &payload, &Secret::new("s"))
}

fn message(id: &str, channels: &[&str]) -> JobMessage {
    JobMessage::new(id, Some(GROUP.to_owned()), job(channels))
}

/// App `1` with webhooks on `server`, one per path, each wanting `channel_occupied`.
async fn sender(server: &FakeServer, paths: &[&str], coalesce: bool) -> Sender {
    let mut app = App::new("1", "k", "s");
    for path in paths {
        app = app.webhook(
            Webhook::http(format!("{}{path}", server.url))
                .event_types([soketi_handler_kit::wire::EventKind::ChannelOccupied]),
        );
    }
    Sender::builder()
        .app(app)
        .retry_policy(policy())
        .coalesce_jobs(coalesce)
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("sender")
}

fn outcomes(outcome: &soketi_lambda_sender::jobs::BatchOutcome) -> Vec<(&str, &str)> {
    outcome
        .outcomes
        .iter()
        .map(|(id, o)| (id.as_str(), o.as_str()))
        .collect()
}

/// The channels of every request `server` accepted on `path`, verified, in arrival order.
fn channels_received(server: &FakeServer, path: &str) -> Vec<String> {
    let verifier = Verifier::new(Keyring::new().app("k", "s"));
    server
        .requests()
        .iter()
        .filter(|r| r.path == path && r.reply.is_accepted())
        .flat_map(|r: &Recorded| {
            let headers = soketi_handler_kit::wire::Headers::from_pairs(
                r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            );
            let verified = verifier.verify_http(&r.body, &headers).expect("signed");
            verified
                .payload()
                .events()
                .map(|e| e.expect("event").channel().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A target that answers in 400 ms, one job per payload, 2 s of work allowed: the jobs that
/// fit are delivered, the others are not started (skipped, back to the queue), and the batch
/// ends before its deadline. Handed back, they are delivered: every job exactly once.
#[tokio::test]
async fn a_slow_target_and_a_short_deadline_deliver_every_job_once() {
    let server = FakeServer::start(|_, _| Reply::LateOk(Duration::from_millis(400))).await;
    let sender = sender(&server, &["/hook"], false).await;
    let ids = ["m1", "m2", "m3", "m4", "m5", "m6"];
    let batch: Vec<JobMessage> = ids.iter().map(|id| message(id, &[id])).collect();
    let deadline = Deadline::after(Duration::from_millis(2500)).margin(Duration::from_millis(500));
    let started = Instant::now();
    let first = sender.deliver_jobs(batch.clone(), deadline).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "past the deadline"
    );
    let delivered: Vec<&str> = first
        .outcomes
        .iter()
        .filter(|(_, o)| o.is_delivered())
        .map(|(id, _)| id.as_str())
        .collect();
    // Each attempt may take 1 s: it starts only with 1 s left of the 2 s.
    assert!((1..6).contains(&delivered.len()), "{:?}", outcomes(&first));
    assert_eq!(delivered, ids[..delivered.len()], "in order");
    for (_, outcome) in &first.outcomes[delivered.len()..] {
        assert!(
            matches!(outcome, JobOutcome::Skipped),
            "{:?}",
            outcomes(&first)
        );
    }
    // The queue hands the rest back.
    let rest: Vec<JobMessage> = batch
        .into_iter()
        .filter(|m| !delivered.contains(&m.id.as_str()))
        .collect();
    let second = sender.deliver_jobs(rest, Deadline::none()).await;
    assert!(second.outcomes.iter().all(|(_, o)| o.is_delivered()));
    assert_eq!(
        channels_received(&server, "/hook"),
        ids,
        "each job once, in order"
    );
}

/// A forged job amid its group is rejected at once; the group's other jobs are delivered, in
/// order, coalesced into one payload.
#[tokio::test]
async fn a_forged_job_does_not_hold_back_its_busy_group() {
    let server = FakeServer::ok().await;
    let sender = sender(&server, &["/hook"], true).await;
    let forged = write_job(
        "k",
        "1",
        r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"forged"}]}"#,
        &Secret::new("guess"),
    );
    let mut batch: Vec<JobMessage> = (0..4)
        .map(|i| message(&format!("m{i}"), &[&format!("c{i}")]))
        .collect();
    batch.insert(2, JobMessage::new("forged", Some(GROUP.to_owned()), forged));
    batch.extend((4..9).map(|i| message(&format!("m{i}"), &[&format!("c{i}")])));
    let outcome = sender
        .deliver_jobs(batch, Deadline::after(Duration::from_secs(30)))
        .await;
    assert_eq!(outcome.failed_ids().collect::<Vec<_>>(), ["forged"]);
    assert_eq!(outcome.counts().rejected, 1);
    assert_eq!(outcome.counts().coalesced, 1);
    let want: Vec<String> = (0..9).map(|i| format!("c{i}")).collect();
    assert_eq!(channels_received(&server, "/hook"), want);
    assert_eq!(server.requests().len(), 1, "one round trip for the group");
}

/// Counts the runs of each channel's callback.
fn counting(runs: &Arc<AtomicUsize>) -> Webhooks {
    let runs = runs.clone();
    Webhooks::new(Verifier::new(Keyring::new().app("k", "s")))
        .on_channel_occupied(move |_: ChannelOccupied, _: Context| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .idempotent(MemoryStore::new())
}

/// Webhook `/a` gets a coalesced payload of jobs 1-3, webhook `/b` fails, so all three return
/// to the queue. They come back with other batch boundaries (2-4, then 3 and 5 alone): `/a`
/// receives jobs 2 and 3 again inside payloads of other shapes and signatures, and the kit's
/// idempotency, keyed by each event's job, runs each event once.
#[tokio::test]
async fn a_coalesced_duplicate_is_caught_by_the_kits_idempotency_after_other_batch_boundaries() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let gate = failing.clone();
    let server = FakeServer::start(move |_, r: &Recorded| {
        if r.path == "/b" && gate.load(Ordering::SeqCst) {
            Reply::NotFound
        } else {
            Reply::Ok
        }
    })
    .await;
    let sender = sender(&server, &["/a", "/b"], true).await;
    let first = sender
        .deliver_jobs(
            vec![
                message("j1", &["one-a", "one-b"]),
                message("j2", &["two"]),
                message("j3", &["three"]),
            ],
            Deadline::none(),
        )
        .await;
    assert_eq!(first.failed_ids().collect::<Vec<_>>(), ["j1", "j2", "j3"]);
    failing.store(false, Ordering::SeqCst);
    let second = sender
        .deliver_jobs(
            vec![
                message("j2", &["two"]),
                message("j3", &["three"]),
                message("j4", &["four"]),
            ],
            Deadline::none(),
        )
        .await;
    assert!(second.outcomes.iter().all(|(_, o)| o.is_delivered()));
    // j3 delivered again (say its deletion failed), now alone; then j1 and j5.
    for batch in [
        vec![message("j3", &["three"])],
        vec![message("j1", &["one-a", "one-b"]), message("j5", &["five"])],
    ] {
        let outcome = sender.deliver_jobs(batch, Deadline::none()).await;
        assert!(outcome.outcomes.iter().all(|(_, o)| o.is_delivered()));
    }
    let received: Vec<Recorded> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/a")
        .collect();
    assert_eq!(received.len(), 4, "four payloads of different shapes");
    let runs = Arc::new(AtomicUsize::new(0));
    let hooks = counting(&runs);
    for (n, request) in received.iter().enumerate() {
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let verified = hooks
            .verifier()
            .verify_http(
                &request.body,
                &soketi_handler_kit::wire::Headers::from_pairs(headers),
            )
            .expect("signed");
        let invocation = soketi_handler_kit::Invocation::from(format!("r{n}"));
        hooks.receive(verified, invocation).await.expect("handled");
    }
    // one-a, one-b, two, three, four, five: once each, though /a got 4 + 3 + 1 + 3 events.
    assert_eq!(runs.load(Ordering::SeqCst), 6);
    assert_eq!(
        channels_received(&server, "/a").len(),
        11,
        "the duplicates did arrive"
    );
}

/// The recorded job holding a lone surrogate, `1e+21`, `18446744073709552000` and
/// JavaScript's key order: every event reaches its webhook as the very text it was in the job.
#[tokio::test]
async fn events_arrive_as_the_bytes_they_were_in_the_job() {
    let body = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../handler-kit/tests/vectors/sqs-jobs/024.json"),
    )
    .expect("recorded job");
    assert!(
        body.contains(r"lone \ud800"),
        "the vector holds a lone surrogate"
    );
    let server = FakeServer::ok().await;
    let app = App::new("app1", "app1key", "app1secret").webhook(
        Webhook::http(format!("{}/all", server.url))
            .event_types(soketi_handler_kit::wire::EventKind::ALL),
    );
    let sender = Sender::builder()
        .app(app)
        .retry_policy(policy())
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("sender");
    let outcome = sender
        .deliver_jobs(
            vec![JobMessage::new("m", None, body.clone())],
            Deadline::none(),
        )
        .await;
    assert!(
        outcome.outcomes[0].1.is_delivered(),
        "{:?}",
        outcomes(&outcome)
    );
    let job = QueueJob::parse(&body).expect("job");
    let sent = ReceivedPayload::parse(job.payload_json()).expect("payload");
    let requests = server.requests();
    let received: Vec<String> = requests
        .iter()
        .flat_map(|r| {
            let payload = ReceivedPayload::parse(r.body_str()).expect("payload");
            payload.event_texts().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    let want: Vec<String> = sent.event_texts().map(str::to_owned).collect();
    assert_eq!(received, want);
    assert!(received.iter().any(|t| t.contains(r"lone \ud800")));
}

/// A store whose apps JSON changes when the test says (a rotation), counting its reads.
struct Rotating {
    text: Arc<std::sync::Mutex<String>>,
    reads: Arc<AtomicUsize>,
}

impl soketi_handler_kit::secrets::SecretSource for Rotating {
    fn fetch(&self) -> soketi_handler_kit::secrets::FetchFuture<'_> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let text = self.text.lock().expect("lock").clone();
        Box::pin(async move { Ok(soketi_handler_kit::secrets::SecretText::new(text)) })
    }

    fn describe(&self) -> String {
        "a test store".to_owned()
    }
}

/// The apps' secret rotates in the store after the consumer read it: a job signed with the new
/// secret makes the consumer read the store once more before rejecting it, and it is delivered;
/// a forged job is rejected after that one read, and reads stay within the policy's bucket.
#[tokio::test]
async fn a_rotated_secret_is_read_again_before_a_job_is_rejected() {
    use soketi_lambda_sender::jobs::{JobSender, parse_apps_secret};
    let server = FakeServer::ok().await;
    let apps = |secret: &str| {
        format!(
            r#"[{{"id":"1","key":"k","secret":"{secret}","webhooks":[{{"url":"{}/hook","event_types":["channel_occupied"]}}]}}]"#,
            server.url
        )
    };
    let text = Arc::new(std::sync::Mutex::new(apps("s")));
    let reads = Arc::new(AtomicUsize::new(0));
    let store = Rotating {
        text: text.clone(),
        reads: reads.clone(),
    };
    let base = Sender::builder()
        .retry_policy(policy())
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("base");
    let policy = soketi_handler_kit::secrets::RefreshPolicy::new()
        .on_mismatch(Duration::from_secs(3600))
        .mismatch_burst(1);
    let jobs = JobSender::from_secret(&base, store, policy, parse_apps_secret)
        .await
        .expect("read at start");
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    *text.lock().expect("lock") = apps("rotated");
    let payload = r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"after"}]}"#;
    let rotated = write_job("k", "1", payload, &Secret::new("rotated"));
    let outcome = jobs
        .deliver_jobs(
            vec![JobMessage::new("m1", Some(GROUP.to_owned()), rotated)],
            Deadline::none(),
        )
        .await;
    assert!(
        outcome.outcomes[0].1.is_delivered(),
        "{:?}",
        outcomes(&outcome)
    );
    assert_eq!(reads.load(Ordering::SeqCst), 2, "read once more");
    let forged = write_job("k", "1", payload, &Secret::new("guess"));
    let outcome = jobs
        .deliver_jobs(
            vec![JobMessage::new("m2", Some(GROUP.to_owned()), forged)],
            Deadline::none(),
        )
        .await;
    assert_eq!(outcome.counts().rejected, 1);
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "the bucket is empty: no read storm"
    );
}
