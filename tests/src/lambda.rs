//! A plain Lambda Invoke API client for loopback (raw bodies in, raw bodies out), and the
//! outcome of one invocation as the emulator reports it.

use std::time::Duration;

use serde_json::Value;

/// The name the example function is served under by `cargo lambda watch`.
pub const FUNCTION_NAME: &str = "example-function";

/// What one invocation returned.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub status: u16,
    /// `X-Amz-Function-Error` when present, else (cargo lambda watch answers function errors
    /// with a bare HTTP 500) the `errorType` of an error body.
    pub function_error: Option<String>,
    pub body: String,
}

impl Invocation {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The summary of a successful invocation; panics with the whole outcome otherwise.
    pub fn summary(&self) -> Value {
        assert!(
            self.status == 200 && self.function_error.is_none(),
            "expected a successful invocation, got {self:?}"
        );
        self.json()
            .unwrap_or_else(|| panic!("successful invocation without a JSON summary: {self:?}"))
    }

    /// The stable error type of a failed invocation; panics when it did not fail.
    pub fn error_type(&self) -> &str {
        self.function_error
            .as_deref()
            .unwrap_or_else(|| panic!("expected a function error, got {self:?}"))
    }
}

/// The event names of a summary's `events` list.
pub fn summary_events(summary: &Value) -> Vec<String> {
    summary["events"]
        .as_array()
        .unwrap_or_else(|| panic!("summary without an events list: {summary}"))
        .iter()
        .map(|e| {
            e.as_str()
                .unwrap_or_else(|| panic!("non-string event name in {summary}"))
                .to_string()
        })
        .collect()
}

/// A blocking HTTP/1.1 agent for loopback only: no proxy from the environment, HTTP errors
/// returned as responses.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// POSTs `body` to `{endpoint}/2015-03-31/functions/{function}/invocations`.
pub fn invoke(
    agent: &ureq::Agent,
    endpoint: &str,
    function: &str,
    invocation_type: &str,
    body: &[u8],
) -> Result<Invocation, String> {
    let url = format!("{endpoint}/2015-03-31/functions/{function}/invocations");
    let mut response = agent
        .post(&url)
        .header("X-Amz-Invocation-Type", invocation_type)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let header_error = response
        .headers()
        .get("x-amz-function-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("reading the response of {url}: {e}"))?;
    Ok(outcome(status, header_error, body))
}

/// Interprets a response of the Invoke API, real Lambda's or cargo lambda watch's.
pub fn outcome(status: u16, header_error: Option<String>, body: String) -> Invocation {
    let body_error = || {
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("errorType")?.as_str().map(str::to_string))
    };
    let function_error = match header_error {
        // Real Lambda says `Unhandled`/`Handled`; the error body has the type.
        Some(h) => Some(body_error().unwrap_or(h)),
        None if status >= 400 => body_error(),
        None => None,
    };
    Invocation {
        status,
        function_error,
        body,
    }
}
