//! Sending one request until it is delivered or the retry policy gives up.
//!
//! Each transport (one file each: [`http`], [`lambda`]) makes single attempts and says what
//! kind of failure an error is; [`Transport::deliver`] applies the size limit and the
//! [`RetryPolicy`] around them and returns the [`DeliveryReport`]. A new transport is a new
//! file here, a new [`Target`] variant in `config`, and a branch in [`Transport::attempt`].

mod http;
mod lambda;

use std::time::Duration;

use tokio::time::Instant;

use crate::config::Target;
use crate::deliver::{Delivered, DeliveryReport, Failure, FailureKind, Outcome, RetryPolicy};
use crate::route::{Limits, Request};

use self::http::HttpTransport;
use self::lambda::LambdaTransport;

/// The result of one attempt: delivered (status, response body), or a failure of some kind
/// (kind, message, status).
pub(crate) type Attempt = Result<(u16, String), (FailureKind, String, Option<u16>)>;

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

    /// Delivers one request under the retry policy.
    pub(crate) async fn deliver(&self, request: Request) -> DeliveryReport {
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
            return DeliveryReport::new(request, Outcome::Failed(failure));
        }
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let remaining = self.policy.max_elapsed.saturating_sub(started.elapsed());
            let budget = self
                .policy
                .attempt_timeout
                .min(remaining)
                .max(Duration::from_millis(1));
            let result = match tokio::time::timeout(budget, self.attempt(&request)).await {
                Ok(result) => result,
                Err(_) => Err((
                    FailureKind::Timeout,
                    format!("no answer within {} ms", budget.as_millis()),
                    None,
                )),
            };
            let (kind, message, status) = match result {
                Ok((status, response)) => {
                    let delivered = Delivered {
                        attempts,
                        status,
                        response,
                    };
                    return DeliveryReport::new(request, Outcome::Delivered(delivered));
                }
                Err(failure) => failure,
            };
            tracing::debug!(
                target = %request.target.describe(), attempt = attempts, kind = %kind,
                "webhook delivery attempt failed: {message}"
            );
            let wait = self.policy.backoff_before(attempts);
            let out_of_time = started.elapsed() + wait >= self.policy.max_elapsed;
            if !kind.is_retryable() || attempts >= self.policy.max_attempts || out_of_time {
                let message = if kind.is_retryable() {
                    format!(
                        "{message} (gave up after {attempts} attempt(s) in {} ms)",
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
                return DeliveryReport::new(request, Outcome::Failed(failure));
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
    const MAX: usize = 500;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
