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
/// Environment variable: the ARN (or name) of an AWS Secrets Manager secret holding the app
/// secret, or a JSON map of app key to secrets (feature `secrets-manager`). Exclusive with
/// `SOKETI_SECRET`, `SOKETI_PREVIOUS_SECRET`, `SOKETI_APPS` and `SOKETI_SECRET_PARAMETER`.
pub const ENV_SECRET_ARN: &str = "SOKETI_SECRET_ARN";
/// Environment variable: the name of an SSM SecureString parameter holding the app secret, or a
/// JSON map of app key to secrets (feature `ssm`). Exclusive like `SOKETI_SECRET_ARN`.
pub const ENV_SECRET_PARAMETER: &str = "SOKETI_SECRET_PARAMETER";
/// Environment variable: with a secret store, re-read the secret when the cached one is older
/// than this many seconds (default 300; 0: before every webhook).
pub const ENV_SECRET_REFRESH_SECONDS: &str = "SOKETI_SECRET_REFRESH_SECONDS";
/// Environment variable: with a secret store, when a signature does not match, re-read the
/// secret if the last such re-read is older than this many seconds (default 5; 0: always).
pub const ENV_SECRET_MISMATCH_REFRESH_SECONDS: &str = "SOKETI_SECRET_MISMATCH_REFRESH_SECONDS";
/// Environment variable: the DynamoDB table recording handled events (feature
/// `idempotency-dynamodb`; optional): when set, `Webhooks::from_env_async` runs each event's
/// callbacks once per payload.
pub const ENV_IDEMPOTENCY_TABLE: &str = "SOKETI_IDEMPOTENCY_TABLE";
/// Environment variable: how long a handled event is remembered, in seconds (default 86400).
pub const ENV_IDEMPOTENCY_TTL_SECONDS: &str = "SOKETI_IDEMPOTENCY_TTL_SECONDS";

/// Where the app secret lives, as the environment says.
#[cfg_attr(not(feature = "secret-source"), allow(dead_code))]
pub(crate) enum SecretLocation {
    /// In `SOKETI_SECRET` / `SOKETI_APPS`.
    Environment,
    /// In a secret store (`SOKETI_SECRET_ARN` or `SOKETI_SECRET_PARAMETER`): the variable.
    Store(&'static str),
}

/// Which of the secret variables is set; an error when they conflict.
pub(crate) fn secret_location(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<SecretLocation, ConfigError> {
    let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
    let stores: Vec<&'static str> = [ENV_SECRET_ARN, ENV_SECRET_PARAMETER]
        .into_iter()
        .filter(|name| set(name))
        .collect();
    let Some(&store) = stores.first() else {
        return Ok(SecretLocation::Environment);
    };
    if stores.len() > 1 {
        return Err(ConfigError::new(
            ENV_SECRET_PARAMETER,
            format!("set either {ENV_SECRET_ARN} or {ENV_SECRET_PARAMETER}, not both"),
        ));
    }
    for other in [ENV_SECRET, ENV_PREVIOUS_SECRET, ENV_APPS] {
        if set(other) {
            return Err(ConfigError::new(
                other,
                format!(
                    "set either {store} or {other}, not both (the secret store holds the \
                     secret; unset {other})"
                ),
            ));
        }
    }
    Ok(SecretLocation::Store(store))
}

/// A whole number of seconds from `name`, or `default` when it is not set.
#[cfg_attr(
    not(any(
        feature = "secrets-manager",
        feature = "ssm",
        feature = "idempotency-dynamodb"
    )),
    allow(dead_code)
)]
pub(crate) fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                ConfigError::new(
                    name,
                    format!("must be a whole number of seconds, got `{text}`"),
                )
            }),
    }
}

