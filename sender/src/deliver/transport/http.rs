//! The HTTP transport (`url` webhooks): `POST <url>` with the payload as the body and the
//! webhook headers as real HTTP headers.

use std::time::SystemTime;

use super::{Answer, Attempt, AttemptError, parse_retry_after, snippet};
use crate::config::{HttpTarget, Target};
use crate::deliver::{FailureKind, MAX_RESPONSE_BYTES, RetryPolicy, truncate_text};
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
        // reqwest's rustls takes the program's default crypto provider: unless the program
        // chose one, the one the AWS clients use (ring, or aws-lc with the `aws-lc` features).
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Fails only when another thread installed one first, which serves as well.
            let _ = soketi_handler_kit::aws::crypto_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(HttpTransport { client })
    }

    /// One attempt: see [`classify_status`]. At most [`MAX_RESPONSE_BYTES`] of the response
    /// body are read.
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
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let (text, truncated) = read_capped(response, MAX_RESPONSE_BYTES).await;
        match classify_status(status) {
            None => Ok(Answer {
                status,
                response: text,
                truncated,
            }),
            Some(kind) => Err(AttemptError {
                kind,
                message: format!("HTTP {status}: {}", snippet(&text)),
                status: Some(status),
                retry_after,
            }),
        }
    }
}

/// What an HTTP status means: `None` for delivered (2xx); 429 throttled, 413 too large (the
/// batch is split), 408 a timeout, 5xx a server error, anything else a rejection.
fn classify_status(status: u16) -> Option<FailureKind> {
    match status {
        200..=299 => None,
        429 => Some(FailureKind::Throttled),
        413 => Some(FailureKind::TooLarge),
        408 => Some(FailureKind::Timeout),
        500..=599 => Some(FailureKind::ServerError),
        _ => Some(FailureKind::Rejected),
    }
}

/// Reads at most `cap` bytes of the body (the rest is not read; the connection is then not
/// reused), lossily decoded; and whether there was more.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> (String, bool) {
    let mut bytes = Vec::new();
    let mut truncated = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = cap - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let (text, cut) = truncate_text(String::from_utf8_lossy(&bytes).into_owned(), cap);
    (text, truncated || cut)
}

fn classify(error: &reqwest::Error) -> AttemptError {
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
    AttemptError::new(kind, message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_are_classified() {
        let table = [
            (200, None),
            (202, None),
            (204, None),
            (301, Some(FailureKind::Rejected)),
            (400, Some(FailureKind::Rejected)),
            (401, Some(FailureKind::Rejected)),
            (404, Some(FailureKind::Rejected)),
            (408, Some(FailureKind::Timeout)),
            (413, Some(FailureKind::TooLarge)),
            (429, Some(FailureKind::Throttled)),
            (500, Some(FailureKind::ServerError)),
            (502, Some(FailureKind::ServerError)),
            (503, Some(FailureKind::ServerError)),
        ];
        for (status, kind) in table {
            assert_eq!(classify_status(status), kind, "{status}");
        }
    }
}
