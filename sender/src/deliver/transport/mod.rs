//! Sending one request until it is delivered or the retry policy gives up.
//!
//! Each transport (one file each: [`http`], [`lambda`]) makes single attempts and says what
//! kind of failure an error is; [`Transport::deliver`] applies the size limit and the
//! [`RetryPolicy`] around them and returns the [`Outcome`]. A new transport is a new
//! file here, a new [`Target`] variant in `config`, and a branch in [`Transport::attempt`].

mod http;
mod lambda;

use std::time::{Duration, SystemTime};

use aws_sdk_lambda::primitives::{DateTime, DateTimeFormat};
use tokio::time::Instant;

use crate::config::Target;
use crate::deliver::{
    Deadline, Delivered, Failure, FailureKind, Outcome, RetryPolicy, truncate_text,
};
use crate::route::{Limits, Request};

use self::http::HttpTransport;
use self::lambda::LambdaTransport;

/// A successful attempt: the status and the start of the response body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// At most [`MAX_RESPONSE_BYTES`](crate::deliver::MAX_RESPONSE_BYTES).
    pub(crate) response: String,
    pub(crate) truncated: bool,
}

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct AttemptError {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    pub(crate) status: Option<u16>,
    /// What the server's `Retry-After` asked for, if it said.
    pub(crate) retry_after: Option<Duration>,
}

impl AttemptError {
    pub(crate) fn new(kind: FailureKind, message: String, status: Option<u16>) -> Self {
        AttemptError {
            kind,
            message,
            status,
            retry_after: None,
        }
    }
}

/// The result of one attempt.
pub(crate) type Attempt = Result<Answer, AttemptError>;

/// Sends requests; owns the transports and their cached clients.
#[derive(Debug)]
pub(crate) struct Transport {
    lambda: LambdaTransport,
    http: HttpTransport,
    policy: RetryPolicy,
    limits: Limits,
}

impl Transport {
    pub(crate) fn new(
        policy: RetryPolicy,
        endpoint_override: Option<String>,
        limits: Limits,
    ) -> Result<Self, reqwest::Error> {
        Ok(Transport {
            lambda: LambdaTransport::new(policy, endpoint_override),
            http: HttpTransport::new(&policy)?,
            policy,
            limits,
        })
    }

    /// Delivers one request under the retry policy, starting no attempt whose timeout does not
    /// fit before `deadline`: what became of it.
    pub(crate) async fn deliver(&self, request: &Request, deadline: Deadline) -> Outcome {
        let limit = self.limits.for_target(&request.target);
        if request.body.len() > limit {
            let failure = Failure {
                kind: FailureKind::TooLarge,
                message: format!(
                    "the request is {} bytes, over the {limit}-byte limit for this target: one \
                     event alone is too large to send",
                    request.body.len()
                ),
                status: None,
                attempts: 0,
            };
            return Outcome::Failed(failure);
        }
        let started = Instant::now();
        // The timeout of an attempt starting `after` from now (the policy's, cut to what
        // `max_elapsed` leaves).
        let timeout_after = |after: Duration| {
            let remaining = self
                .policy
                .max_elapsed
                .saturating_sub(started.elapsed() + after);
            self.policy
                .attempt_timeout
                .min(remaining)
                .max(Duration::from_millis(1))
        };
        if !deadline.allows(timeout_after(Duration::ZERO)) {
            let failure = Failure::new(
                FailureKind::NotSent,
                format!(
                    "not sent: {} ms are left before the deadline, and an attempt may take {} ms",
                    deadline.left().unwrap_or_default().as_millis(),
                    timeout_after(Duration::ZERO).as_millis()
                ),
                None,
                0,
            );
            return Outcome::Failed(failure);
        }
        let (mut attempts, mut throttled, mut other) = (0u32, 0u32, 0u32);
        loop {
            attempts += 1;
            let budget = deadline.bound(timeout_after(Duration::ZERO));
            let result = match tokio::time::timeout(budget, self.attempt(request)).await {
                Ok(result) => result,
                Err(_) => Err(AttemptError::new(
                    FailureKind::Timeout,
                    format!("no answer within {} ms", budget.as_millis()),
                    None,
                )),
            };
            let error = match result {
                Ok(answer) => {
                    let delivered = Delivered {
                        attempts,
                        status: answer.status,
                        response: answer.response,
                        response_truncated: answer.truncated,
                    };
                    return Outcome::Delivered(delivered);
                }
                Err(error) => error,
            };
            let AttemptError {
                kind,
                message,
                status,
                retry_after,
            } = error;
            tracing::debug!(
                target = %request.target.describe(), attempt = attempts, kind = %kind,
                "webhook delivery attempt failed: {message}"
            );
            let out_of_attempts = if kind == FailureKind::Throttled {
                throttled += 1;
                throttled >= self.policy.max_throttled_attempts
            } else {
                other += 1;
                other >= self.policy.max_attempts
            };
            let wait = self.policy.wait_before(attempts, retry_after);
            let out_of_time = started.elapsed() + wait >= self.policy.max_elapsed;
            let past_deadline = !deadline.allows(wait + timeout_after(wait));
            if !kind.is_retryable() || out_of_attempts || out_of_time || past_deadline {
                let message = if kind.is_retryable() {
                    let asked = retry_after
                        .map(|d| format!("; Retry-After asked for {} s", d.as_secs()))
                        .unwrap_or_default();
                    let deadline = if past_deadline && !out_of_attempts && !out_of_time {
                        "; no time left before the deadline for another"
                    } else {
                        ""
                    };
                    format!(
                        "{message} (gave up after {attempts} attempt(s) in {} ms{asked}{deadline})",
                        started.elapsed().as_millis()
                    )
                } else {
                    message
                };
                let failure = Failure {
                    kind,
                    message,
                    status,
                    attempts,
                };
                tracing::warn!(
                    app = %request.app_id, webhook = request.webhook,
                    target = %request.target.describe(), events = request.events.len(),
                    "webhook delivery failed: {failure}"
                );
                return Outcome::Failed(failure);
            }
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, request: &Request) -> Attempt {
        match &request.target {
            Target::Http(http) => self.http.attempt(http, request).await,
            Target::Lambda(lambda) => self.lambda.attempt(lambda, request).await,
        }
    }
}

/// A response body cut to 500 bytes (at a character boundary), for failure messages.
fn snippet(text: &str) -> String {
    let (mut shown, cut) = truncate_text(text.to_owned(), 500);
    if cut {
        shown.push('…');
    }
    shown
}

/// The wait a `Retry-After` value asks for: a number of seconds, or an HTTP date (a date in
/// the past asks for no wait). `None` when it is neither.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::from_str(value, DateTimeFormat::HttpDate).ok()?;
    let at = SystemTime::try_from(date).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        assert_eq!(truncate_text("héllo".to_owned(), 2), ("h".to_owned(), true));
        assert_eq!(
            truncate_text("héllo".to_owned(), 3),
            ("hé".to_owned(), true)
        );
        assert_eq!(truncate_text("hé".to_owned(), 3), ("hé".to_owned(), false));
        let long = "é".repeat(300);
        assert_eq!(snippet(&long), format!("{}…", "é".repeat(250)));
        assert_eq!(snippet("short"), "short");
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 21 Oct 2015 07:28:00
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past: no wait"
        );
        for bad in ["", "soon", "-5", "1.5", "Wed, 99 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }
}
