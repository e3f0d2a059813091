//! The environment variables the kit reads, and the one rule for reading them: a variable is
//! set when its value holds something besides whitespace.

use super::error::ConfigError;

/// Environment variable: the app secret (single-app mode).
pub const ENV_SECRET: &str = "SOKETI_SECRET";
/// Environment variable: the app key that must be in `X-Pusher-Key` (optional).
pub const ENV_APP_KEY: &str = "SOKETI_APP_KEY";
/// Environment variable: the previous secret, still accepted during a rotation (optional).
pub const ENV_PREVIOUS_SECRET: &str = "SOKETI_PREVIOUS_SECRET";
/// Environment variable: a JSON map of app key to secret (or array of secrets), for several
/// apps: `{"app1key": "secret", "app2key": ["new", "old"]}`. Exclusive with the three above.
pub const ENV_APP_SECRETS: &str = "SOKETI_APP_SECRETS";
/// The name `SOKETI_APP_SECRETS` had before: refused with a message saying so, so that a
/// function configured the old way fails at start instead of running without its apps.
pub(crate) const ENV_APPS_RENAMED: &str = "SOKETI_APPS";
/// Environment variable: the opt-in maximum age of a payload, in seconds (optional).
pub const ENV_MAX_AGE_SECONDS: &str = "SOKETI_MAX_AGE_SECONDS";
/// Environment variable: the ARN (or name) of an AWS Secrets Manager secret holding the app
/// secret, or a JSON map of app key to secrets (feature `secrets-manager`). Exclusive with
/// `SOKETI_SECRET`, `SOKETI_PREVIOUS_SECRET`, `SOKETI_APP_SECRETS` and
/// `SOKETI_SECRET_PARAMETER`.
pub const ENV_SECRET_ARN: &str = "SOKETI_SECRET_ARN";
/// Environment variable: the name of an SSM SecureString parameter holding the app secret, or a
/// JSON map of app key to secrets (feature `ssm`). Exclusive like `SOKETI_SECRET_ARN`.
pub const ENV_SECRET_PARAMETER: &str = "SOKETI_SECRET_PARAMETER";
/// Environment variable: with a secret store, re-read the secret when the cached one is older
/// than this many seconds (default 300; 0: before every webhook).
pub const ENV_SECRET_REFRESH_SECONDS: &str = "SOKETI_SECRET_REFRESH_SECONDS";
/// Environment variable: with a secret store, when a signature does not match a known app's
/// secrets, a re-read is allowed once per this many seconds, with a small burst (default 5;
/// 0: on every mismatch).
pub const ENV_SECRET_MISMATCH_REFRESH_SECONDS: &str = "SOKETI_SECRET_MISMATCH_REFRESH_SECONDS";
/// Environment variable: the DynamoDB table recording handled events (feature
/// `idempotency-dynamodb`; optional): when set, each event's callbacks run once per payload.
pub const ENV_IDEMPOTENCY_TABLE: &str = "SOKETI_IDEMPOTENCY_TABLE";
/// Environment variable: how long a handled event is remembered, in seconds (default 86400).
pub const ENV_IDEMPOTENCY_TTL_SECONDS: &str = "SOKETI_IDEMPOTENCY_TTL_SECONDS";
/// Environment variable: the prefix of the idempotency records' keys (default: the function's
/// name), so that functions sharing a table do not skip each other's events.
pub const ENV_IDEMPOTENCY_NAMESPACE: &str = "SOKETI_IDEMPOTENCY_NAMESPACE";

/// The variables, read through a lookup (the process environment, or a map in tests).
pub(crate) struct Env<'l> {
    lookup: &'l dyn Fn(&str) -> Option<String>,
}

impl<'l> Env<'l> {
    pub(crate) fn new(lookup: &'l dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// The value of `name` when it is set: present and not only whitespace. The value is
    /// returned as it is (a secret keeps its spaces); callers trim what is a name or a number.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// Whether `name` is set (the rule of [`Env::get`]).
    pub(crate) fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A whole number of seconds from `name`, or `default` when it is not set.
    #[cfg(any(
        feature = "secrets-manager",
        feature = "ssm",
        feature = "idempotency-dynamodb"
    ))]
    pub(crate) fn seconds(
        &self,
        name: &str,
        default: std::time::Duration,
    ) -> Result<std::time::Duration, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(std::time::Duration::from_secs)
                .map_err(|_| {
                    ConfigError::new(
                        name,
                        format!("must be a whole number of seconds, got `{}`", text.trim()),
                    )
                }),
        }
    }

    /// Variables the kit no longer reads under that name: an error naming the new one.
    pub(crate) fn check_renamed(&self) -> Result<(), ConfigError> {
        if self.is_set(ENV_APPS_RENAMED) {
            return Err(ConfigError::new(
                ENV_APPS_RENAMED,
                format!(
                    "was renamed to {ENV_APP_SECRETS} (the same JSON map of app key to secret): \
                     set {ENV_APP_SECRETS} instead and unset {ENV_APPS_RENAMED}"
                ),
            ));
        }
        Ok(())
    }

    /// Where the app secret lives; an error when the variables conflict.
    pub(crate) fn secret_location(&self) -> Result<SecretLocation, ConfigError> {
        let stores: Vec<&'static str> = [ENV_SECRET_ARN, ENV_SECRET_PARAMETER]
            .into_iter()
            .filter(|name| self.is_set(name))
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
        for other in [ENV_SECRET, ENV_PREVIOUS_SECRET, ENV_APP_SECRETS] {
            if self.is_set(other) {
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
}

/// Where the app secret lives, as the environment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretLocation {
    /// In `SOKETI_SECRET` / `SOKETI_APP_SECRETS`.
    Environment,
    /// In a secret store (`SOKETI_SECRET_ARN` or `SOKETI_SECRET_PARAMETER`): the variable.
    Store(&'static str),
}

/// The soketi-handler-kit feature that reads `variable`, and whether this build has it.
pub(crate) fn feature_of(variable: &str) -> (&'static str, bool) {
    match variable {
        ENV_SECRET_ARN => ("secrets-manager", cfg!(feature = "secrets-manager")),
        ENV_SECRET_PARAMETER => ("ssm", cfg!(feature = "ssm")),
        _ => (
            "idempotency-dynamodb",
            cfg!(feature = "idempotency-dynamodb"),
        ),
    }
}

/// The error for a variable this build cannot honour.
pub(crate) fn needs_feature(variable: &str) -> ConfigError {
    let (feature, _) = feature_of(variable);
    ConfigError::new(
        variable,
        format!(
            "is set, but this function was built without the soketi-handler-kit feature \
             `{feature}`: enable it in Cargo.toml (or unset the variable)"
        ),
    )
}
