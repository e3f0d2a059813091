//! AWS Secrets Manager (feature `secrets-manager`): the `AWSCURRENT` and `AWSPREVIOUS`
//! versions of one secret.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::aws::{advice, error_kind};
use super::{FetchFuture, SecretError, SecretErrorKind, SecretSource, SecretText};

/// The version a rotation makes current.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The version a rotation replaced; still accepted until the next rotation.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A Secrets Manager secret: the `SecretString` of its `AWSCURRENT` version, and of its
/// `AWSPREVIOUS` one when there is one that differs (during a rotation, both verify). Each
/// read costs two `GetSecretValue` calls (the second finds no `AWSPREVIOUS` when there is
/// none). The function's role needs `secretsmanager:GetSecretValue` on the secret.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use soketi_handler_kit::Verifier;
/// use soketi_handler_kit::secrets::{RefreshPolicy, SecretsManagerSecret};
/// let aws = soketi_handler_kit::aws::config_loader().load().await;
/// let source = SecretsManagerSecret::new(
///     aws_sdk_secretsmanager::Client::new(&aws),
///     "arn:aws:secretsmanager:eu-central-1:123456789012:secret:soketi-app-AbCdEf",
/// );
/// let verifier = Verifier::from_source(source, RefreshPolicy::new()).await?;
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SecretsManagerSecret {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSecret {
    /// The secret `secret_id` (its ARN, or its name), read with `client`.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerSecret {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// One version's text; `Ok(None)` when that stage does not exist (no previous version).
    async fn version(&self, stage: &str) -> Result<Option<String>, SecretError> {
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let output = match answer {
            Ok(output) => output,
            Err(error) => {
                let code = match &error {
                    SdkError::ServiceError(e) => e.err().code(),
                    _ => None,
                };
                let kind = error_kind(code);
                if kind == SecretErrorKind::NotFound && stage != AWSCURRENT {
                    return Ok(None);
                }
                return Err(SecretError::new(
                    kind,
                    self.describe(),
                    format!(
                        "{}: GetSecretValue ({stage}) failed: {}",
                        advice(kind, "secretsmanager:GetSecretValue"),
                        DisplayErrorContext(&error)
                    ),
                ));
            }
        };
        match output.secret_string() {
            Some(text) => Ok(Some(text.to_owned())),
            None => Err(SecretError::new(
                SecretErrorKind::Malformed,
                self.describe(),
                format!(
                    "its {stage} version has no SecretString (a binary secret): store the app \
                     secret, or a JSON map of app key to secret, as text"
                ),
            )),
        }
    }
}

impl SecretSource for SecretsManagerSecret {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            let current = self.version(AWSCURRENT).await?.ok_or_else(|| {
                SecretError::new(
                    SecretErrorKind::NotFound,
                    self.describe(),
                    "it has no AWSCURRENT version",
                )
            })?;
            Ok(match self.version(AWSPREVIOUS).await? {
                Some(previous) if previous != current => {
                    SecretText::new(current).with_previous(previous)
                }
                _ => SecretText::new(current),
            })
        })
    }

    fn describe(&self) -> String {
        format!("Secrets Manager secret {}", self.secret_id)
    }
}
