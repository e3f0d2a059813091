//! Interop (issue 13): soketi's SQS webhook queue, end to end, with the real parts.
//!
//! The real soketi 1.6.1 runs in `server` mode with `queue.driver: "sqs"` pointed at a FIFO
//! queue of a local moto server (content-based deduplication off, a dead-letter queue after 2
//! receives, a visibility timeout of 1 s). `tests/interop/driver.mjs` drives it with
//! Pusher-protocol clients. soketi only enqueues: every job is still in the queue and no
//! webhook was called. Then the delivery function runs under `cargo lambda watch`, fed the SQS
//! batch events Lambda's event source mapping would build from the received messages (the
//! messages it does not name in `batchItemFailures` are deleted, the others come back after the
//! visibility timeout), and delivers to the example function through a recording proxy that can
//! make the target fail:
//!
//! 1. the target fails for the first batch, then recovers: the failed jobs come back and are
//!    delivered; every event the clients caused reaches the example function verified, exactly
//!    the events each of the two webhooks asked for (one wants every type, the other presence
//!    members only), none twice;
//! 2. the target then fails for good and the clients act again: every one of those jobs lands
//!    in the dead-letter queue, intact (it verifies, it holds exactly the events caused).
//!
//! The delivery function coalesces a message group's jobs (its default), and a forged job put
//! in a busy group beside soketi's is moved to the dead-letter queue by the function itself at
//! its first receive (its body unchanged, the reason in message attributes), not after the
//! redrive's receives, while the rest of its group is delivered. None is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use soketi_e2e_tests::driver::{Ev, expected_events, payload_events, sorted};
use soketi_e2e_tests::lambda::{Invocation, summary_events};
use soketi_e2e_tests::moto::{Message, Moto, sqs_event};
use soketi_e2e_tests::process::poll_until;
use soketi_e2e_tests::proxy::{Record, RecordingProxy};
use soketi_e2e_tests::soketi::{self, Soketi, run_node_script};
use soketi_e2e_tests::tools::run_dir;
use soketi_e2e_tests::watch::Watch;
use soketi_handler_kit::wire::{Envelope, QueueJob};
use soketi_handler_kit::{Keyring, Verifier};

const EVERYTHING: &str = "example-function";
const MEMBERS: &str = "example-function-members";

/// The two webhooks of the app (for soketi, they only say which event types to enqueue).
fn webhooks(endpoint: &str) -> Vec<Value> {
    let mut members = soketi::lambda_webhook(MEMBERS, endpoint, true);
    members["event_types"] = json!(["member_added", "member_removed"]);
    members["filter"] = json!({"channel_name_starts_with": "presence-"});
    vec![soketi::lambda_webhook(EVERYTHING, endpoint, false), members]
}

/// Runs the driver with `prefix`; the events it says soketi must send.
fn drive(soketi: &Soketi, prefix: &str) -> Vec<Ev> {
    let out = run_dir().join(format!("{prefix}-expected.json"));
    let args = json!({"port": soketi.port, "key": soketi::APP_KEY,
                      "secret": soketi::APP_SECRET, "prefix": prefix});
    run_node_script(
        &format!("{prefix}-driver"),
        "driver.mjs",
        &[args.to_string(), out.display().to_string()],
        Duration::from_secs(120),
    );
    let expected = expected_events(&out);
    assert!(expected.len() >= 20, "the driver expects too little");
    expected
}

/// One batch as Lambda's event source mapping would run it: receive, invoke the delivery
/// function, delete what it did not name as failed. Returns (received, failed) message ids.
fn pump(moto: &Moto, queue: &str, delivery: &Watch) -> Option<(Vec<Message>, Vec<String>)> {
    let messages = moto.receive(queue, 10, 1);
    if messages.is_empty() {
        return None;
    }
    let event = sqs_event(&messages, &moto.queue_arn(queue));
    let answer = delivery.invoke_direct("RequestResponse", event.to_string().as_bytes());
    assert!(
        answer.status == 200 && answer.function_error.is_none(),
        "the delivery function failed: {answer:?}\n{}",
        delivery.log_tail(30)
    );
    let failed: Vec<String> = answer.json().expect("a batch response")["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures")
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .expect("itemIdentifier")
                .to_owned()
        })
        .collect();
    for message in &messages {
        assert!(
            !message.id.is_empty(),
            "a message without an id: {message:?}"
        );
        if !failed.contains(&message.id) {
            moto.delete(queue, &message.receipt_handle);
        }
    }
    Some((messages, failed))
}

/// Whether the proxy forwarded this invocation and the function accepted it.
fn delivered(record: &Record) -> bool {
    record.outcome.function_error.is_none() && record.outcome.status < 300
}

fn events_of(record: &Record) -> Vec<Ev> {
    let envelope = Envelope::parse(&record.body).expect("an envelope");
    payload_events(envelope.payload_json())
}

fn queue_total(moto: &Moto, queue: &str) -> u64 {
    let (visible, in_flight) = moto.count(queue);
    visible + in_flight
}

