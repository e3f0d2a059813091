//! The example function's Function URL as `cargo lambda watch` serves it
//! (`http://127.0.0.1:<port>/lambda-url/<function>/…`: a POST there reaches the function as a
//! Function URL event), a plain client for it, and a recording HTTP proxy in front of it (what
//! soketi's `url` webhook is pointed at).

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::lambda::{FUNCTION_NAME, agent};
use crate::process::poll_until;
use crate::watch::Watch;

/// The Function URL of the example function under `watch`, with `path` appended.
pub fn url(watch: &Watch, path: &str) -> String {
    format!(
        "{}/lambda-url/{FUNCTION_NAME}/{}",
        watch.endpoint_url(),
        path.trim_start_matches('/')
    )
}

/// What an HTTP request got back.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON; panics with the answer when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {self:?}"))
    }

    /// The summary of a 200; panics with the answer otherwise.
    pub fn summary(&self) -> Value {
        assert_eq!(self.status, 200, "expected a verified webhook: {self:?}");
        self.json()
    }

    /// The `errorType` of an error body.
    pub fn error_type(&self) -> String {
        self.json()["errorType"]
            .as_str()
            .unwrap_or_else(|| panic!("no errorType in {self:?}"))
            .to_string()
    }
}

/// Sends `method url` with `headers` and `body`.
pub fn request(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let agent = agent(Duration::from_secs(120));
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder.body(body.to_vec()).expect("a valid request");
    let mut response = agent
        .run(request)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Answer { status, body }
}

/// One request that went through the [`HttpProxy`].
#[derive(Debug, Clone)]
pub struct HttpRecord {
    pub method: String,
    /// Header names and values as received, in order.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as received.
    pub body: Vec<u8>,
    /// What the function answered.
    pub answer: Answer,
}

impl HttpRecord {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A recording HTTP proxy on 127.0.0.1 forwarding every request byte for byte (method, headers,
/// body) to `target`, and answering the caller with the target's status and body.
pub struct HttpProxy {
    server: Arc<tiny_http::Server>,
    records: Arc<Mutex<Vec<HttpRecord>>>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl HttpProxy {
    pub fn start(target: String) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind proxy"));
        let port = server
            .server_addr()
            .to_ip()
            .expect("proxy listens on TCP")
            .port();
        let records = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let records = Arc::clone(&records);
            std::thread::Builder::new()
                .name("http-proxy".into())
                .spawn(move || {
                    while let Ok(request) = server.recv() {
                        forward(request, &target, &records);
                    }
                })
                .expect("spawn proxy thread")
        };
        HttpProxy {
            server,
            records,
            port,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>/webhooks`, for a `url` webhook.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks", self.port)
    }

    pub fn records(&self) -> Vec<HttpRecord> {
        self.records.lock().unwrap().clone()
    }

    /// Polls until `done(records)` holds; panics after `timeout` with `context()`.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[HttpRecord]) -> bool,
        context: impl Fn(&[HttpRecord]) -> String,
    ) {
        poll_until(
            what,
            timeout,
            Duration::from_millis(50),
            || done(&self.records()).then_some(()),
            || context(&self.records()),
        )
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Hop-by-hop and length headers the client recomputes.
const NOT_FORWARDED: [&str; 5] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "expect",
];

fn forward(mut request: tiny_http::Request, target: &str, records: &Mutex<Vec<HttpRecord>>) {
    let method = request.method().as_str().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
        .collect();
    let mut body = Vec::new();
    if let Err(e) = request.as_reader().read_to_end(&mut body) {
        let _ =
            request.respond(tiny_http::Response::from_string(e.to_string()).with_status_code(400));
        return;
    }
    let forwarded: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| !NOT_FORWARDED.contains(&n.to_ascii_lowercase().as_str()))
        .cloned()
        .collect();
    let answer = self::request(&method, target, &forwarded, &body);
    records.lock().unwrap().push(HttpRecord {
        method,
        headers,
        body,
        answer: answer.clone(),
    });
    let content_type =
        tiny_http::Header::from_bytes("Content-Type", "application/json").expect("valid header");
    let _ = request.respond(
        tiny_http::Response::from_string(answer.body)
            .with_status_code(answer.status)
            .with_header(content_type),
    );
}
