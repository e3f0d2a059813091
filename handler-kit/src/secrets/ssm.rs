//! AWS Systems Manager Parameter Store (feature `ssm`): one SecureString parameter, read
//! decrypted.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{
    FetchFuture, SecretError, SecretErrorKind, SecretSource, aws_advice, aws_error_kind,
    keyring_from_secret_text,
};

/// An SSM parameter (a `SecureString`, read with `WithDecryption`; a `String` works too) whose
/// value is the app secret or a JSON map of app key to secrets ([`keyring_from_secret_text`]).
/// The function's role needs `ssm:GetParameter` on it, and `kms:Decrypt` on its key when that
/// is a customer managed key. Parameter Store keeps no "previous" value: to rotate, put both
/// secrets in a JSON map (`{"app1key": ["new", "old"]}`), then drop the old one.
#[derive(Debug, Clone)]
pub struct SsmParameter {
    client: Client,
    name: String,
    app_key: Option<String>,
}

impl SsmParameter {
    /// The parameter `name` (or ARN), read with `client`.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        SsmParameter {
            client,
            name: name.into(),
            app_key: None,
        }
    }

    /// The app key a plain (non-JSON) value belongs to, as `SOKETI_APP_KEY`; `None`:
    /// single-secret mode.
    pub fn app_key(mut self, app_key: Option<String>) -> Self {
        self.app_key = app_key;
        self
    }
}

impl SecretSource for SsmParameter {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            let answer = self
                .client
                .get_parameter()
                .name(&self.name)
                .with_decryption(true)
                .send()
                .await;
            let output = answer.map_err(|error| {
                let code = match &error {
                    SdkError::ServiceError(e) => e.err().code(),
                    _ => None,
                };
                let kind = aws_error_kind(code);
                SecretError::new(
                    kind,
                    self.describe(),
                    format!(
                        "{}: GetParameter failed: {}",
                        aws_advice(kind, "ssm:GetParameter"),
                        DisplayErrorContext(&error)
                    ),
                )
            })?;
            let value = output.parameter().and_then(|p| p.value()).ok_or_else(|| {
                SecretError::new(
                    SecretErrorKind::NotFound,
                    self.describe(),
                    "it has no value",
                )
            })?;
            keyring_from_secret_text(value, self.app_key.as_deref()).map_err(|e| {
                SecretError::new(SecretErrorKind::Malformed, self.describe(), e.to_string())
            })
        })
    }

    fn describe(&self) -> String {
        format!("SSM parameter {}", self.name)
    }
}
