//! The Lambda transport (`lambda_function` webhooks): the Invoke API with soketi's envelope
//! `{"payload": …, "headers": {…}}` as the request body.
//!
//! Clients are cached per region, endpoint and credentials. The AWS SDK's own retries are
//! turned off, so that the [`RetryPolicy`] is the one in force, and its timeouts are set from
//! the policy.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::Deserialize;

use super::{Attempt, snippet};
use crate::config::{InvocationMode, LambdaTarget, StaticCredentials};
use crate::deliver::{FailureKind, RetryPolicy};
use crate::route::Request;

#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    region: String,
    endpoint: Option<String>,
    credentials: Option<StaticCredentials>,
}

/// Invokes functions; owns the cached clients.
pub(crate) struct LambdaTransport {
    clients: Mutex<HashMap<ClientKey, aws_sdk_lambda::Client>>,
    policy: RetryPolicy,
    endpoint_override: Option<String>,
}

impl fmt::Debug for LambdaTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaTransport")
            .field("endpoint_override", &self.endpoint_override)
            .finish_non_exhaustive()
    }
}

impl LambdaTransport {
    pub(crate) fn new(policy: RetryPolicy, endpoint_override: Option<String>) -> Self {
        LambdaTransport {
            clients: Mutex::new(HashMap::new()),
            policy,
            endpoint_override,
        }
    }

    /// The cached client for `target`, or a new one. The cache is not locked while a new
    /// client loads its AWS configuration (which may read files or call a credential process):
    /// deliveries to targets whose client is ready do not wait for it. Two deliveries that
    /// need the same new client at once may both load it; the first one stored is kept.
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
        if let Some(client) = self.cached(&key) {
            return Ok(client);
        }
        let client = self.load(&key).await;
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(clients.entry(key).or_insert(client).clone())
    }

    fn cached(&self, key: &ClientKey) -> Option<aws_sdk_lambda::Client> {
        // The map only ever gains complete entries: a panic elsewhere while it was locked
        // leaves it usable.
        let clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        clients.get(key).cloned()
    }

    async fn load(&self, key: &ClientKey) -> aws_sdk_lambda::Client {
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
        aws_sdk_lambda::Client::from_conf(config.build())
    }

    /// One invocation of `target` with the request body.
    pub(crate) async fn attempt(&self, target: &LambdaTarget, request: &Request) -> Attempt {
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
