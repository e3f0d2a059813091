//! The Lambda transport (`lambda_function` webhooks): the Invoke API with soketi's envelope
//! `{"payload": …, "headers": {…}}` as the request body.
//!
//! Clients are cached per region, endpoint and credentials. The AWS SDK's own retries are
//! turned off, so that the [`RetryPolicy`] is the one in force, and its timeouts are set from
//! the policy.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{Credentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use serde::Deserialize;

use super::{Answer, Attempt, AttemptError, parse_retry_after, snippet};
use crate::config::{InvocationMode, LambdaTarget, StaticCredentials};
use crate::deliver::{FailureKind, MAX_RESPONSE_BYTES, RetryPolicy, truncate_text};
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
        let shared = soketi_handler_kit::aws::config_loader()
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

    /// One invocation of `target` with the request body. The function's result is kept up to
    /// [`MAX_RESPONSE_BYTES`] (the SDK reads it whole; Lambda bounds it at 6 MB).
    pub(crate) async fn attempt(&self, target: &LambdaTarget, request: &Request) -> Attempt {
        let client = self
            .client(target)
            .await
            .map_err(|message| AttemptError::new(FailureKind::Config, message, None))?;
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
                let bytes = output.payload().map(|b| b.as_ref()).unwrap_or_default();
                let kept = &bytes[..bytes.len().min(MAX_RESPONSE_BYTES)];
                let (response, cut) = truncate_text(
                    String::from_utf8_lossy(kept).into_owned(),
                    MAX_RESPONSE_BYTES,
                );
                match output.function_error() {
                    Some(kind) => Err(AttemptError::new(
                        FailureKind::FunctionError,
                        format!("the function failed ({kind}): {}", snippet(&response)),
                        Some(status),
                    )),
                    None => Ok(Answer {
                        status,
                        response,
                        truncated: cut || bytes.len() > kept.len(),
                    }),
                }
            }
            Err(error) => Err(classify_sdk(&error)),
        }
    }
}

/// What a Lambda Invoke error means, from its HTTP status and error code: the one place where
/// Lambda's errors are sorted into retried and final ones.
///
/// Retried (see the Invoke API's error list): throttling (`TooManyRequestsException`,
/// `EC2ThrottledException`); errors of a function that is not ready yet or of the service
/// (`ServiceException`, `ResourceNotReadyException`, `ResourceConflictException` — the
/// function is being created or updated —, `SnapStartNotReadyException`,
/// `SnapStartTimeoutException`, `ENINotReadyException`, `ENILimitReachedException`,
/// `SubnetIPAddressLimitReachedException`, `EC2UnexpectedException`, the `EFS*` and
/// `S3Files*` I/O, connectivity and timeout errors); and any other 5xx. Too large
/// (`RequestTooLargeException`, `SerializedRequestEntityTooLargeException`, any 413): the
/// batch is split. Everything else (unknown function, access denied, KMS, bad configuration,
/// invalid content, any other 4xx) is final.
pub(crate) fn classify_lambda_error(status: u16, code: &str) -> FailureKind {
    match code {
        "TooManyRequestsException" | "EC2ThrottledException" => FailureKind::Throttled,
        "RequestTooLargeException" | "SerializedRequestEntityTooLargeException" => {
            FailureKind::TooLarge
        }
        "ServiceException"
        | "ResourceNotReadyException"
        | "ResourceConflictException"
        | "SnapStartNotReadyException"
        | "SnapStartTimeoutException"
        | "ENINotReadyException"
        | "ENILimitReachedException"
        | "SubnetIPAddressLimitReachedException"
        | "EC2UnexpectedException"
        | "EFSIOException"
        | "EFSMountConnectivityException"
        | "EFSMountTimeoutException"
        | "S3FilesMountConnectivityException"
        | "S3FilesMountTimeoutException" => FailureKind::ServerError,
        "ResourceNotFoundException"
        | "InvalidParameterValueException"
        | "InvalidRequestContentException"
        | "InvalidRuntimeException"
        | "InvalidSecurityGroupIDException"
        | "InvalidSubnetIDException"
        | "InvalidZipFileException"
        | "EC2AccessDeniedException"
        | "EFSMountFailureException"
        | "S3FilesMountFailureException"
        | "KMSAccessDeniedException"
        | "KMSDisabledException"
        | "KMSInvalidStateException"
        | "KMSNotFoundException"
        | "RecursiveInvocationException"
        | "SnapStartException"
        | "SnapStartRegenerationFailureException"
        | "UnsupportedMediaTypeException"
        | "ModeNotSupportedException"
        | "NoPublishedVersionException"
        | "ServiceQuotaExceededException" => FailureKind::Rejected,
        _ => match status {
            429 => FailureKind::Throttled,
            413 => FailureKind::TooLarge,
            408 => FailureKind::Timeout,
            500..=599 => FailureKind::ServerError,
            _ => FailureKind::Rejected,
        },
    }
}

