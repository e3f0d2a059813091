//! Verification: which secrets sign for which app key, the HMAC check over the raw payload
//! bytes, and the opt-in maximum age.
//!
//! There is deliberately **no default maximum age**: Lambda retries asynchronous invocations
//! for up to six hours, so a default window would silently reject (and so lose) retried
//! events. Turn it on with [`Verifier::max_age`] only if your function is always invoked
//! synchronously or your retries are short.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ErrorKind;
use crate::wire::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE};
use crate::wire::payload::now_ms;
use crate::wire::{
    Envelope, EnvelopeError, HeaderError, Headers, PayloadError, ReceivedPayload, Secret,
    Signature, SignatureFormatError,
};

/// Environment variable: the app secret (single-app mode).
pub const ENV_SECRET: &str = "SOKETI_SECRET";
/// Environment variable: the app key that must be in `X-Pusher-Key` (optional).
pub const ENV_APP_KEY: &str = "SOKETI_APP_KEY";
/// Environment variable: the previous secret, still accepted during a rotation (optional).
pub const ENV_PREVIOUS_SECRET: &str = "SOKETI_PREVIOUS_SECRET";
/// Environment variable: a JSON map of app key to secret (or array of secrets), for several
/// apps. Exclusive with the three above.
pub const ENV_APPS: &str = "SOKETI_APPS";
/// Environment variable: the opt-in maximum age of a payload, in seconds (optional).
pub const ENV_MAX_AGE_SECONDS: &str = "SOKETI_MAX_AGE_SECONDS";

/// Which secrets may sign, and for which app keys.
///
/// ```
/// use soketi_handler_kit::Keyring;
/// // One app, no key check:
/// let simple = Keyring::single_secret("app1secret");
/// // Several apps; app1 is rotating its secret, so both verify:
/// let apps = Keyring::new()
///     .app("app1key", "new-secret")
///     .app("app1key", "old-secret")
///     .app("app2key", "app2secret");
/// assert_eq!(apps.app_keys().count(), 2);
/// ```
#[derive(Clone, Default)]
pub struct Keyring {
    /// Secrets accepted whatever `X-Pusher-Key` says (single-secret mode).
    any_key: Vec<Secret>,
    /// Secrets per app key; when non-empty, `X-Pusher-Key` must name one of them.
    apps: HashMap<String, Vec<Secret>>,
}

impl Keyring {
    /// An empty keyring: add apps with [`Keyring::app`].
    pub fn new() -> Self {
        Keyring::default()
    }

    /// Single-secret mode: any payload signed with `secret` verifies, whatever its
    /// `X-Pusher-Key`.
    pub fn single_secret(secret: impl AsRef<[u8]>) -> Self {
        Keyring {
            any_key: vec![Secret::new(secret)],
            apps: HashMap::new(),
        }
    }

