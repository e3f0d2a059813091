//! soketi's queue jobs, as the real soketi 1.6.1 wrote them to SQS (the kit's
//! `tests/vectors/sqs-jobs/`), delivered through the sender's routing to a loopback server:
//! each webhook gets exactly its events, signed with the app's current secret even when the
//! job was signed with a previous one; a batch keeps FIFO order per message group and says
//! which messages go back to the queue.

mod common;

use std::time::Duration;

use common::{FakeServer, Recorded, Reply};
use serde_json::Value;
use soketi_handler_kit::wire::{Event, Headers, QueueJob, Secret, write_job};
use soketi_handler_kit::{Keyring, Verifier};
use soketi_lambda_sender::config::App;
use soketi_lambda_sender::deliver::{Deadline, RetryPolicy};
use soketi_lambda_sender::jobs::{JobMessage, JobOutcome};
use soketi_lambda_sender::{RegionFallback, Sender};

fn jobs_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../handler-kit/tests/vectors/sqs-jobs")
}

/// The recorded jobs: (file, message group, body).
fn recorded_jobs() -> Vec<(String, String, String)> {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(jobs_dir().join("manifest.json")).unwrap())
            .unwrap();
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap().to_owned();
            let body = std::fs::read_to_string(jobs_dir().join(&file)).unwrap();
            (
                file,
                f["message_group_id"].as_str().unwrap().to_owned(),
                body,
            )
        })
        .collect()
}

fn quick_policy() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(2)
        .backoff(Duration::from_millis(5), Duration::from_millis(10))
        .attempt_timeout(Duration::from_millis(2000))
        .max_elapsed(Duration::from_secs(5))
}

/// The recorded app (`app1`/`app1key`), its secret rotated to `current` with the recorded one
/// kept as previous, and two `url` webhooks on `server`: private-channel client events, and
/// presence member events.
async fn sender(server: &FakeServer, current: &str) -> Sender {
    let app = App::from_json(&format!(
        r#"{{"id":"app1","key":"app1key","secret":"{current}","previous_secrets":["app1secret"],
            "webhooks":[
              {{"url":"{url}/client","event_types":["client_event"],"filter":{{"channel_name_starts_with":"private-"}}}},
              {{"url":"{url}/members","event_types":["member_added","member_removed"]}}]}}"#,
        url = server.url
    ))
    .expect("app");
    Sender::builder()
        .app(app)
        .retry_policy(quick_policy())
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .expect("sender")
}