fn classify_sdk<E, R>(error: &SdkError<E, R>) -> AttemptError
where
    E: std::error::Error + aws_sdk_lambda::error::ProvideErrorMetadata + 'static,
    R: RawResponse + fmt::Debug + 'static,
{
    let message = DisplayErrorContext(error).to_string();
    let kind = match error {
        SdkError::TimeoutError(_) => FailureKind::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => FailureKind::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_user() => FailureKind::Config,
        // No credentials anywhere in the chain: retrying will not conjure them up.
        SdkError::DispatchFailure(_) if caused_by_credentials(error) => FailureKind::Config,
        SdkError::DispatchFailure(_) => FailureKind::Connection,
        SdkError::ConstructionFailure(_) => FailureKind::Config,
        SdkError::ResponseError(e) => {
            let status = e.raw().status_u16();
            let kind = if status >= 500 || status == 0 {
                FailureKind::Connection
            } else {
                FailureKind::Rejected
            };
            return AttemptError::new(kind, message, Some(status));
        }
        SdkError::ServiceError(e) => {
            let raw = e.raw();
            let status = raw.status_u16();
            let code = e.err().code().unwrap_or_default();
            if code.is_empty()
                && status >= 500
                && let Some(body) = raw.function_error_body()
            {
                // cargo-lambda's emulator answers a function error with a bare 500 and the
                // function's error object; real Lambda says 200 + X-Amz-Function-Error. Report
                // it as the real one is reported: the function's own errorType and message.
                let message = format!("the function failed (Unhandled): {}", snippet(&body));
                return AttemptError::new(FailureKind::FunctionError, message, Some(status));
            }
            return AttemptError {
                kind: classify_lambda_error(status, code),
                message,
                status: Some(status),
                retry_after: raw
                    .header("retry-after")
                    .and_then(|v| parse_retry_after(&v, SystemTime::now())),
            };
        }
        _ => FailureKind::Connection,
    };
    AttemptError::new(kind, message, None)
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
    fn header(&self, name: &str) -> Option<String>;
    /// The body, when it is a Lambda function error object (`errorType`, `errorMessage`).
    fn function_error_body(&self) -> Option<String>;
}

impl RawResponse for aws_sdk_lambda::config::http::HttpResponse {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers().get(name).map(str::to_owned)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_errors_are_sorted_into_retried_too_large_and_final() {
        use FailureKind::*;
        let table = [
            (429, "TooManyRequestsException", Throttled),
            (502, "EC2ThrottledException", Throttled),
            (413, "RequestTooLargeException", TooLarge),
            (413, "SerializedRequestEntityTooLargeException", TooLarge),
            (500, "ServiceException", ServerError),
            (502, "ResourceNotReadyException", ServerError),
            (409, "ResourceConflictException", ServerError),
            (409, "SnapStartNotReadyException", ServerError),
            (408, "SnapStartTimeoutException", ServerError),
            (502, "ENINotReadyException", ServerError),
            (502, "ENILimitReachedException", ServerError),
            (502, "SubnetIPAddressLimitReachedException", ServerError),
            (502, "EC2UnexpectedException", ServerError),
            (410, "EFSIOException", ServerError),
            (408, "EFSMountConnectivityException", ServerError),
            (408, "EFSMountTimeoutException", ServerError),
            (404, "ResourceNotFoundException", Rejected),
            (400, "InvalidParameterValueException", Rejected),
            (400, "InvalidRequestContentException", Rejected),
            (502, "InvalidRuntimeException", Rejected),
            (502, "InvalidSecurityGroupIDException", Rejected),
            (502, "InvalidSubnetIDException", Rejected),
            (502, "InvalidZipFileException", Rejected),
            (502, "EC2AccessDeniedException", Rejected),
            (403, "EFSMountFailureException", Rejected),
            (502, "KMSAccessDeniedException", Rejected),
            (502, "KMSDisabledException", Rejected),
            (502, "KMSInvalidStateException", Rejected),
            (502, "KMSNotFoundException", Rejected),
            (400, "RecursiveInvocationException", Rejected),
            (400, "SnapStartException", Rejected),
            (415, "UnsupportedMediaTypeException", Rejected),
            (403, "AccessDeniedException", Rejected),
            (403, "", Rejected),
            (429, "", Throttled),
            (413, "", TooLarge),
            (408, "", Timeout),
            (503, "SomethingNew", ServerError),
            (400, "SomethingNew", Rejected),
        ];
        for (status, code, kind) in table {
            assert_eq!(classify_lambda_error(status, code), kind, "{status} {code}");
        }
    }
}
