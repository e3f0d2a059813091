//! Configuration from environment variables: which variables the kit reads, and the error
//! when one is missing or wrong.

use std::time::Duration;

use crate::keyring::Keyring;
use crate::verify::Verifier;

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

impl Keyring {
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
                    Some(previous) => keyring.also_secret(previous).into(),
                    None => keyring.into(),
                }
            }
        };
        Ok(keyring)
    }
}

impl Verifier {
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
