//! Transports (Lambda `Invoke`, HTTP `POST`), the retry policy and delivery reports.
//!
//! A request is sent until it is delivered, or until it fails for a reason that retrying
//! cannot fix, or until the retry policy's attempts or total time run out. Throttling (429),
//! server errors (5xx), timeouts and connection errors are retried with exponential backoff and
//! jitter; a function error, a 4xx and a request too large are not. Either way the outcome is a
//! [`DeliveryReport`] that carries the signed request, so that a failure can be stored and sent
//! again ([`DeadLetter`]) — nothing is dropped without a record.
//!
//! The AWS SDK's own retries are turned off, so that this policy is the one in force, and its
//! timeouts are set from the policy.
//!
//! A retried request may reach the function twice (a timeout does not say whether the function
//! ran): delivery is at least once, and handlers should be idempotent.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::{Deserialize, Serialize};
use soketi_handler_kit::wire::{Event, ReceivedPayload};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{App, HttpTarget, InvocationMode, LambdaTarget, StaticCredentials, Target};
use crate::route::Request;

/// How hard to try. Every bound holds together: at most `max_attempts` attempts, each cut
/// at `attempt_timeout`, and no new attempt or wait once `max_elapsed` has passed since the
/// first one started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 5; 1 = no retry).
    pub max_attempts: u32,
    /// The wait before the first retry (default 100 ms); it doubles each retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (default 5 s).
    pub max_backoff: Duration,
    /// The total time a delivery may take, waits and attempts included (default 60 s).
    pub max_elapsed: Duration,
    /// The longest one attempt may take (default 30 s). A `RequestResponse` invocation waits
    /// for the function: make this longer than the function's own timeout if it runs long.
    pub attempt_timeout: Duration,
    /// The longest a connection may take to open (default 3 s).
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// No retry: one attempt only.
    pub fn no_retry() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// Sets the number of attempts (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first wait and the longest wait between attempts.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the total time bound.
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// Sets the per-attempt timeout.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The wait before retry number `retry` (1-based): exponential, capped, with jitter
    /// (uniform between half and all of the capped exponential value).
    ///
    /// ```
    /// use std::time::Duration;
    /// use soketi_lambda_sender::deliver::RetryPolicy;
    /// let p = RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(300));
    /// for _ in 0..100 {
    ///     let third = p.backoff_before(3); // 400 ms capped to 300 ms, jittered
    ///     assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
    /// }
    /// ```
    pub fn backoff_before(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let capped = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(fastrand::u64(0..=jitter_ms))
    }
}

/// Why a delivery failed; see [`FailureKind::as_str`] for the stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// The request is larger than the transport's limit (see [`Limits`](crate::route::Limits));
    /// it was not sent.
    TooLarge,
    /// Throttled (429 / `TooManyRequestsException`), still after the retries.
    Throttled,
    /// A server error (5xx), still after the retries.
    ServerError,
    /// An attempt timed out, still after the retries.
    Timeout,
    /// The connection failed or was dropped, still after the retries.
    Connection,
    /// The function ran and failed (`X-Amz-Function-Error`, or an emulator's 500 carrying a
    /// Lambda error body). Not retried.
    FunctionError,
    /// The endpoint refused the request (another 4xx: unknown function, access denied, …).
    /// Not retried.
    Rejected,
    /// The client could not be set up (credentials, endpoint). Not retried.
    Config,
    /// The delivery task itself failed (a bug in this crate); the request may or may not have
    /// reached its target. Kept so that no request disappears from a report.
    Internal,
}

