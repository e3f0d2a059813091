//! A recording Invoke API proxy on 127.0.0.1: what soketi's AWS SDK is pointed at. It forwards
//! every invocation byte for byte to the function (cargo lambda watch), records the request and
//! the function's answer, and answers the caller the way real Lambda does (function errors as
//! `200` + `X-Amz-Function-Error`, `Event` invocations as `202` with an empty body), so that the
//! caller's SDK behaves as in production (no retries of function errors).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::lambda::Invocation;
use crate::process::poll_until;

/// One invocation that went through the proxy.
#[derive(Debug, Clone)]
pub struct Record {
    /// The request path, e.g. `/2015-03-31/functions/my-function/invocations`.
    pub path: String,
    /// `X-Amz-Invocation-Type` as sent (`RequestResponse` when absent, as in Lambda).
    pub invocation_type: String,
    /// The invocation body, exactly as received.
    pub body: Vec<u8>,
    /// What the function answered.
    pub outcome: Invocation,
}

impl Record {
    /// The function name from the path.
    pub fn function(&self) -> &str {
        self.path
            .split('/')
            .nth(3)
            .unwrap_or_else(|| panic!("unexpected invoke path {}", self.path))
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

type Forward = dyn Fn(&str, &[u8]) -> Invocation + Send + Sync;

/// The running proxy; stops its thread on drop.
pub struct RecordingProxy {
    server: Arc<tiny_http::Server>,
    records: Arc<Mutex<Vec<Record>>>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl RecordingProxy {
    /// Starts on a free port; `forward(invocation_type, body)` performs the real invocation.
    pub fn start(forward: impl Fn(&str, &[u8]) -> Invocation + Send + Sync + 'static) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind proxy"));
        let port = server
            .server_addr()
            .to_ip()
            .expect("proxy listens on TCP")
            .port();
        let records = Arc::new(Mutex::new(Vec::new()));
        let forward: Arc<Forward> = Arc::new(forward);
        let thread = {
            let server = Arc::clone(&server);
            let records = Arc::clone(&records);
            std::thread::Builder::new()
                .name("recording-proxy".into())
                .spawn(move || {
                    // `recv` fails once `unblock` is called on drop.
                    while let Ok(request) = server.recv() {
                        handle(request, &*forward, &records);
                    }
                })
                .expect("spawn proxy thread")
        };
        RecordingProxy {
            server,
            records,
            port,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, for `lambda.client_options.endpoint`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A snapshot of the records so far, in arrival order.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().unwrap().clone()
    }

    /// Polls until `done(records)` holds; panics after `timeout` with `context()`.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[Record]) -> bool,
        context: impl Fn(&[Record]) -> String,
    ) -> Vec<Record> {
        poll_until(
            what,
            timeout,
            Duration::from_millis(50),
            || {
                let records = self.records();
                done(&records).then_some(records)
            },
            || context(&self.records()),
        )
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(mut request: tiny_http::Request, forward: &Forward, records: &Mutex<Vec<Record>>) {
    let path = request.url().to_string();
    let invocation_type = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("X-Amz-Invocation-Type"))
        .map(|h| h.value.as_str().to_string())
        .unwrap_or_else(|| "RequestResponse".into());
    let mut body = Vec::new();
    if let Err(e) = request.as_reader().read_to_end(&mut body) {
        let _ =
            request.respond(tiny_http::Response::from_string(e.to_string()).with_status_code(400));
        return;
    }
    let outcome = forward(&invocation_type, &body);
    let (status, reply_body, function_error) =
        match (&outcome.function_error, invocation_type.as_str()) {
            (Some(_), _) => (200, outcome.body.clone(), Some("Unhandled")),
            (None, "Event") if outcome.status < 300 => (202, String::new(), None),
            (None, _) => (outcome.status, outcome.body.clone(), None),
        };
    records.lock().unwrap().push(Record {
        path,
        invocation_type,
        body,
        outcome,
    });
    let mut response = tiny_http::Response::from_string(reply_body)
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("X-Amz-Executed-Version", "$LATEST"));
    if let Some(kind) = function_error {
        response = response.with_header(header("X-Amz-Function-Error", kind));
    }
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}