    /// Adds another secret to single-secret mode (e.g. the previous one during a rotation).
    pub fn also_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.any_key.push(Secret::new(secret));
        self
    }

    /// Accepts `secret` for app `key`. Call again with the same key to accept several secrets
    /// (rotation: any current secret verifies). Once any app is configured, `X-Pusher-Key` must
    /// name a configured app.
    pub fn app(mut self, key: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.apps
            .entry(key.into())
            .or_default()
            .push(Secret::new(secret));
        self
    }

    /// The configured app keys (none in single-secret mode).
    pub fn app_keys(&self) -> impl Iterator<Item = &str> {
        self.apps.keys().map(String::as_str)
    }

    /// Reads `SOKETI_SECRET` (with optional `SOKETI_APP_KEY` and `SOKETI_PREVIOUS_SECRET`), or
    /// `SOKETI_APPS`, a JSON object such as `{"app1key": "secret", "app2key": ["new", "old"]}`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Keyring::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Keyring::from_env`], reading variables through `lookup` (for tests, or other
    /// configuration sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(apps) = get(ENV_APPS) {
            for other in [ENV_SECRET, ENV_APP_KEY, ENV_PREVIOUS_SECRET] {
                if get(other).is_some() {
                    return Err(ConfigError::new(
                        other,
                        format!("set either {ENV_APPS} or {other}, not both"),
                    ));
                }
            }
            return Keyring::from_apps_json(&apps)
                .map_err(|e| ConfigError::new(ENV_APPS, e.reason));
        }
        let Some(secret) = get(ENV_SECRET) else {
            return Err(ConfigError::new(
                ENV_SECRET,
                format!(
                    "is not set: set it to the app secret from soketi's app configuration \
                     (or set {ENV_APPS} for several apps)"
                ),
            ));
        };
        let previous = get(ENV_PREVIOUS_SECRET);
        let keyring = match get(ENV_APP_KEY) {
            Some(key) => {
                let keyring = Keyring::new().app(key.clone(), secret);
                match previous {
                    Some(previous) => keyring.app(key, previous),
                    None => keyring,
                }
            }
            None => {
                let keyring = Keyring::single_secret(secret);
                match previous {
                    Some(previous) => keyring.also_secret(previous),
                    None => keyring,
                }
            }
        };
        Ok(keyring)
    }

    /// A keyring from a JSON object of app key to secret or array of secrets.
    ///
    /// ```
    /// use soketi_handler_kit::Keyring;
    /// let keyring = Keyring::from_apps_json(r#"{"app1key":"s1","app2key":["new","old"]}"#)?;
    /// assert_eq!(keyring.app_keys().count(), 2);
    /// assert!(Keyring::from_apps_json(r#"{"app1key":""}"#).is_err());
    /// # Ok::<(), soketi_handler_kit::ConfigError>(())
    /// ```
    pub fn from_apps_json(json: &str) -> Result<Self, ConfigError> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Secrets {
            One(String),
            Many(Vec<String>),
        }
        let map: HashMap<String, Secrets> = serde_json::from_str(json).map_err(|e| {
            ConfigError::new(
                "apps",
                format!(
                    "must be a JSON object of app key to secret or array of secrets, \
                     e.g. {{\"app1key\": \"secret\"}}: {e}"
                ),
            )
        })?;
        if map.is_empty() {
            return Err(ConfigError::new("apps", "names no app"));
        }
        let mut keyring = Keyring::new();
        for (key, secrets) in map {
            let secrets = match secrets {
                Secrets::One(s) => vec![s],
                Secrets::Many(v) => v,
            };
            if key.is_empty() {
                return Err(ConfigError::new("apps", "has an empty app key"));
            }
            if secrets.is_empty() || secrets.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    "apps",
                    format!("app `{key}` has an empty secret or no secret"),
                ));
            }
            for secret in secrets {
                keyring = keyring.app(key.clone(), secret);
            }
        }
        Ok(keyring)
    }

    fn secrets_for(&self, key: Option<&str>) -> Result<&[Secret], Rejection> {
        if self.apps.is_empty() {
            return Ok(&self.any_key);
        }
        let key = key.ok_or(Rejection::MissingAppKey)?;
        self.apps
            .get(key)
            .map(Vec::as_slice)
            .ok_or_else(|| Rejection::UnknownAppKey {
                key: key.to_owned(),
            })
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut apps: Vec<(&str, usize)> = self
            .apps
            .iter()
            .map(|(k, s)| (k.as_str(), s.len()))
            .collect();
        apps.sort();
        f.debug_struct("Keyring")
            .field("single_secrets", &self.any_key.len())
            .field("apps (key, secrets)", &apps)
            .finish()
    }
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Checks envelopes and payloads against a [`Keyring`].
#[derive(Clone)]
pub struct Verifier {
    keyring: Keyring,
    max_age: Option<Duration>,
    clock: Clock,
}

impl Verifier {
    /// A verifier with no maximum age.
    pub fn new(keyring: Keyring) -> Self {
        Verifier {
            keyring,
            max_age: None,
            clock: Arc::new(now_ms),
        }
    }

