//! A secret read from a store at start, cached and read again (feature `secret-source`; the
//! AWS stores with `secrets-manager` and `ssm`). Three layers, each usable on its own:
//!
//! - **reading** — a [`SecretSource`] gives a secret's texts ([`SecretText`]: the current
//!   version, and the previous one when the store keeps it): [`SecretsManagerSecret`]
//!   (`AWSCURRENT` and `AWSPREVIOUS`), [`SsmParameter`] (a SecureString, decrypted), or one of
//!   your own;
//! - **caching** — [`CachedSecret<T>`] holds the texts parsed into any `T` (a parse you give),
//!   swapped without a lock on the read path, read again when old and, on a signature
//!   mismatch, within a small token bucket ([`RefreshPolicy`]);
//! - **meaning** — the kit's own user is the [`Verifier`](crate::Verifier)'s keyring
//!   ([`Verifier::from_source`](crate::Verifier::from_source), or `SOKETI_SECRET_ARN` /
//!   `SOKETI_SECRET_PARAMETER`): each text is the app secret, or a JSON object of app key to
//!   secret (or array of secrets) as `SOKETI_APP_SECRETS` takes.
//!
//! When the keyring is read: once at start (a missing or unreadable secret fails the start:
//! there is never a keyring without secrets); again before verifying once the cached one is
//! older than [`RefreshPolicy::every`]; and when a signature does not match the secrets of an
//! app the keyring knows, before the webhook is rejected, so that a rotated secret is picked up
//! by the first webhook it signs. Those mismatch reads spend tokens of a small bucket
//! ([`RefreshPolicy::mismatch_burst`] tokens, one back per [`RefreshPolicy::on_mismatch`]): a
//! few forged requests cannot use up the read a rotation needs, and a flood of them costs at
//! most one read per interval. A request naming an app key the keyring does not know never
//! causes a read (a new app is picked up by the periodic read). A failed read keeps the
//! cached value and is logged.

#[cfg(any(feature = "secrets-manager", feature = "ssm"))]
mod aws;
mod cache;
#[cfg(feature = "secrets-manager")]
mod secrets_manager;
#[cfg(feature = "ssm")]
mod ssm;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use cache::CachedSecret;
#[cfg(feature = "secrets-manager")]
pub use secrets_manager::{AWSCURRENT, AWSPREVIOUS, SecretsManagerSecret};
#[cfg(feature = "ssm")]
pub use ssm::SsmParameter;

/// The texts a store holds for one secret: its current version and, when the store keeps one
/// that differs, the previous version (Secrets Manager's `AWSPREVIOUS`, still valid during a
/// rotation). `Debug` shows their lengths, never the texts.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText {
    current: String,
    previous: Option<String>,
}

impl SecretText {
    /// A secret with only a current version.
    pub fn new(current: impl Into<String>) -> Self {
        SecretText {
            current: current.into(),
            previous: None,
        }
    }

    /// The previous version too.
    pub fn with_previous(mut self, previous: impl Into<String>) -> Self {
        self.previous = Some(previous.into());
        self
    }

    /// The current version's text.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// The previous version's text, if there is one.
    pub fn previous(&self) -> Option<&str> {
        self.previous.as_deref()
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretText")
            .field("current_bytes", &self.current.len())
            .field("previous_bytes", &self.previous.as_ref().map(String::len))
            .finish()
    }
}

/// What [`SecretSource::fetch`] returns.
pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<SecretText, SecretError>> + Send + 'a>>;

/// Where a secret's texts are read from: at start, then again as the [`RefreshPolicy`] says.
///
/// ```
/// use soketi_handler_kit::secrets::{FetchFuture, SecretSource, SecretText};
///
/// /// A source of your own (a vault, a file): here, a fixed secret.
/// struct Fixed;
/// impl SecretSource for Fixed {
///     fn fetch(&self) -> FetchFuture<'_> {
///         Box::pin(async { Ok(SecretText::new("s3cret")) })
///     }
///     fn describe(&self) -> String {
///         "a fixed secret".into()
///     }
/// }
/// ```
pub trait SecretSource: Send + Sync + 'static {
    /// Reads the secret's texts now.
    fn fetch(&self) -> FetchFuture<'_>;
    /// What is read (an ARN, a parameter name; never a secret), for messages and logs.
    fn describe(&self) -> String;
}

/// A boxed source is a source (the one [`AppSecret`](crate::config::AppSecret) names).
impl SecretSource for Box<dyn SecretSource> {
    fn fetch(&self) -> FetchFuture<'_> {
        (**self).fetch()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// When a [`CachedSecret`] is read again. The defaults: every 5 minutes (how long a secret
/// removed from the store may still verify), and on signature mismatches from a bucket of 3
/// reads, one read back every 5 seconds (how soon a new secret is picked up, and how often
/// forged webhooks can make the function call the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    every: Duration,
    on_mismatch: Duration,
    mismatch_burst: u32,
}

/// The default of [`RefreshPolicy::every`].
pub const DEFAULT_REFRESH_EVERY: Duration = Duration::from_secs(300);
/// The default of [`RefreshPolicy::on_mismatch`].
pub const DEFAULT_REFRESH_ON_MISMATCH: Duration = Duration::from_secs(5);
/// The default of [`RefreshPolicy::mismatch_burst`].
pub const DEFAULT_MISMATCH_BURST: u32 = 3;

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            every: DEFAULT_REFRESH_EVERY,
            on_mismatch: DEFAULT_REFRESH_ON_MISMATCH,
            mismatch_burst: DEFAULT_MISMATCH_BURST,
        }
    }
}

impl RefreshPolicy {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        RefreshPolicy::default()
    }

    /// The secret is read again before it is used once it is older than `every`
    /// (`Duration::ZERO`: before every use).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// On a signature mismatch the secret is read again (and the webhook checked once more)
    /// when the bucket holds a read; one read comes back every `interval` (`Duration::ZERO`: on
    /// every mismatch).
    pub fn on_mismatch(mut self, interval: Duration) -> Self {
        self.on_mismatch = interval;
        self
    }

    /// How many mismatch reads the bucket holds when full (at least 1): a few forged requests
    /// in a row still leave a read for the rotation that follows them.
    pub fn mismatch_burst(mut self, reads: u32) -> Self {
        self.mismatch_burst = reads.max(1);
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

/// The secret could not be read. The message names the secret (never its value) and says
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
    /// It was read, but its value is not what the parse expects.
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
