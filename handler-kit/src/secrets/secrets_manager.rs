//! AWS Secrets Manager (feature `secrets-manager`): the `AWSCURRENT` and `AWSPREVIOUS`
//! versions of one secret.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{
    FetchFuture, SecretError, SecretErrorKind, SecretSource, aws_advice, aws_error_kind,
    keyring_from_secret_text,
};
use crate::keyring::Keyring;

/// The version a rotation makes current.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The version a rotation replaced; still accepted until the next rotation.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A Secrets Manager secret: its `AWSCURRENT` version, and its `AWSPREVIOUS` one when there
/// is one (during a rotation, both verify). Each version's `SecretString` is the app secret or
/// a JSON map of app key to secrets ([`keyring_from_secret_text`]). The function's role needs
/// `secretsmanager:GetSecretValue` on the secret.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use soketi_handler_kit::Verifier;
/// use soketi_handler_kit::secrets::{RefreshPolicy, SecretsManagerSecret};
/// let aws = aws_config::load_from_env().await;
/// let source = SecretsManagerSecret::new(
///     aws_sdk_secretsmanager::Client::new(&aws),
///     "arn:aws:secretsmanager:eu-central-1:123456789012:secret:soketi-app-AbCdEf",
/// )
/// .app_key(Some("app1key".to_owned()));
/// let verifier = Verifier::from_source(source, RefreshPolicy::new()).await?;
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SecretsManagerSecret {
    client: Client,
    secret_id: String,
    app_key: Option<String>,
}

impl SecretsManagerSecret {
    /// The secret `secret_id` (its ARN, or its name), read with `client`.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerSecret {
            client,
            secret_id: secret_id.into(),
            app_key: None,
        }
    }

    /// The app key a plain (non-JSON) secret belongs to, as `SOKETI_APP_KEY`; `None`:
    /// single-secret mode.
    pub fn app_key(mut self, app_key: Option<String>) -> Self {
        self.app_key = app_key;
        self
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
                let kind = aws_error_kind(code);
                if kind == SecretErrorKind::NotFound && stage != AWSCURRENT {
                    return Ok(None);
                }
                return Err(SecretError::new(
                    kind,
                    self.describe(),
                    format!(
                        "{}: GetSecretValue ({stage}) failed: {}",
                        aws_advice(kind, "secretsmanager:GetSecretValue"),
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

    fn parse(&self, stage: &str, text: &str) -> Result<Keyring, SecretError> {
        keyring_from_secret_text(text, self.app_key.as_deref()).map_err(|e| {
            SecretError::new(
                SecretErrorKind::Malformed,
                self.describe(),
                format!("its {stage} version: {e}"),
            )
        })
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
            let keyring = self.parse(AWSCURRENT, &current)?;
            let previous = match self.version(AWSPREVIOUS).await? {
                Some(text) if text != current => text,
                _ => return Ok(keyring),
            };
            match self.parse(AWSPREVIOUS, &previous) {
                Ok(previous) => Ok(keyring.with_previous(previous)),
                // The rotation is what counts: a previous version that no longer parses (the
                // format changed) is left out, said once per read.
                Err(error) => {
                    tracing::warn!("{error}; only AWSCURRENT is accepted");
                    Ok(keyring)
                }
            }
        })
    }

    fn describe(&self) -> String {
        format!("Secrets Manager secret {}", self.secret_id)
    }
}
