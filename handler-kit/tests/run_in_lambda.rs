//! `run` itself, against a Runtime API on loopback: this test binary starts itself again as
//! the function (the Lambda runtime reads its configuration from the environment, which a
//! test must not change in its own process) and serves it one invocation of each transport —
//! a soketi envelope, a Function URL, API Gateway HTTP (v2) and REST (v1) events, ALB events
//! with and without multi-value headers — each with its own deadline. The callbacks must see
//! each invocation's deadline, request id and ARN; a forged envelope must come back as a
//! function error and a forged HTTP request as a 401, each logged once.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::shapes::{SHAPES, event};
use serde_json::Value;
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{Event, write_lambda_body};
use soketi_handler_kit::{Context, Keyring, Verifier, Webhooks};

const KEY: &str = "app1key";
const SECRET: &str = "app1secret";
const ARN: &str = "arn:aws:lambda:eu-central-1:123456789012:function:kit-run:live";
/// Set in the environment of the process that plays the function.
const CHILD: &str = "KIT_RUN_IN_LAMBDA_RECORD";

/// The function: records what each callback sees, one JSON line per event, in the file named
/// by `KIT_RUN_IN_LAMBDA_RECORD`. Does nothing unless started by the test below.
#[test]
fn function_under_test() {
    let Ok(record) = std::env::var(CHILD) else {
        return;
    };
    let keyring = Keyring::new().app(KEY, SECRET).app("app2key", "app2secret");
    let webhooks = Webhooks::new(Verifier::new(keyring)).on_any(move |_ev: Event, cx: Context| {
        let record = record.clone();
        async move {
            let deadline = cx.deadline().map(|d| {
                d.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0)
            });
            let line = serde_json::json!({
                "request_id": cx.request_id(),
                "deadline_ms": deadline,
                "arn": cx.invoked_function_arn(),
            });
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&record)?;
            writeln!(file, "{line}")?;
            Ok(())
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(soketi_handler_kit::run(webhooks));
    panic!("run returned: {outcome:?}");
}

/// What the function answered one invocation with.
#[derive(Debug)]
enum Answer {
    Response(Value),
    Error(Value),
}

/// Stops the function process when the test ends, however it ends.
struct Function(Option<Child>);

impl Function {
    /// Stops it; what it wrote on standard output and error.
    fn stop(mut self) -> String {
        let Some(mut child) = self.0.take() else {
            return String::new();
        };
        let _ = child.kill();
        let output = child.wait_with_output().expect("the function's output");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Runtime API serving `invocations` (request id, deadline, body) in order, then holding
/// the next poll; sends each answer back on the channel.
fn runtime_api(
    invocations: Vec<(String, u64, Vec<u8>)>,
) -> (String, mpsc::Receiver<(String, Answer)>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a loopback port");
    let address = server.server_addr().to_string();
    let (answers, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut queue = invocations.into_iter();
        let mut held = Vec::new();
        for mut request in server.incoming_requests() {
            let url = request.url().to_owned();
            if url == "/2018-06-01/runtime/invocation/next" {
                let Some((id, deadline, body)) = queue.next() else {
                    // No more invocations: the function waits here until it is stopped.
                    held.push(request);
                    continue;
                };
                let header = |name: &str, value: &str| {
                    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                        .expect("a header")
                };
                let response = tiny_http::Response::from_data(body)
                    .with_header(header("Content-Type", "application/json"))
                    .with_header(header("Lambda-Runtime-Aws-Request-Id", &id))
                    .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()))
                    .with_header(header("Lambda-Runtime-Invoked-Function-Arn", ARN));
                let _ = request.respond(response);
                continue;
            }
            let mut text = String::new();
            let _ = request.as_reader().read_to_string(&mut text);
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            let parts: Vec<&str> = url.trim_start_matches('/').split('/').collect();
            let answer = match parts.as_slice() {
                [_, "runtime", "invocation", id, "response"] => {
                    Some(((*id).to_owned(), Answer::Response(value)))
                }
                [_, "runtime", "invocation", id, "error"] => {
                    Some(((*id).to_owned(), Answer::Error(value)))
                }
                _ => Some((url.clone(), Answer::Error(value))),
            };
            let _ = request.respond(tiny_http::Response::empty(202));
            if let Some(answer) = answer
                && answers.send(answer).is_err()
            {
                break;
            }
        }
    });
    (address, received)
}