impl Keyring {
    /// Reads `SOKETI_SECRET` (with optional `SOKETI_APP_KEY` and `SOKETI_PREVIOUS_SECRET`), or
    /// `SOKETI_APPS`, a JSON object such as `{"app1key": "secret", "app2key": ["new", "old"]}`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Keyring::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Keyring::from_env`], reading variables through `lookup` (for tests, or other
    /// configuration sources).
    ///
    /// With `SOKETI_SECRET_ARN` or `SOKETI_SECRET_PARAMETER` set, this fails and says to use
    /// [`Verifier::from_env_async`] (which reads the secret store) instead.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let SecretLocation::Store(store) = secret_location(&lookup)? {
            return Err(ConfigError::new(store, store_needs_async(store)));
        }
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
        with_max_age(Verifier::new(keyring), &lookup)
    }
}

/// `verifier` with the maximum age of `SOKETI_MAX_AGE_SECONDS`, when set.
fn with_max_age(
    verifier: Verifier,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Verifier, ConfigError> {
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

/// Why a secret store cannot be read by a synchronous constructor, or by this build.
fn store_needs_async(store: &str) -> String {
    let (feature, enabled) = match store {
        ENV_SECRET_ARN => ("secrets-manager", cfg!(feature = "secrets-manager")),
        _ => ("ssm", cfg!(feature = "ssm")),
    };
    if enabled {
        "is set: the secret store is read by `Webhooks::from_env_async().await` (or \
         `Verifier::from_env_async`), not by `from_env`"
            .to_owned()
    } else {
        format!(
            "is set, but this function was built without the soketi-handler-kit feature \
             `{feature}`: enable it in Cargo.toml and use `Webhooks::from_env_async().await`"
        )
    }
}

impl Verifier {
    /// Like [`Verifier::from_env`], and with `SOKETI_SECRET_ARN` (feature `secrets-manager`)
    /// or `SOKETI_SECRET_PARAMETER` (feature `ssm`) the secret is read from that store now,
    /// with the AWS configuration of the environment (region, credentials, endpoint), then kept
    /// current as `SOKETI_SECRET_REFRESH_SECONDS` and `SOKETI_SECRET_MISMATCH_REFRESH_SECONDS`
    /// say (see the `secrets` module). A secret that cannot be read fails here, with a
    /// message naming it and what to grant or fix.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), soketi_handler_kit::ConfigError> {
    /// let verifier = soketi_handler_kit::Verifier::from_env_async().await?;
    /// # let _ = verifier;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn from_env_async() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        match secret_location(&lookup)? {
            SecretLocation::Environment => Verifier::from_lookup(lookup),
            SecretLocation::Store(store) => {
                #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
                {
                    let _ = store;
                    let aws = aws_config::load_from_env().await;
                    Verifier::from_lookup_aws(lookup, &aws).await
                }
                #[cfg(not(any(feature = "secrets-manager", feature = "ssm")))]
                Err(ConfigError::new(store, store_needs_async(store)))
            }
        }
    }

    /// [`Verifier::from_env_async`] reading variables through `lookup`, and the secret store
    /// through `aws` (its region, credentials and endpoint).
    #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
    pub async fn from_lookup_aws(
        lookup: impl Fn(&str) -> Option<String>,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let store = match secret_location(&lookup)? {
            SecretLocation::Environment => return Verifier::from_lookup(lookup),
            SecretLocation::Store(store) => store,
        };
        let Some(source) = crate::secrets::aws_source_from_lookup(&lookup, aws)? else {
            return Err(ConfigError::new(store, store_needs_async(store)));
        };
        let policy = crate::secrets::RefreshPolicy::new()
            .every(seconds(
                &lookup,
                ENV_SECRET_REFRESH_SECONDS,
                crate::secrets::DEFAULT_REFRESH_EVERY,
            )?)
            .on_mismatch(seconds(
                &lookup,
                ENV_SECRET_MISMATCH_REFRESH_SECONDS,
                crate::secrets::DEFAULT_REFRESH_ON_MISMATCH,
            )?);
        let verifier = Verifier::from_boxed_source(source, policy)
            .await
            .map_err(|e| ConfigError::new(store, e.to_string()))?;
        with_max_age(verifier, &lookup)
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