    /// The keyring from the environment (see [`Keyring::from_env`]) and, when
    /// `SOKETI_MAX_AGE_SECONDS` is set, that maximum age.
    pub fn from_env() -> Result<Self, ConfigError> {
        Verifier::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Verifier::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let keyring = Keyring::from_lookup(&lookup)?;
        let verifier = Verifier::new(keyring);
        match lookup(ENV_MAX_AGE_SECONDS).filter(|v| !v.is_empty()) {
            None => Ok(verifier),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(secs) if secs > 0 => Ok(verifier.max_age(Duration::from_secs(secs))),
                _ => Err(ConfigError::new(
                    ENV_MAX_AGE_SECONDS,
                    format!("must be a whole number of seconds above 0, got `{text}`"),
                )),
            },
        }
    }

    /// Rejects payloads whose `time_ms` is older than `max_age` (opt-in; see the module docs
    /// for why there is no default).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Replaces the clock used for the maximum age (milliseconds since the Unix epoch).
    pub fn clock(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now_ms);
        self
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Verifies a Lambda invocation body.
    ///
    /// ```
    /// use soketi_handler_kit::{Keyring, Verifier};
    /// let body = std::fs::read(concat!(
    ///     env!("CARGO_MANIFEST_DIR"),
    ///     "/tests/vectors/soketi-1.6.1/001.json"
    /// ))?;
    /// let verifier = Verifier::new(Keyring::new().app("app1key", "app1secret"));
    /// let verified = verifier.verify_lambda_body(&body)?;
    /// assert_eq!(verified.app_key(), Some("app1key"));
    /// assert_eq!(verified.payload().time_ms(), 1795877256368);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_lambda_body<'a>(&self, body: &'a [u8]) -> Result<Verified<'a>, Rejection> {
        let envelope = Envelope::parse(body)?;
        self.verify_envelope(&envelope)
    }

    /// Verifies a parsed invocation envelope.
    pub fn verify_envelope<'a>(&self, envelope: &Envelope<'a>) -> Result<Verified<'a>, Rejection> {
        self.verify_with_headers(envelope.payload_json().as_bytes(), envelope.headers())
    }

    /// Verifies an HTTP webhook: the whole body is the payload, the headers are the request's.
    pub fn verify_http<'a>(
        &self,
        body: &'a [u8],
        headers: &Headers<'_>,
    ) -> Result<Verified<'a>, Rejection> {
        self.verify_with_headers(body, headers)
    }

    fn verify_with_headers<'a>(
        &self,
        payload: &'a [u8],
        headers: &Headers<'_>,
    ) -> Result<Verified<'a>, Rejection> {
        let signature = headers.get(X_PUSHER_SIGNATURE)?;
        let key = headers.get(X_PUSHER_KEY)?;
        self.verify_parts(payload, key, signature)
    }

    /// Verifies payload bytes given the `X-Pusher-Key` and `X-Pusher-Signature` values.
    /// Checks, in order: signature present and well-formed, app key known, HMAC over the
    /// exact bytes, payload shape, and (if configured) age.
    pub fn verify_parts<'a>(
        &self,
        payload: &'a [u8],
        key: Option<&str>,
        signature: Option<&str>,
    ) -> Result<Verified<'a>, Rejection> {
        let signature = signature.ok_or(Rejection::MissingSignature)?;
        let signature = Signature::from_hex(signature)?;
        let secrets = self.keyring.secrets_for(key)?;
        // Every secret is tried, so the time taken does not say which one matched.
        let valid = secrets.iter().fold(false, |ok, secret| {
            secret.verifies(payload, &signature) | ok
        });
        if !valid {
            return Err(Rejection::InvalidSignature {
                key: key.map(str::to_owned),
            });
        }
        let text = std::str::from_utf8(payload)
            .map_err(|e| Rejection::MalformedPayload(PayloadError::not_utf8(e)))?;
        let payload = ReceivedPayload::parse(text)?;
        if let Some(max_age) = self.max_age {
            let now = (self.clock)();
            let age_ms = now.saturating_sub(payload.time_ms());
            let max_age_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
            if age_ms > max_age_ms {
                return Err(Rejection::Expired { age_ms, max_age_ms });
            }
        }
        Ok(Verified {
            app_key: key.map(str::to_owned),
            payload,
        })
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keyring", &self.keyring)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// A payload whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified<'a> {
    app_key: Option<String>,
    payload: ReceivedPayload<'a>,
}