#[test]
fn run_gives_callbacks_the_lambda_context_on_every_transport() {
    let request = common::manifest()
        .files
        .into_iter()
        .find(|v| v.file == "041.json")
        .expect("041.json");
    let body = request.bytes();
    let headers = request.http_headers.clone();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let mut invocations = vec![(
        "envelope".to_owned(),
        write_lambda_body(std::str::from_utf8(&body).expect("text"), &headers).into_bytes(),
    )];
    for shape in SHAPES {
        invocations.push((
            format!("{shape:?}"),
            event(shape, "POST", &headers, &body, false),
        ));
    }
    let forged = SignedEnvelope::new(KEY, "guessed").event(Event::channel_occupied("c"));
    invocations.push(("forged-envelope".to_owned(), forged.to_bytes()));
    invocations.push(("forged-http".to_owned(), forged.to_function_url_event()));
    let deadlines: HashMap<String, u64> = invocations
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.clone(), now_ms + 60_000 + i as u64))
        .collect();
    let served: Vec<(String, u64, Vec<u8>)> = invocations
        .iter()
        .map(|(id, body)| (id.clone(), deadlines[id], body.clone()))
        .collect();
    let (address, answers) = runtime_api(served);

    let dir = std::env::temp_dir().join(format!("kit-run-in-lambda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let record = dir.join("seen.jsonl");
    let _ = std::fs::remove_file(&record);
    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "function_under_test",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &record)
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "kit-run")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the function starts");
    let function = Function(Some(child));

    let mut answered = HashMap::new();
    let until = Instant::now() + Duration::from_secs(60);
    while answered.len() < invocations.len() {
        let left = until.saturating_duration_since(Instant::now());
        match answers.recv_timeout(left) {
            Ok((id, answer)) => {
                answered.insert(id, answer);
            }
            Err(_) => panic!("the function answered {answered:?} only"),
        }
    }
    let logs = function.stop();

    // Each good invocation answered, as its transport expects.
    for (id, _) in &invocations[..invocations.len() - 2] {
        match &answered[id] {
            Answer::Response(value) if id == "envelope" => {
                assert_eq!(
                    value["events"],
                    serde_json::json!(["channel_occupied"]),
                    "{id}"
                );
            }
            Answer::Response(value) => assert_eq!(value["statusCode"], 200, "{id}: {value}"),
            other => panic!("{id}: {other:?}"),
        }
    }
    match &answered["forged-envelope"] {
        Answer::Error(value) => assert_eq!(value["errorType"], "InvalidSignature", "{value}"),
        other => panic!("a forged envelope is a function error: {other:?}"),
    }
    match &answered["forged-http"] {
        Answer::Response(value) => assert_eq!(value["statusCode"], 401, "{value}"),
        other => panic!("a forged HTTP request is answered 401: {other:?}"),
    }

    // Each callback saw its own invocation's deadline, request id and ARN.
    let seen = std::fs::read_to_string(&record).expect("the callbacks recorded");
    let seen: Vec<Value> = seen
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(seen.len(), invocations.len() - 2, "{seen:?}");
    for line in &seen {
        let id = line["request_id"].as_str().expect("a request id");
        assert_eq!(line["deadline_ms"], deadlines[id], "{id}");
        assert_eq!(line["arn"], ARN, "{id}");
    }

    // Each rejection is logged once.
    let lines_of = |id: &str| {
        let span = format!("requestId=\"{id}\"");
        logs.lines()
            .filter(|l| l.contains(&span))
            .collect::<Vec<_>>()
    };
    let envelope = lines_of("forged-envelope");
    assert_eq!(envelope.len(), 1, "the forged envelope: {logs}");
    assert!(
        envelope[0].contains("webhook rejected (InvalidSignature): X-Pusher-Signature"),
        "lambda_runtime's line says what the error says: {logs}"
    );
    let http = lines_of("forged-http");
    assert_eq!(http.len(), 1, "the forged HTTP request: {logs}");
    assert!(http[0].contains("webhook request rejected"), "{logs}");
    for id in deadlines.keys().filter(|id| !id.starts_with("forged")) {
        assert!(
            lines_of(id).is_empty(),
            "nothing logged for {id} at INFO: {logs}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
