//! A loopback server speaking enough of the Lambda Invoke API (and plain HTTP) to test the
//! sender: it records every request and answers each as a script says, faults included.

#![allow(dead_code)] // each test file uses part of it

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The recorded soketi 1.6.1 requests: the workspace's one loader, shared with the
/// end-to-end tests.
#[path = "../../../tests/src/vectors.rs"]
pub mod vectors;

/// The folder of the recorded soketi 1.6.1 requests.
pub fn vectors_dir() -> PathBuf {
    vectors::dir()
}

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the server answered.
    pub reply: Reply,
    /// When the request was read whole.
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn invocation_type(&self) -> Option<&str> {
        self.header("x-amz-invocation-type")
    }

    /// The function name from `/2015-03-31/functions/<name>/invocations`.
    pub fn function(&self) -> Option<&str> {
        self.path
            .strip_prefix("/2015-03-31/functions/")?
            .strip_suffix("/invocations")
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
}

/// How to answer one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Success: Lambda's 200 (RequestResponse) or 202 (Event), or 200 for plain HTTP.
    Ok,
    /// cargo-lambda's answer to an Event invocation: 200 with the output.
    OkEmulator200,
    /// 429 TooManyRequestsException.
    Throttle,
    /// 500 ServiceException (with x-amzn-ErrorType, as real Lambda).
    ServerError,
    /// 200 with X-Amz-Function-Error: Unhandled (real Lambda's function error).
    FunctionError,
    /// 500 with a bare Lambda error object and no x-amzn-ErrorType (cargo-lambda's emulator).
    EmulatorFunctionError,
    /// 404 ResourceNotFoundException.
    NotFound,
    /// Read the request, then never answer (until the client gives up).
    Stall,
    /// Read the request, then close the connection without answering.
    Drop,
    /// Read the request, answer nothing for this long, then close the connection.
    StallFor(Duration),
    /// Wait until the gate is opened, then answer Ok.
    Gated,
    /// 429 TooManyRequestsException with `Retry-After: <seconds>`.
    ThrottleRetryAfter(u64),
    /// 413 RequestTooLargeException (for plain HTTP, a 413).
    TooLarge,
    /// Success with a response body of this many bytes.
    BigOk(usize),
    /// Read the request, then reset the connection (RST, not a clean close).
    Reset,
    /// The function ran (the request counts as accepted), but the answer comes only after
    /// this long: past the client's timeout, it retries and the function sees it twice.
    LateOk(Duration),
}

impl Reply {
    /// Whether the receiving side processed the request (it counts as delivered there).
    pub fn is_accepted(&self) -> bool {
        matches!(
            self,
            Reply::Ok | Reply::OkEmulator200 | Reply::Gated | Reply::BigOk(_) | Reply::LateOk(_)
        )
    }
}

type Script = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;
type Observer = dyn Fn(&Recorded) + Send + Sync;

pub struct FakeServer {
    pub url: String,
    records: Arc<Mutex<Vec<Recorded>>>,
    /// Requests numbered so far (whether kept or not).
    count: Arc<std::sync::atomic::AtomicUsize>,
    pub gate: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// A server answering every request `Ok`.
    pub async fn ok() -> Self {
        FakeServer::start(|_, _| Reply::Ok).await
    }

    /// A server answering request number `n` (0-based, in arrival order) with `script(n, req)`.
    pub async fn start(script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static) -> Self {
        FakeServer::start_with(script, None).await
    }

    /// Like [`FakeServer::start`], but keeps no record: each request, with the reply chosen
    /// for it, is handed to `observer` instead (memory stays flat over long runs).
    pub async fn observed(
        script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
        observer: impl Fn(&Recorded) + Send + Sync + 'static,
    ) -> Self {
        FakeServer::start_with(script, Some(Arc::new(observer))).await
    }

    async fn start_with(
        script: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
        observer: Option<Arc<Observer>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let records = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let script: Arc<Script> = Arc::new(script);
        let task = {
            let server = Shared {
                records: records.clone(),
                count: count.clone(),
                script,
                observer,
                gate: gate.clone(),
            };
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let server = server.clone();
                    tokio::spawn(async move {
                        let _ = serve(stream, server).await;
                    });
                }
            })
        };
        FakeServer {
            url,
            records,
            count,
            gate,
            task,
        }
    }

    /// How many requests arrived so far (kept or not).
    pub fn request_count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.records.lock().expect("records").clone()
    }

    /// The requests that were answered with success.
    pub fn accepted(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.reply.is_accepted())
            .collect()
    }
}

