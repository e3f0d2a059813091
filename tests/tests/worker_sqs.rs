//! The SQS worker (`soketi_lambda_sender::worker`, what `soketi-lambda worker` runs) against a
//! moto SQS FIFO queue holding the jobs the real soketi 1.6.1 wrote (the kit's
//! `tests/vectors/sqs-jobs/`), delivering to a loopback HTTP webhook: every job delivered once
//! and deleted; a job slower than the visibility timeout is not delivered twice (its
//! visibility is extended); a job whose webhook keeps failing is left in the queue at shutdown,
//! to be delivered later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use soketi_e2e_tests::moto::Moto;
use soketi_e2e_tests::process::poll_until;
use soketi_handler_kit::wire::{Event, Headers, QueueJob, Secret, write_job};
use soketi_handler_kit::{Keyring, Verifier};
use soketi_lambda_sender::Sender;
use soketi_lambda_sender::config::parse_apps_file;
use soketi_lambda_sender::deliver::RetryPolicy;
use soketi_lambda_sender::worker::{Worker, WorkerConfig};

/// A webhook target on loopback: records each verified request's events; answers 404 to
/// payloads mentioning `fail-me`, and 200 after 3 s to those mentioning `slow-one`.
struct Target {
    url: String,
    events: Arc<Mutex<Vec<Event>>>,
    server: Arc<tiny_http::Server>,
}

impl Target {
    fn start() -> Target {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}/hook", server.server_addr().to_ip().expect("ip"));
        let events = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..4 {
            let server = Arc::clone(&server);
            let events = Arc::clone(&events);
            std::thread::spawn(move || {
                let verifier = Verifier::new(Keyring::new().app("app1key", "app1secret"));
                while let Ok(mut request) = server.recv() {
                    let mut body = Vec::new();
                    let _ = request.as_reader().read_to_end(&mut body);
                    let pairs: Vec<(String, String)> = request
                        .headers()
                        .iter()
                        .map(|h| (h.field.to_string(), h.value.to_string()))
                        .collect();
                    let headers =
                        Headers::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                    let text = String::from_utf8_lossy(&body).into_owned();
                    let status = if text.contains("fail-me") {
                        404
                    } else {
                        if text.contains("slow-one") {
                            std::thread::sleep(Duration::from_secs(3));
                        }
                        let verified = verifier.verify_http(&body, &headers).unwrap_or_else(|e| {
                            panic!("the worker sent an unverifiable webhook: {e}")
                        });
                        let decoded: Vec<Event> = verified
                            .payload()
                            .events()
                            .collect::<Result<_, _>>()
                            .expect("events");
                        events.lock().unwrap().extend(decoded);
                        200
                    };
                    let _ = request
                        .respond(tiny_http::Response::from_string("{}").with_status_code(status));
                }
            });
        }
        Target {
            url,
            events,
            server,
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn recorded() -> Vec<(String, String, String)> {
    let dir = soketi_e2e_tests::tools::repo_root().join("handler-kit/tests/vectors/sqs-jobs");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let file = f["file"].as_str().unwrap();
            (
                std::fs::read_to_string(dir.join(file)).unwrap(),
                f["message_group_id"].as_str().unwrap().to_owned(),
                f["message_deduplication_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn job(channel: &str) -> String {
    let payload = format!(
        r#"{{"time_ms":1,"events":[{{"name":"channel_occupied","channel":"{channel}"}}]}}"#
    );
    write_job("app1key", "app1", &payload, &Secret::new("app1secret"))
}

#[test]
fn the_worker_delivers_every_job_once_and_leaves_the_failing_one_in_the_queue() {
    let moto = Moto::start("moto-worker");
    let queue = moto.create_fifo_queue("worker.fifo", json!({}));
    let mut bodies = Vec::new();
    for (body, group, dedup) in recorded() {
        moto.sqs(
            "SendMessage",
            json!({"QueueUrl": queue, "MessageBody": body,
                                        "MessageGroupId": group, "MessageDeduplicationId": dedup}),
        );
        bodies.push(body);
    }
    for (channel, group) in [("slow-one", "app1_slow"), ("fail-me", "app1_failing")] {
        let body = job(channel);
        moto.sqs("SendMessage", json!({"QueueUrl": queue, "MessageBody": body,
                                        "MessageGroupId": group, "MessageDeduplicationId": channel}));
    }
    let target = Target::start();
    let apps = parse_apps_file(
        &json!([{"id": "app1", "key": "app1key", "secret": "app1secret",
                 "webhooks": [{"url": target.url, "event_types": ["channel_occupied",
                   "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"]}]}])
        .to_string(),
    )
    .unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let endpoint = moto.endpoint_url();
    let queue_url = queue.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = runtime.block_on(async move {
        let sender = Sender::builder()
            .apps(apps)
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(1)
                    .max_elapsed(Duration::from_secs(10)),
            )
            .build()
            .await
            .unwrap();
        let sdk = soketi_handler_kit::aws::config_loader()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await;
        Worker::new(
            sender,
            aws_sdk_sqs::Client::new(&sdk),
            WorkerConfig::new(queue_url)
                .concurrency(3)
                .wait_seconds(1)
                .visibility_timeout(Duration::from_secs(2)),
        )
    });
    let running = {
        let worker = worker.clone();
        runtime.spawn(async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await
        })
    };

    // Everything but the failing job gets delivered and deleted.
    let verifier = Verifier::new(Keyring::new().app("app1key", "app1secret"));
    let mut want: Vec<Event> = bodies
        .iter()
        .flat_map(|b| {
            let job = QueueJob::parse(b).unwrap();
            let signature = job.signature().to_string();
            verifier
                .verify_parts(
                    job.payload_json().as_bytes(),
                    Some(job.app_key()),
                    Some(&signature),
                )
                .unwrap()
                .payload()
                .events()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        })
        .collect();
    want.push(Event::channel_occupied("slow-one"));
    poll_until(
        "the worker to deliver every job but one",
        Duration::from_secs(90),
        Duration::from_millis(100),
        || {
            let progress = worker.progress();
            let (visible, in_flight) = moto.count(&queue);
            (progress.jobs.delivered == bodies.len() + 1 && visible + in_flight == 1).then_some(())
        },
        || format!("{:?} {:?}", worker.progress(), moto.count(&queue)),
    );
    let _ = stop.send(());
    let done = runtime
        .block_on(running)
        .expect("the worker task")
        .expect("the worker stops cleanly");
    assert_eq!(done.in_flight, 0);
    assert!(done.jobs.failed >= 1, "{done:?}");
    assert_eq!(done.jobs.rejected, 0);

    // Each event reached the webhook once, verified: the slow job (3 s, visibility 2 s) too.
    let mut got = target.events.lock().unwrap().clone();
    let key = |e: &Event| e.to_json();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
    // The failing job is still in the queue, to be delivered by the next consumer.
    let (visible, in_flight) = moto.count(&queue);
    assert_eq!(visible + in_flight, 1);
}
