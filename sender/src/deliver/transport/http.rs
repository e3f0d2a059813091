//! The HTTP transport (`url` webhooks): `POST <url>` with the payload as the body and the
//! webhook headers as real HTTP headers.

use super::{Attempt, snippet};
use crate::config::{HttpTarget, Target};
use crate::deliver::{FailureKind, RetryPolicy};
use crate::route::Request;

/// Posts requests with one shared client (connections are pooled per host).
#[derive(Debug)]
pub(crate) struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A client with the policy's timeouts that does not follow redirects (a 3xx answer is a
    /// rejection).
    pub(crate) fn new(policy: &RetryPolicy) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpTransport { client })
    }

    /// One attempt: 2xx is delivered; 429 throttled, 5xx a server error, anything else a
    /// rejection.
    pub(crate) async fn attempt(&self, target: &HttpTarget, request: &Request) -> Attempt {
        debug_assert!(matches!(request.target, Target::Http(_)));
        let mut builder = self
            .client
            .post(target.url.as_str())
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => Ok((status, text)),
            429 => Err((
                FailureKind::Throttled,
                format!("HTTP 429: {}", snippet(&text)),
                Some(status),
            )),
            500..=599 => Err((
                FailureKind::ServerError,
                format!("HTTP {status}: {}", snippet(&text)),
                Some(status),
            )),
            _ => Err((
                FailureKind::Rejected,
                format!("HTTP {status}: {}", snippet(&text)),
                Some(status),
            )),
        }
    }
}

fn classify(error: &reqwest::Error) -> (FailureKind, String, Option<u16>) {
    let kind = if error.is_timeout() {
        FailureKind::Timeout
    } else if error.is_builder() {
        FailureKind::Config
    } else {
        FailureKind::Connection
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    (kind, message, None)
}
