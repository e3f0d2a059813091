//! The transports: Lambda `Invoke` (aws-sdk-lambda, clients cached per region, endpoint and
//! credentials) and HTTP `POST` (reqwest), each attempt classified, retried per the policy.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Delivered, DeliveryReport, Failure, FailureKind, Outcome, RetryPolicy};
use crate::config::{HttpTarget, InvocationMode, LambdaTarget, StaticCredentials, Target};
use crate::route::Request;

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