impl FailureKind {
    /// The stable name: `TooLarge`, `Throttled`, `ServerError`, `Timeout`, `Connection`,
    /// `FunctionError`, `Rejected`, `Config`, `Internal`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureKind::TooLarge => "TooLarge",
            FailureKind::Throttled => "Throttled",
            FailureKind::ServerError => "ServerError",
            FailureKind::Timeout => "Timeout",
            FailureKind::Connection => "Connection",
            FailureKind::FunctionError => "FunctionError",
            FailureKind::Internal => "Internal",
            FailureKind::Rejected => "Rejected",
            FailureKind::Config => "Config",
        }
    }

    /// Whether another attempt may succeed.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureKind::Throttled
                | FailureKind::ServerError
                | FailureKind::Timeout
                | FailureKind::Connection
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed delivery: why, and how hard it was tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind} after {attempts} attempt(s): {message}")]
#[non_exhaustive]
pub struct Failure {
    /// What went wrong (of the last attempt).
    pub kind: FailureKind,
    /// A readable description of the last attempt's error.
    pub message: String,
    /// The HTTP status of the last response, if one came.
    pub status: Option<u16>,
    /// Attempts made (0 when the request was not sent at all).
    pub attempts: u32,
}

/// A successful delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivered {
    /// Attempts it took.
    pub attempts: u32,
    /// The HTTP status (Lambda: 200 for `RequestResponse`, 202 for `Event`).
    pub status: u16,
    /// The response body (for `RequestResponse`, the function's result), lossily decoded.
    pub response: String,
}

impl Delivered {
    /// A delivery that took `attempts` and was answered `status` with `response`.
    pub fn new(attempts: u32, status: u16, response: impl Into<String>) -> Self {
        Delivered {
            attempts,
            status,
            response: response.into(),
        }
    }
}

/// What happened to one request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// It was accepted.
    Delivered(Delivered),
    /// It was not; the request is in the report, to be stored or sent again.
    Failed(Failure),
}

/// One request and what happened to it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The exact request (body and headers as sent or as they would have been sent).
    pub request: Request,
    /// Delivered or failed.
    pub outcome: Outcome,
}

impl DeliveryReport {
    /// A report of `outcome` for `request`.
    pub fn new(request: Request, outcome: Outcome) -> Self {
        DeliveryReport { request, outcome }
    }

    /// Whether the request was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, Outcome::Delivered(_))
    }

    /// The failure, if it failed.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Failed(f) => Some(f),
            Outcome::Delivered(_) => None,
        }
    }

    /// Attempts made.
    pub fn attempts(&self) -> u32 {
        match &self.outcome {
            Outcome::Delivered(d) => d.attempts,
            Outcome::Failed(f) => f.attempts,
        }
    }
}

/// The reports of one send (or of everything a queue sent since its last flush).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// One entry per request, grouped by webhook in configuration order.
    pub deliveries: Vec<DeliveryReport>,
    /// Events no webhook wanted: nothing was sent for them.
    pub unrouted: Vec<Event>,
}

impl Report {
    /// A report of these deliveries and unrouted events.
    pub fn new(deliveries: Vec<DeliveryReport>, unrouted: Vec<Event>) -> Self {
        Report {
            deliveries,
            unrouted,
        }
    }

    /// Whether every request was delivered.
    pub fn is_success(&self) -> bool {
        self.deliveries.iter().all(DeliveryReport::is_delivered)
    }

    /// The failed deliveries.
    pub fn failures(&self) -> impl Iterator<Item = &DeliveryReport> {
        self.deliveries.iter().filter(|d| !d.is_delivered())
    }

    /// Adds another report's entries to this one.
    pub fn extend(&mut self, other: Report) {
        self.deliveries.extend(other.deliveries);
        self.unrouted.extend(other.unrouted);
    }
}

// ---------------------------------------------------------------------------------------------
// Transports
// ---------------------------------------------------------------------------------------------

/// The result of one attempt: delivered, or a failure of some kind.
type Attempt = Result<(u16, String), (FailureKind, String, Option<u16>)>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    region: String,
    endpoint: Option<String>,
    credentials: Option<StaticCredentials>,
}

