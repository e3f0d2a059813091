//! The app secret read from a secret store at start, cached and refreshed (feature
//! `secret-source`; the AWS sources with `secrets-manager` and `ssm`).
//!
//! - [`SecretSource`] (here): what reads the secrets, as a [`Keyring`];
//! - [`RefreshPolicy`]: when the cached keyring is read again;
//! - `refresh`: the cached keyring the [`Verifier`](crate::Verifier) checks against, swapped
//!   without a lock on the verification path;
//! - [`SecretsManagerSecret`] (`secrets-manager`): `AWSCURRENT` and `AWSPREVIOUS` of a secret;
//! - [`SsmParameter`] (`ssm`): a SecureString parameter, decrypted.
//!
//! A secret's text is the app secret itself, or a JSON object of app key to secret (or array
//! of secrets), as `SOKETI_APPS` takes ([`keyring_from_secret_text`]).
//!
//! When it is read: once at start (a missing or unreadable secret fails the start: there is
//! never a keyring without secrets); again before verifying once the cached keyring is older
//! than [`RefreshPolicy::every`]; and when a signature does not match (or names an app key the
//! keyring does not know), at most once per [`RefreshPolicy::on_mismatch`], before the webhook
//! is rejected: a rotated secret is picked up by the first webhook it signs. A failed re-read
//! keeps the cached keyring and is logged.

mod refresh;
#[cfg(feature = "secrets-manager")]
mod secrets_manager;
#[cfg(feature = "ssm")]
mod ssm;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub(crate) use refresh::LiveKeyring;
#[cfg(feature = "secrets-manager")]
pub use secrets_manager::SecretsManagerSecret;
#[cfg(feature = "ssm")]
pub use ssm::SsmParameter;

use crate::config::ConfigError;
use crate::keyring::Keyring;

/// What [`SecretSource::fetch`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Keyring, SecretError>> + Send + 'a>>;

/// Where the secrets come from: read at start, then again as the [`RefreshPolicy`] says.
///
/// ```
/// use soketi_handler_kit::Keyring;
/// use soketi_handler_kit::secrets::{FetchFuture, SecretSource};
///
/// /// A source of your own (a vault, a file): here, a fixed secret.
/// struct Fixed;
/// impl SecretSource for Fixed {
///     fn fetch(&self) -> FetchFuture<'_> {
///         Box::pin(async { Ok(Keyring::single_secret("s3cret").into()) })
///     }
///     fn describe(&self) -> String {
///         "a fixed secret".into()
///     }
/// }
/// ```
pub trait SecretSource: Send + Sync + 'static {
    /// Reads the secrets now. The keyring must hold at least one secret.
    fn fetch(&self) -> FetchFuture<'_>;
    /// What is read (an ARN, a parameter name; never a secret), for messages and logs.
    fn describe(&self) -> String;
}

/// When the cached keyring is read again. The defaults: every 5 minutes (how long a secret
/// removed from the store may still verify), and on a signature mismatch at most once every
/// 5 seconds (how soon a new secret is picked up, and how often forged webhooks can make the
/// function call the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    every: Duration,
    on_mismatch: Duration,
}

/// The default of [`RefreshPolicy::every`].
pub const DEFAULT_REFRESH_EVERY: Duration = Duration::from_secs(300);
/// The default of [`RefreshPolicy::on_mismatch`].
pub const DEFAULT_REFRESH_ON_MISMATCH: Duration = Duration::from_secs(5);

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            every: DEFAULT_REFRESH_EVERY,
            on_mismatch: DEFAULT_REFRESH_ON_MISMATCH,
        }
    }
}

impl RefreshPolicy {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        RefreshPolicy::default()
    }

    /// The keyring is read again before a verification once it is older than `every`
    /// (`Duration::ZERO`: before every verification).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// When a signature does not match, the keyring is read again (and the webhook checked
    /// once more) if the last such read is older than `interval` (`Duration::ZERO`: on every
    /// mismatch).
    pub fn on_mismatch(mut self, interval: Duration) -> Self {
        self.on_mismatch = interval;
        self
    }

    /// The interval of [`RefreshPolicy::every`].
    pub fn every_interval(&self) -> Duration {
        self.every
    }

    /// The interval of [`RefreshPolicy::on_mismatch`].
    pub fn on_mismatch_interval(&self) -> Duration {
        self.on_mismatch
    }
}

/// The secrets could not be read. The message names the secret (never its value) and says
/// what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the app secret from {source_name}: {reason}")]
pub struct SecretError {
    kind: SecretErrorKind,
    source_name: String,
    reason: String,
}

/// The stable kind of a [`SecretError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretErrorKind {
    /// The secret or parameter does not exist (or has no current value).
    NotFound,
    /// The function's role may not read it (or decrypt it).
    AccessDenied,
    /// It was read, but its value is not an app secret or a JSON map of app key to secrets.
    Malformed,
    /// The store could not be reached or failed (network, throttling, service error).
    Unavailable,
}

