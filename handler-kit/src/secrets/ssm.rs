//! AWS Systems Manager Parameter Store (feature `ssm`): one SecureString parameter, read
//! decrypted.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::aws::{advice, error_kind};
use super::{FetchFuture, SecretError, SecretErrorKind, SecretSource, SecretText};

/// An SSM parameter (a `SecureString`, read with `WithDecryption`; a `String` works too): one
/// `GetParameter` call per read.
/// The function's role needs `ssm:GetParameter` on it, and `kms:Decrypt` on its key when that
/// is a customer managed key. Parameter Store keeps no "previous" value: to rotate, put both
/// secrets in a JSON map (`{"app1key": ["new", "old"]}`), then drop the old one.
#[derive(Debug, Clone)]
pub struct SsmParameter {
    client: Client,
    name: String,
}

impl SsmParameter {
    /// The parameter `name` (or ARN), read with `client`.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        SsmParameter {
            client,
            name: name.into(),
        }
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
                let kind = error_kind(code);
                SecretError::new(
                    kind,
                    self.describe(),
                    format!(
                        "{}: GetParameter failed: {}",
                        advice(kind, "ssm:GetParameter"),
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
            Ok(SecretText::new(value))
        })
    }

    fn describe(&self) -> String {
        format!("SSM parameter {}", self.name)
    }
}