/// Sends requests; owns the cached clients.
pub(crate) struct Transport {
    lambda_clients: Mutex<HashMap<ClientKey, aws_sdk_lambda::Client>>,
    http: reqwest::Client,
    policy: RetryPolicy,
    endpoint_override: Option<String>,
    limits: crate::route::Limits,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("policy", &self.policy)
            .field("endpoint_override", &self.endpoint_override)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(
        policy: RetryPolicy,
        endpoint_override: Option<String>,
        limits: crate::route::Limits,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Transport {
            lambda_clients: Mutex::new(HashMap::new()),
            http,
            policy,
            endpoint_override,
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
            Target::Http(http) => self.attempt_http(http, request).await,
            Target::Lambda(lambda) => self.attempt_lambda(lambda, request).await,
        }
    }

    async fn attempt_http(&self, target: &HttpTarget, request: &Request) -> Attempt {
        let mut builder = self.http.post(&target.url).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send().await.map_err(|e| classify_reqwest(&e))?;
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

    async fn client(&self, target: &LambdaTarget) -> Result<aws_sdk_lambda::Client, String> {
        let Some(region) = target.region.clone() else {
            return Err(format!(
                "no region for function `{}`: set lambda.region or AWS_REGION",
                target.function
            ));
        };
        let key = ClientKey {
            region,
            endpoint: self
                .endpoint_override
                .clone()
                .or_else(|| target.endpoint.clone()),
            credentials: target.credentials.clone(),
        };
        let mut clients = self.lambda_clients.lock().await;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(key.region.clone()))
            .load()
            .await;
        let mut config = aws_sdk_lambda::config::Builder::from(&shared)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.policy.connect_timeout)
                    .operation_attempt_timeout(self.policy.attempt_timeout)
                    .operation_timeout(self.policy.attempt_timeout)
                    .build(),
            );
        if let Some(endpoint) = &key.endpoint {
            config = config.endpoint_url(endpoint);
        }
        if let Some(creds) = &key.credentials {
            config = config.credentials_provider(Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                creds.session_token().map(str::to_owned),
                None,
                "soketi-webhook-client-options",
            ));
        }
        let client = aws_sdk_lambda::Client::from_conf(config.build());
        clients.insert(key, client.clone());
        Ok(client)
    }

    async fn attempt_lambda(&self, target: &LambdaTarget, request: &Request) -> Attempt {
        let client = self
            .client(target)
            .await
            .map_err(|message| (FailureKind::Config, message, None))?;
        let invocation_type = match target.mode {
            InvocationMode::RequestResponse => InvocationType::RequestResponse,
            InvocationMode::Event => InvocationType::Event,
        };
        let result = client
            .invoke()
            .function_name(&target.function)
            .invocation_type(invocation_type)
            .payload(Blob::new(request.body.as_bytes()))
            .send()
            .await;
        match result {
            Ok(output) => {
                let status = u16::try_from(output.status_code()).unwrap_or(200);
                let response = output
                    .payload()
                    .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
                    .unwrap_or_default();
                match output.function_error() {
                    Some(kind) => Err((
                        FailureKind::FunctionError,
                        format!("the function failed ({kind}): {}", snippet(&response)),
                        Some(status),
                    )),
                    None => Ok((status, response)),
                }
            }
            Err(error) => Err(classify_sdk(&error)),
        }
    }
}

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