impl SecretErrorKind {
    /// The stable name, e.g. `"AccessDenied"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SecretErrorKind::NotFound => "NotFound",
            SecretErrorKind::AccessDenied => "AccessDenied",
            SecretErrorKind::Malformed => "Malformed",
            SecretErrorKind::Unavailable => "Unavailable",
        }
    }
}

impl fmt::Display for SecretErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SecretError {
    /// An error of `kind` about `source_name` (an ARN, a parameter name).
    pub fn new(
        kind: SecretErrorKind,
        source_name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        SecretError {
            kind,
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    /// The stable kind.
    pub fn kind(&self) -> SecretErrorKind {
        self.kind
    }

    /// What could not be read.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}

/// The keyring a secret's text stands for: a JSON object (`{"app1key": "secret",
/// "app2key": ["new", "old"]}`, as `SOKETI_APPS` takes), or else the app secret itself — for
/// `app_key` when given (as `SOKETI_APP_KEY`), otherwise in single-secret mode. Surrounding
/// whitespace is not part of a secret. The error never repeats the text.
///
/// ```
/// use soketi_handler_kit::secrets::keyring_from_secret_text;
/// let one = keyring_from_secret_text("s3cret\n", Some("app1key"))?;
/// assert_eq!(one.app_keys().collect::<Vec<_>>(), ["app1key"]);
/// let apps = keyring_from_secret_text(r#"{"app1key":"a","app2key":["b","c"]}"#, None)?;
/// assert_eq!(apps.app_keys().count(), 2);
/// assert!(keyring_from_secret_text("  ", None).is_err());
/// # Ok::<(), soketi_handler_kit::ConfigError>(())
/// ```
pub fn keyring_from_secret_text(text: &str, app_key: Option<&str>) -> Result<Keyring, ConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ConfigError::new("the secret", "is empty"));
    }
    if text.starts_with('{') {
        if app_key.is_some() {
            return Err(ConfigError::new(
                "the secret",
                "is a JSON map of app keys, and SOKETI_APP_KEY is set too: the map names the \
                 apps, unset SOKETI_APP_KEY",
            ));
        }
        return Keyring::from_apps_json(text);
    }
    Ok(match app_key {
        Some(key) => Keyring::new().app(key, text),
        None => Keyring::single_secret(text).into(),
    })
}

/// Reads the secret source named by the environment (through `lookup`), with the region,
/// credentials and endpoint of `aws`: `SOKETI_SECRET_ARN` (feature `secrets-manager`) or
/// `SOKETI_SECRET_PARAMETER` (feature `ssm`), with the optional `SOKETI_APP_KEY`. `None` when
/// neither is set.
#[cfg(any(feature = "secrets-manager", feature = "ssm"))]
pub fn aws_source_from_lookup(
    lookup: &impl Fn(&str) -> Option<String>,
    aws: &aws_config::SdkConfig,
) -> Result<Option<Box<dyn SecretSource>>, ConfigError> {
    use crate::config::{ENV_APP_KEY, ENV_SECRET_ARN, ENV_SECRET_PARAMETER};
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let app_key = get(ENV_APP_KEY);
    #[cfg(feature = "secrets-manager")]
    if let Some(arn) = get(ENV_SECRET_ARN) {
        let client = aws_sdk_secretsmanager::Client::new(aws);
        let source = SecretsManagerSecret::new(client, arn.trim()).app_key(app_key);
        return Ok(Some(Box::new(source)));
    }
    #[cfg(feature = "ssm")]
    if let Some(name) = get(ENV_SECRET_PARAMETER) {
        let client = aws_sdk_ssm::Client::new(aws);
        let source = SsmParameter::new(client, name.trim()).app_key(app_key);
        return Ok(Some(Box::new(source)));
    }
    let _ = (ENV_SECRET_ARN, ENV_SECRET_PARAMETER, app_key);
    Ok(None)
}

/// The kind of a failed AWS call, from its error code (`None`: the service was not reached or
/// did not answer).
#[cfg(any(feature = "secrets-manager", feature = "ssm"))]
fn aws_error_kind(code: Option<&str>) -> SecretErrorKind {
    match code {
        Some("ResourceNotFoundException" | "ParameterNotFound" | "ParameterVersionNotFound") => {
            SecretErrorKind::NotFound
        }
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "DecryptionFailure"
            | "InvalidKeyId"
            | "KMSAccessDeniedException"
            | "ExpiredTokenException",
        ) => SecretErrorKind::AccessDenied,
        _ => SecretErrorKind::Unavailable,
    }
}

/// What to do about an error of `kind` reading `what`, with `grant` the IAM action needed.
#[cfg(any(feature = "secrets-manager", feature = "ssm"))]
fn aws_advice(kind: SecretErrorKind, grant: &str) -> String {
    match kind {
        SecretErrorKind::NotFound => "it does not exist in this account and region: check the \
             name or ARN and the function's region"
            .to_owned(),
        SecretErrorKind::AccessDenied => format!(
            "access denied: allow {grant} on it to the function's role (and kms:Decrypt on its \
             KMS key if it is not the AWS managed one)"
        ),
        _ => "the service could not be reached or failed; it is read again later".to_owned(),
    }
}