/// The events a request carried, after checking its signature as a receiver would.
fn verified_events(record: &Recorded, secret: &str) -> Vec<Event> {
    let verifier = Verifier::new(Keyring::new().app("app1key", secret));
    let headers = Headers::from_pairs(record.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let verified = verifier
        .verify_http(&record.body, &headers)
        .unwrap_or_else(|e| panic!("{e}: {}", record.body_str()));
    verified
        .payload()
        .events()
        .collect::<Result<_, _>>()
        .expect("events")
}

#[tokio::test]
async fn every_recorded_job_reaches_exactly_the_webhooks_that_want_its_events() {
    let server = FakeServer::ok().await;
    let sender = sender(&server, "rotated-secret").await;
    let mut want_client = Vec::new();
    let mut want_members = Vec::new();
    for (file, _, body) in recorded_jobs() {
        let job = QueueJob::parse(&body).unwrap();
        let events: Vec<Event> = Verifier::new(Keyring::new().app("app1key", "app1secret"))
            .verify_parts(
                job.payload_json().as_bytes(),
                Some(job.app_key()),
                Some(&job.signature().to_string()),
            )
            .unwrap()
            .payload()
            .events()
            .collect::<Result<_, _>>()
            .unwrap();
        for event in events {
            match event.name() {
                "client_event" if event.channel().is_some_and(|c| c.starts_with("private-")) => {
                    want_client.push(event)
                }
                "member_added" | "member_removed" => want_members.push(event),
                _ => {}
            }
        }
        let report = sender
            .deliver_job(&job)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(report.is_success(), "{file}: {report:?}");
    }
    let received = |path: &str| -> Vec<Event> {
        server
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .flat_map(|r| verified_events(r, "rotated-secret"))
            .collect()
    };
    assert!(!want_client.is_empty() && !want_members.is_empty());
    assert_eq!(received("/client"), want_client);
    assert_eq!(received("/members"), want_members);
}

#[tokio::test]
async fn a_failure_holds_back_the_rest_of_its_group_only() {
    // One job per payload (coalescing off): the group's later jobs are not even sent.
    // Requests for the channel `fail-me` are refused (404, not retried); the rest accepted.
    let server = FakeServer::start(|_, r: &Recorded| {
        if r.body_str().contains("\"fail-me\"") {
            Reply::NotFound
        } else {
            Reply::Ok
        }
    })
    .await;
    let app = App::new("1", "k", "s").webhook(
        soketi_lambda_sender::config::Webhook::http(format!("{}/hook", server.url))
            .event_types([soketi_handler_kit::wire::EventKind::ChannelOccupied]),
    );
    let sender = Sender::builder()
        .app(app)
        .retry_policy(quick_policy())
        .coalesce_jobs(false)
        .region_fallback(RegionFallback::None)
        .build()
        .await
        .unwrap();
    let job = |channel: &str| {
        let payload = format!(
            r#"{{"time_ms":1,"events":[{{"name":"channel_occupied","channel":"{channel}"}}]}}"#
        );
        write_job("k", "1", &payload, &Secret::new("s"))
    };
    let a = Some("1_channel_occupied_webhooks".to_owned());
    let b = Some("1_other".to_owned());
    let outcome = sender
        .deliver_jobs(
            vec![
                JobMessage::new("a1", a.clone(), job("a-first")),
                JobMessage::new("b1", b.clone(), job("b-first")),
                JobMessage::new("a2", a.clone(), job("fail-me")),
                JobMessage::new("b2", b, job("b-second")),
                JobMessage::new("a3", a, job("a-after-the-failure")),
                JobMessage::new("n1", None, job("no-group")),
                JobMessage::new("bad", None, "not a job".to_owned()),
            ],
            Deadline::none(),
        )
        .await;
    let got: Vec<(&str, &str)> = outcome
        .outcomes
        .iter()
        .map(|(id, o)| (id.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a1", "Delivered"),
            ("b1", "Delivered"),
            ("a2", "Failed"),
            ("b2", "Delivered"),
            ("a3", "Skipped"),
            ("n1", "Delivered"),
            ("bad", "Rejected"),
        ]
    );
    assert_eq!(
        outcome.failed_ids().collect::<Vec<_>>(),
        ["a2", "a3", "bad"]
    );
    let counts = outcome.counts();
    assert_eq!(
        (
            counts.delivered,
            counts.failed,
            counts.skipped,
            counts.rejected
        ),
        (4, 1, 1, 1)
    );
    // The held-back job was never sent: it must come back, in order, after `fail-me`.
    let sent: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.body_str().to_owned())
        .collect();
    assert!(
        !sent.iter().any(|b| b.contains("a-after-the-failure")),
        "{sent:?}"
    );
    // Within group a, a1 was sent before a2.
    let at = |needle: &str| sent.iter().position(|b| b.contains(needle)).unwrap();
    assert!(at("a-first") < at("fail-me"));
    let JobOutcome::Failed(report) = &outcome.outcomes[2].1 else {
        unreachable!()
    };
    assert_eq!(report.failures().count(), 1);
}

#[tokio::test]
async fn jobs_of_unknown_apps_or_old_secrets_are_rejected_with_their_kind() {
    let server = FakeServer::ok().await;
    let sender = sender(&server, "rotated-secret").await;
    let (_, group, body) = recorded_jobs().remove(0);
    let unknown = body.replacen("\"appKey\":\"app1key\"", "\"appKey\":\"nobody\"", 1);
    let older = write_job(
        "app1key",
        "app1",
        QueueJob::parse(&body).unwrap().payload_json(),
        &Secret::new("a-secret-nobody-configured"),
    );
    let outcome = sender
        .deliver_jobs(
            vec![
                JobMessage::new("unknown", Some(group.clone()), unknown),
                JobMessage::new("older", Some(group.clone()), older),
                JobMessage::new("recorded", Some(group), body),
            ],
            Deadline::none(),
        )
        .await;
    let kinds: Vec<String> = outcome
        .outcomes
        .iter()
        .map(|(_, o)| match o {
            JobOutcome::Rejected(e) => e.kind().to_owned(),
            other => other.as_str().to_owned(),
        })
        .collect();
    assert_eq!(kinds, ["UnknownApp", "SignatureMismatch", "Delivered"]);
    assert!(
        server.requests().is_empty(),
        "the recorded job has no event these webhooks want"
    );
}