fn classify_reqwest(error: &reqwest::Error) -> (FailureKind, String, Option<u16>) {
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

fn classify_sdk<E, R>(error: &SdkError<E, R>) -> (FailureKind, String, Option<u16>)
where
    E: std::error::Error + aws_sdk_lambda::error::ProvideErrorMetadata + 'static,
    R: RawResponse + fmt::Debug + 'static,
{
    let message = DisplayErrorContext(error).to_string();
    match error {
        SdkError::TimeoutError(_) => (FailureKind::Timeout, message, None),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            (FailureKind::Timeout, message, None)
        }
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            (FailureKind::Config, message, None)
        }
        // No credentials anywhere in the chain: retrying will not conjure them up.
        SdkError::DispatchFailure(_) if caused_by_credentials(error) => {
            (FailureKind::Config, message, None)
        }
        SdkError::DispatchFailure(_) => (FailureKind::Connection, message, None),
        SdkError::ConstructionFailure(_) => (FailureKind::Config, message, None),
        SdkError::ResponseError(e) => {
            let status = e.raw().status_u16();
            let kind = if status >= 500 || status == 0 {
                FailureKind::Connection
            } else {
                FailureKind::Rejected
            };
            (kind, message, Some(status))
        }
        SdkError::ServiceError(e) => {
            let raw = e.raw();
            let status = raw.status_u16();
            let code = e.err().code().unwrap_or_default();
            let kind = if status == 429
                || code == "TooManyRequestsException"
                || code.ends_with("ThrottledException")
            {
                FailureKind::Throttled
            } else if let Some(body) = raw.function_error_body().filter(|_| status >= 500) {
                // cargo-lambda's emulator answers a function error with a bare 500 and the
                // function's error object; real Lambda says 200 + X-Amz-Function-Error. Report
                // it as the real one is reported: the function's own errorType and message.
                let message = format!("the function failed (Unhandled): {}", snippet(&body));
                return (FailureKind::FunctionError, message, Some(status));
            } else if status >= 500 {
                FailureKind::ServerError
            } else {
                FailureKind::Rejected
            };
            (kind, message, Some(status))
        }
        _ => (FailureKind::Connection, message, None),
    }
}