#[test]
fn soketi_jobs_on_sqs_are_all_delivered_or_dead_lettered_never_lost() {
    let moto = Moto::start("moto-sqs");
    let dlq = moto.create_fifo_queue("soketi-webhooks-dlq.fifo", json!({}));
    let queue = moto.create_fifo_queue(
        "soketi-webhooks.fifo",
        json!({
            "VisibilityTimeout": "1",
            "RedrivePolicy": json!({"deadLetterTargetArn": moto.queue_arn(&dlq),
                                    "maxReceiveCount": 2}).to_string(),
        }),
    );

    // The target: the example function, behind a proxy that fails while `failing` is set.
    let example = Watch::shared();
    let failing = Arc::new(AtomicBool::new(false));
    let proxy = {
        let failing = Arc::clone(&failing);
        RecordingProxy::start(move |invocation_type, body| {
            if failing.load(Ordering::SeqCst) {
                Invocation {
                    status: 200,
                    function_error: Some("TargetDown".into()),
                    body: r#"{"errorType":"TargetDown","errorMessage":"the test made the target fail"}"#.into(),
                }
            } else {
                example.invoke(invocation_type, body)
            }
        })
    };
    let hooks = webhooks(&proxy.endpoint_url());

    // soketi in server mode, its queue on moto.
    let soketi = Soketi::start_with(
        "soketi-sqs",
        hooks.clone(),
        false,
        json!({
            "mode": "server",
            "queue.driver": "sqs",
            "queue.sqs.queueUrl": queue,
            "queue.sqs.endpoint": moto.endpoint_url(),
            "queue.sqs.region": "us-east-1",
            "queue.sqs.clientOptions": {"credentials":
                {"accessKeyId": "AKIDSOKETITEST", "secretAccessKey": "soketi-test-secret"}},
        }),
    );

    // The delivery function, knowing the same app and webhooks.
    let apps = json!([{"id": soketi::APP_ID, "key": soketi::APP_KEY,
                       "secret": soketi::APP_SECRET, "webhooks": hooks}])
    .to_string();
    let delivery = Watch::start_function(
        "watch-delivery",
        "delivery-function",
        &[
            ("SOKETI_APPS_JSON", &apps),
            ("DELIVERY_MAX_ATTEMPTS", "2"),
            ("DELIVERY_MAX_ELAPSED_SECONDS", "5"),
            ("DELIVERY_COALESCE", "true"),
            ("SOKETI_DEAD_LETTER_QUEUE_URL", &dlq),
            // The dead-letter queue's client only: the webhooks name their own endpoint.
            ("AWS_ENDPOINT_URL_SQS", &moto.endpoint_url()),
            ("AWS_ACCESS_KEY_ID", soketi_e2e_tests::moto::ACCESS_KEY_ID),
            (
                "AWS_SECRET_ACCESS_KEY",
                soketi_e2e_tests::moto::SECRET_ACCESS_KEY,
            ),
            ("AWS_REGION", soketi_e2e_tests::moto::REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );

    // soketi enqueues one job per event (batching off) and consumes none of them.
    let expected = drive(&soketi, "sqs-1");
    poll_until(
        "soketi's jobs to be in the queue",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (queue_total(&moto, &queue) == expected.len() as u64).then_some(()),
        || format!("{:?}\n{}", moto.count(&queue), soketi.log_tail(30)),
    );
    assert!(
        proxy.records().is_empty(),
        "soketi in server mode called a webhook itself: {:?}",
        proxy.records()
    );
    // A forged job (signed with a guessed secret) in the busy group of soketi's
    // channel_occupied jobs (receiving one to learn its group would spend one of its receives).
    let group = format!("{}_channel_occupied_webhooks", soketi::APP_ID);
    let forged = soketi_handler_kit::wire::write_job(
        soketi::APP_KEY,
        soketi::APP_ID,
        r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"forged"}]}"#,
        &soketi_handler_kit::wire::Secret::new("a guessed secret"),
    );
    let forged_id = moto.sqs(
        "SendMessage",
        json!({"QueueUrl": queue, "MessageBody": forged, "MessageGroupId": group,
               "MessageDeduplicationId": "forged-job"}),
    )["MessageId"]
        .as_str()
        .expect("a message id")
        .to_owned();

    // 1. The target fails for the first batch: nothing of it is deleted.
    failing.store(true, Ordering::SeqCst);
    let (first, failed) = poll_until(
        "a first batch",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || pump(&moto, &queue, &delivery),
        || delivery.log_tail(30),
    );
    let mut ids: Vec<String> = first
        .iter()
        .filter(|m| m.id != forged_id)
        .map(|m| m.id.clone())
        .collect();
    ids.sort();
    assert!(!failed.contains(&forged_id), "the forged job was returned");
    let mut failed_sorted = failed.clone();
    failed_sorted.sort();
    assert_eq!(
        failed_sorted, ids,
        "every job of the failed batch must come back"
    );
    assert!(proxy.records().iter().all(|r| !delivered(r)));
    // It recovers: every job comes back and is delivered.
    failing.store(false, Ordering::SeqCst);
    let mut received_twice = 0;
    poll_until(
        "every job to be delivered",
        Duration::from_secs(120),
        Duration::from_millis(10),
        || {
            if let Some((messages, failed)) = pump(&moto, &queue, &delivery) {
                assert!(failed.is_empty(), "failed after recovery: {failed:?}");
                received_twice += messages
                    .iter()
                    .filter(|m| first.iter().any(|f| f.id == m.id))
                    .count();
                assert!(
                    messages
                        .iter()
                        .all(|m| m.id != forged_id || !failed.contains(&m.id)),
                    "the forged job was returned to the queue"
                );
            }
            (queue_total(&moto, &queue) == 0).then_some(())
        },
        || format!("{:?}\n{}", moto.count(&queue), delivery.log_tail(30)),
    );
    let forged_first = first.iter().any(|m| m.id == forged_id);
    assert_eq!(
        received_twice,
        first.len() - usize::from(forged_first),
        "the failed jobs came back"
    );
    // The forged job alone is in the dead-letter queue, moved at its first receive.
    assert_eq!(moto.count(&dlq), (1, 0), "the forged job, and nothing else");
    let answer = moto.sqs(
        "ReceiveMessage",
        json!({"QueueUrl": dlq, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"],
               "MessageSystemAttributeNames": ["All"]}),
    );
    let dead = &answer["Messages"][0];
    assert_eq!(dead["Body"], forged, "its body unchanged");
    assert_eq!(dead["Attributes"]["MessageGroupId"], group.as_str());
    assert_eq!(
        dead["MessageAttributes"]["SoketiRejection"]["StringValue"],
        "SignatureMismatch"
    );
    assert_eq!(
        dead["MessageAttributes"]["SoketiMessageId"]["StringValue"],
        forged_id.as_str()
    );
    moto.delete(&dlq, dead["ReceiptHandle"].as_str().expect("a receipt"));

    let records = proxy.records();
    for record in records.iter().filter(|r| delivered(r)) {
        let names: Vec<String> = events_of(record).into_iter().map(|e| e.name).collect();
        let summary = record.outcome.summary();
        assert_eq!(summary_events(&summary), names, "{summary}");
        assert_eq!(summary["app_key"], soketi::APP_KEY);
    }
    let received = |function: &str| -> Vec<Ev> {
        records
            .iter()
            .filter(|r| delivered(r) && r.function() == function)
            .flat_map(events_of)
            .collect()
    };
    assert_eq!(sorted(&received(EVERYTHING)), sorted(&expected));
    let members: Vec<Ev> = expected
        .iter()
        .filter(|e| e.name.starts_with("member_") && e.channel.starts_with("presence-"))
        .cloned()
        .collect();
    assert!(!members.is_empty());
    assert_eq!(sorted(&received(MEMBERS)), sorted(&members));

    // 2. The target fails for good: the next jobs all land in the dead-letter queue.
    failing.store(true, Ordering::SeqCst);
    let expected_dead = drive(&soketi, "sqs-2");
    poll_until(
        "the second run's jobs to be in the queue",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (queue_total(&moto, &queue) == expected_dead.len() as u64).then_some(()),
        || format!("{:?}\n{}", moto.count(&queue), soketi.log_tail(30)),
    );
    poll_until(
        "every job to be dead-lettered",
        Duration::from_secs(120),
        Duration::from_millis(10),
        || {
            pump(&moto, &queue, &delivery);
            (queue_total(&moto, &queue) == 0).then_some(())
        },
        || {
            format!(
                "{:?} {:?}\n{}",
                moto.count(&queue),
                moto.count(&dlq),
                delivery.log_tail(30)
            )
        },
    );
    let mut dead = Vec::new();
    while let Some(messages) = Some(moto.receive(&dlq, 10, 0)).filter(|m| !m.is_empty()) {
        for message in messages {
            let job = QueueJob::parse(&message.body).expect("a dead-lettered job reads");
            let verified = Verifier::new(Keyring::new().app(job.app_key(), soketi::APP_SECRET))
                .verify_parts(
                    job.payload_json().as_bytes(),
                    Some(job.app_key()),
                    Some(&job.signature().to_string()),
                )
                .expect("a dead-lettered job verifies");
            dead.extend(payload_events(verified.payload().as_json()));
            moto.delete(&dlq, &message.receipt_handle);
        }
    }
    assert_eq!(
        sorted(&dead),
        sorted(&expected_dead),
        "the dead-letter queue holds every job"
    );
    let late = proxy
        .records()
        .into_iter()
        .filter(|r| delivered(r) && events_of(r).iter().any(|e| e.channel.contains("sqs-2")))
        .count();
    assert_eq!(
        late, 0,
        "nothing of the second run reached the failing target"
    );
    drop(soketi);
}