impl<'a> Verified<'a> {
    /// The `X-Pusher-Key` it came with (`None` only in single-secret mode without the header).
    pub fn app_key(&self) -> Option<&str> {
        self.app_key.as_deref()
    }

    /// The payload.
    pub fn payload(&self) -> &ReceivedPayload<'a> {
        &self.payload
    }
}

/// Why a webhook was rejected. See [`Rejection::kind`] for the stable names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a soketi envelope.
    #[error(transparent)]
    MalformedEnvelope(#[from] EnvelopeError),
    /// A header could not be read unambiguously.
    #[error("{0}")]
    MalformedHeader(#[from] HeaderError),
    /// No `X-Pusher-Signature`.
    #[error(
        "no X-Pusher-Signature header: the webhook is not signed (is this invocation from soketi?)"
    )]
    MissingSignature,
    /// `X-Pusher-Signature` is not 64 lowercase hex digits.
    #[error("X-Pusher-Signature is malformed: {0}")]
    MalformedSignature(#[from] SignatureFormatError),
    /// Apps are configured but no `X-Pusher-Key` came.
    #[error("no X-Pusher-Key header, but app keys are configured: cannot tell which app sent it")]
    MissingAppKey,
    /// `X-Pusher-Key` names no configured app.
    #[error(
        "X-Pusher-Key `{key}` is not a configured app: add it to SOKETI_APPS or SOKETI_APP_KEY, or check soketi's app key"
    )]
    UnknownAppKey {
        /// The key received.
        key: String,
    },
    /// The signature does not match the payload with any secret of the app.
    #[error(
        "X-Pusher-Signature does not match the payload{}: the secret differs from soketi's app secret, or the payload was altered",
        key.as_deref().map(|k| format!(" for app key `{k}`")).unwrap_or_default()
    )]
    InvalidSignature {
        /// The app key it claimed, if any.
        key: Option<String>,
    },
    /// Validly signed, but not a webhook payload.
    #[error(transparent)]
    MalformedPayload(#[from] PayloadError),
    /// Older than the configured maximum age.
    #[error("the payload is {age_ms} ms old, more than the configured maximum of {max_age_ms} ms")]
    Expired {
        /// Its age when checked.
        age_ms: u64,
        /// The configured maximum.
        max_age_ms: u64,
    },
}

impl Rejection {
    /// The stable kind: what a Lambda function error's `errorType` says, and what to match on.
    /// A duplicated or non-string header is a `MalformedEnvelope`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Rejection::MalformedEnvelope(_) | Rejection::MalformedHeader(_) => {
                ErrorKind::MalformedEnvelope
            }
            Rejection::MissingSignature => ErrorKind::MissingSignature,
            Rejection::MalformedSignature(_) => ErrorKind::MalformedSignature,
            Rejection::MissingAppKey => ErrorKind::MissingAppKey,
            Rejection::UnknownAppKey { .. } => ErrorKind::UnknownAppKey,
            Rejection::InvalidSignature { .. } => ErrorKind::InvalidSignature,
            Rejection::MalformedPayload(_) => ErrorKind::MalformedPayload,
            Rejection::Expired { .. } => ErrorKind::Expired,
        }
    }
}

/// A configuration value is missing or wrong. The message names the variable or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} {reason}")]
pub struct ConfigError {
    source_name: String,
    reason: String,
}

impl ConfigError {
    /// An error about `source_name` (an environment variable or field).
    pub fn new(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    /// The variable or field at fault.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
}