fn caused_by_credentials(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// What is read from an SDK raw HTTP response.
trait RawResponse {
    fn status_u16(&self) -> u16;
    /// The body, when it is a Lambda function error object (`errorType`, `errorMessage`).
    fn function_error_body(&self) -> Option<String>;
}

impl RawResponse for aws_sdk_lambda::config::http::HttpResponse {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }

    fn function_error_body(&self) -> Option<String> {
        if self.headers().get("x-amzn-errortype").is_some() {
            return None;
        }
        let bytes = self.body().bytes()?;
        #[derive(Deserialize)]
        struct LambdaError {
            #[serde(rename = "errorType")]
            error_type: Option<serde::de::IgnoredAny>,
            #[serde(rename = "errorMessage")]
            error_message: Option<serde::de::IgnoredAny>,
        }
        serde_json::from_slice::<LambdaError>(bytes)
            .ok()
            .filter(|e| e.error_type.is_some() || e.error_message.is_some())
            .map(|_| String::from_utf8_lossy(bytes).into_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Dead letters
// ---------------------------------------------------------------------------------------------

/// A failed delivery as one JSON line: the exact body and headers, where they were going and
/// why they did not get there. No secret is stored (not the app secret, not AWS credentials).
///
/// ```
/// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
/// use soketi_lambda_sender::config::{App, Webhook};
/// use soketi_lambda_sender::deliver::{DeadLetter, DeliveryReport, Failure, FailureKind, Outcome};
/// use soketi_lambda_sender::route::Request;
///
/// let app = App::new("1", "k", "s")
///     .webhook(Webhook::lambda("f").region("eu-west-1").event_types([EventKind::CacheMiss]));
/// let request = Request::build(&app, 0, vec![Event::cache_miss("cache-a")], 1, &user_agent(1)).unwrap();
/// let failure = Failure::new(FailureKind::Timeout, "no answer", None, 3);
/// let line = DeadLetter::from_report(&DeliveryReport::new(request.clone(), Outcome::Failed(failure)))
///     .unwrap()
///     .to_json_line();
/// let back = DeadLetter::from_json_line(&line)?;
/// assert_eq!(back.to_request(&[app]).body, request.body);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The app's id.
    pub app_id: String,
    /// The app's key.
    pub app_key: String,
    /// The webhook's index in the app's `webhooks`.
    pub webhook: usize,
    /// Where it was going.
    pub target: DeadLetterTarget,
    /// The payload's `time_ms`.
    pub time_ms: u64,
    /// The names of the events it carries, for people reading the file.
    pub events: Vec<String>,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The exact body.
    pub body: String,
    /// Why it failed.
    pub failure: Failure,
}

/// Where a dead letter was going (credentials are not stored; see [`DeadLetter::to_request`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterTarget {
    /// A Lambda function.
    Lambda {
        /// Name or ARN.
        function: String,
        /// `RequestResponse` or `Event`.
        invocation_type: String,
        /// The region.
        region: Option<String>,
        /// The endpoint, if not AWS's.
        endpoint: Option<String>,
    },
    /// An HTTP URL.
    Http {
        /// The URL.
        url: String,
    },
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(
        kind: FailureKind,
        message: impl Into<String>,
        status: Option<u16>,
        attempts: u32,
    ) -> Self {
        Failure {
            kind,
            message: message.into(),
            status,
            attempts,
        }
    }
}

impl DeadLetter {
    /// The dead letter of a failed delivery (`None` if it was delivered).
    pub fn from_report(report: &DeliveryReport) -> Option<Self> {
        let failure = report.failure()?.clone();
        let r = &report.request;
        let target = match &r.target {
            Target::Http(http) => DeadLetterTarget::Http {
                url: http.url.clone(),
            },
            Target::Lambda(l) => DeadLetterTarget::Lambda {
                function: l.function.clone(),
                invocation_type: l.mode.as_str().to_owned(),
                region: l.region.clone(),
                endpoint: l.endpoint.clone(),
            },
        };
        Some(DeadLetter {
            app_id: r.app_id.clone(),
            app_key: r.app_key.clone(),
            webhook: r.webhook,
            target,
            time_ms: r.time_ms,
            events: r.events.iter().map(|e| e.name().to_owned()).collect(),
            headers: r.headers.clone(),
            body: r.body.clone(),
            failure,
        })
    }

    /// One line of JSON (no newline).
    pub fn to_json_line(&self) -> String {
        // Strings, integers and plain structs only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads one line.
    pub fn from_json_line(line: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(line)
    }

    /// The request to send again, byte for byte. When `apps` holds the app (same id) with a
    /// Lambda webhook at the same index for the same function, its credentials and endpoint
    /// are used; otherwise the AWS default credential chain.
    pub fn to_request(&self, apps: &[App]) -> Request {
        let configured = apps
            .iter()
            .find(|a| a.id == self.app_id)
            .and_then(|a| a.webhooks.get(self.webhook))
            .map(|w| &w.target);
        let target = match &self.target {
            DeadLetterTarget::Http { url } => Target::Http(HttpTarget::new(url.clone())),
            DeadLetterTarget::Lambda {
                function,
                invocation_type,
                region,
                endpoint,
            } => {
                let mut target = match configured {
                    Some(Target::Lambda(l)) if &l.function == function => l.clone(),
                    _ => LambdaTarget::new(function.clone()),
                };
                target.mode = if invocation_type == InvocationMode::Event.as_str() {
                    InvocationMode::Event
                } else {
                    InvocationMode::RequestResponse
                };
                if region.is_some() {
                    target.region = region.clone();
                }
                if endpoint.is_some() {
                    target.endpoint = endpoint.clone();
                }
                Target::Lambda(target)
            }
        };
        let events = self.decode_events();
        Request {
            app_id: self.app_id.clone(),
            app_key: self.app_key.clone(),
            webhook: self.webhook,
            target,
            time_ms: self.time_ms,
            events,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    fn decode_events(&self) -> Vec<Event> {
        let payload = match &self.target {
            DeadLetterTarget::Http { .. } => Some(self.body.as_str()),
            DeadLetterTarget::Lambda { .. } => {
                soketi_handler_kit::wire::Envelope::parse(self.body.as_bytes())
                    .ok()
                    .map(|e| e.payload_json())
            }
        };
        payload
            .and_then(|p| ReceivedPayload::parse(p).ok())
            .map(|p| p.events().filter_map(Result::ok).collect())
            .unwrap_or_default()
    }
}