#[derive(Clone)]
struct Shared {
    records: Arc<Mutex<Vec<Recorded>>>,
    count: Arc<std::sync::atomic::AtomicUsize>,
    script: Arc<Script>,
    observer: Option<Arc<Observer>>,
    gate: Arc<Notify>,
}

async fn read_request(
    stream: &mut TcpStream,
) -> Option<(String, String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((method, path, headers, body))
}

async fn serve(mut stream: TcpStream, server: Shared) -> std::io::Result<()> {
    let Some((method, path, headers, body)) = read_request(&mut stream).await else {
        return Ok(());
    };
    let mut recorded = Recorded {
        method,
        path,
        headers,
        body,
        reply: Reply::Ok,
        at: Instant::now(),
    };
    let reply = match &server.observer {
        Some(observer) => {
            let n = server
                .count
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            recorded.reply = (server.script)(n, &recorded);
            observer(&recorded);
            recorded.reply.clone()
        }
        None => {
            let mut records = server.records.lock().expect("records");
            let n = server
                .count
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = (server.script)(n, &recorded);
            recorded.reply = reply.clone();
            records.push(recorded.clone());
            reply
        }
    };
    let is_event = recorded.invocation_type() == Some("Event");
    let is_lambda = recorded.function().is_some();
    let ok = |size: Option<usize>| -> (u16, String, String) {
        match size {
            Some(n) => (200, String::new(), "x".repeat(n)),
            None if is_event => (202, String::new(), String::new()),
            None => (
                200,
                String::new(),
                format!("{{\"received\":{}}}", recorded.body.len()),
            ),
        }
    };
    let (status, extra, body): (u16, String, String) = match reply {
        Reply::Ok => ok(None),
        Reply::Gated => {
            server.gate.notified().await;
            ok(None)
        }
        Reply::BigOk(n) => ok(Some(n)),
        Reply::LateOk(after) => {
            tokio::time::sleep(after).await;
            ok(None)
        }
        Reply::OkEmulator200 => (200, String::new(), "{\"ok\":true}".to_owned()),
        Reply::Throttle => (
            429,
            "x-amzn-ErrorType: TooManyRequestsException\r\n".to_owned(),
            r#"{"Type":"User","message":"Rate exceeded","Reason":"CallerRateLimitExceeded"}"#
                .to_owned(),
        ),
        Reply::ThrottleRetryAfter(seconds) => (
            429,
            format!("x-amzn-ErrorType: TooManyRequestsException\r\nRetry-After: {seconds}\r\n"),
            r#"{"Type":"User","message":"Rate exceeded","Reason":"CallerRateLimitExceeded"}"#
                .to_owned(),
        ),
        Reply::TooLarge if is_lambda => (
            413,
            "x-amzn-ErrorType: RequestTooLargeException\r\n".to_owned(),
            r#"{"Type":"User","message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}"#
                .to_owned(),
        ),
        Reply::TooLarge => (413, String::new(), "Payload Too Large".to_owned()),
        Reply::ServerError => (
            500,
            "x-amzn-ErrorType: ServiceException\r\n".to_owned(),
            r#"{"Type":"Service","message":"internal"}"#.to_owned(),
        ),
        Reply::FunctionError => (
            200,
            "X-Amz-Function-Error: Unhandled\r\n".to_owned(),
            r#"{"errorType":"InvalidSignature","errorMessage":"nope"}"#.to_owned(),
        ),
        Reply::EmulatorFunctionError => (
            500,
            String::new(),
            r#"{"errorType":"InvalidSignature","errorMessage":"nope"}"#.to_owned(),
        ),
        Reply::NotFound => (
            404,
            "x-amzn-ErrorType: ResourceNotFoundException\r\n".to_owned(),
            r#"{"Type":"User","message":"Function not found"}"#.to_owned(),
        ),
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Ok(());
        }
        Reply::Drop => return Ok(()),
        Reply::StallFor(wait) => {
            tokio::time::sleep(wait).await;
            return Ok(());
        }
        Reply::Reset => {
            // Linger 0: closing sends a RST instead of a FIN.
            stream.set_zero_linger()?;
            return Ok(());
        }
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}x-amzn-RequestId: test\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
