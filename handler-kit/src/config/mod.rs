//! Bootstrapping: what the kit reads from the environment, and the AWS wiring, in one place.
//! [`Webhooks::from_env`] is the one constructor from the environment; it works for every
//! configuration (a plain secret, several apps, a secret store, an idempotency table).
//!
//! - `env.rs`: the variables, and the one rule for reading them (set = not only whitespace);
//! - `error.rs`: [`ConfigError`] (a leaf every layer may use);
//! - `keyring.rs`: a [`Keyring`](crate::Keyring) from the variables, from the app-secrets JSON
//!   map, or from a secret store's texts; [`Verifier::from_source`](crate::Verifier::from_source);
//! - `app_secret.rs`: [`AppSecret`], where the variables say the app secret is (the
//!   variables' keyring, or a store to read), shared with programs reading the same variables;
//! - `aws.rs` (features `secrets-manager`, `ssm`, `idempotency-dynamodb`): the secret store and
//!   the idempotency table the environment names.
//!
//! Nothing below this module reads the environment.

mod app_secret;
#[cfg(any(
    feature = "secrets-manager",
    feature = "ssm",
    feature = "idempotency-dynamodb"
))]
mod aws;
mod env;
pub(crate) mod error;
mod keyring;

use std::time::Duration;

pub use app_secret::AppSecret;
#[cfg(feature = "secret-source")]
pub use app_secret::SecretStore;
pub use env::{
    ENV_APP_KEY, ENV_APP_SECRETS, ENV_IDEMPOTENCY_NAMESPACE, ENV_IDEMPOTENCY_TABLE,
    ENV_IDEMPOTENCY_TTL_SECONDS, ENV_MAX_AGE_SECONDS, ENV_PREVIOUS_SECRET, ENV_SECRET,
    ENV_SECRET_ARN, ENV_SECRET_MISMATCH_REFRESH_SECONDS, ENV_SECRET_PARAMETER,
    ENV_SECRET_REFRESH_SECONDS,
};
pub use error::ConfigError;

use crate::router::Webhooks;
use crate::verify::Verifier;
use env::Env;

impl Webhooks {
    /// A router configured by the environment, with no callbacks yet: the app secret from
    /// `SOKETI_SECRET` (optional `SOKETI_APP_KEY`, `SOKETI_PREVIOUS_SECRET`), or
    /// `SOKETI_APP_SECRETS` (several apps), or a secret store (`SOKETI_SECRET_ARN`, feature
    /// `secrets-manager`; `SOKETI_SECRET_PARAMETER`, feature `ssm`: read now, then kept
    /// current); optional `SOKETI_MAX_AGE_SECONDS`; with `SOKETI_IDEMPOTENCY_TABLE` (feature
    /// `idempotency-dynamodb`) each event's callbacks run once per payload. The AWS
    /// configuration (region, credentials, endpoint) is loaded only when a store or a table is
    /// named.
    ///
    /// Every mistake is a [`ConfigError`] naming the variable and what to do: a missing
    /// secret, conflicting variables, a store that cannot be read (naming the grant it needs),
    /// a variable this build lacks the feature for, the old name `SOKETI_APPS`.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), soketi_handler_kit::Error> {
    /// let webhooks = soketi_handler_kit::Webhooks::from_env().await?; // and your callbacks
    /// # #[cfg(feature = "runtime")]
    /// soketi_handler_kit::run(webhooks).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn from_env() -> Result<Self, ConfigError> {
        Webhooks::from_lookup(|name| std::env::var(name).ok()).await
    }

    /// [`Webhooks::from_env`] reading the variables through `lookup` (for tests, or another
    /// source of configuration).
    ///
    /// ```
    /// use soketi_handler_kit::Webhooks;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lookup = |name: &str| (name == "SOKETI_APP_SECRETS").then(|| r#"{"app1key":"s1"}"#.to_owned());
    /// let webhooks = Webhooks::from_lookup(lookup).await?;
    /// assert_eq!(webhooks.verifier().keyring().app_keys().collect::<Vec<_>>(), ["app1key"]);
    ///
    /// let old_name = |name: &str| (name == "SOKETI_APPS").then(|| r#"{"app1key":"s1"}"#.to_owned());
    /// let error = Webhooks::from_lookup(old_name).await.unwrap_err();
    /// assert!(error.to_string().contains("renamed to SOKETI_APP_SECRETS"), "{error}");
    /// # Ok::<(), soketi_handler_kit::ConfigError>(())
    /// # }).unwrap();
    /// ```
    pub async fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        #[cfg(any(
            feature = "secrets-manager",
            feature = "ssm",
            feature = "idempotency-dynamodb"
        ))]
        {
            let aws = if aws::is_needed(&env) {
                crate::aws::config_loader().load().await
            } else {
                aws_config::SdkConfig::builder().build()
            };
            build(&env, &aws).await
        }
        #[cfg(not(any(
            feature = "secrets-manager",
            feature = "ssm",
            feature = "idempotency-dynamodb"
        )))]
        build(&env).await
    }

    /// [`Webhooks::from_lookup`] with the AWS configuration given (its region, credentials and
    /// endpoint: a local emulator's, in tests) rather than loaded from the environment.
    #[cfg(any(
        feature = "secrets-manager",
        feature = "ssm",
        feature = "idempotency-dynamodb"
    ))]
    pub async fn from_lookup_aws(
        lookup: impl Fn(&str) -> Option<String>,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        build(&Env::new(&lookup), aws).await
    }
}

/// The router the variables describe.
async fn build(
    env: &Env<'_>,
    #[cfg(any(
        feature = "secrets-manager",
        feature = "ssm",
        feature = "idempotency-dynamodb"
    ))]
    aws: &aws_config::SdkConfig,
) -> Result<Webhooks, ConfigError> {
    #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
    let secret = AppSecret::from_env(env, aws)?;
    #[cfg(not(any(feature = "secrets-manager", feature = "ssm")))]
    let secret = AppSecret::from_env(env)?;
    let verifier = match secret {
        AppSecret::Keyring(keyring) => Verifier::new(keyring),
        // Read now: a store that cannot be read fails the start, naming it and what to grant.
        #[cfg(feature = "secret-source")]
        AppSecret::Store(store) => {
            let variable = store.variable;
            keyring::cached_verifier(store.source, store.policy, store.app_key)
                .await
                .map_err(|e| ConfigError::new(variable, e.to_string()))?
        }
    };
    let webhooks = Webhooks::new(with_max_age(verifier, env)?);
    if !env.is_set(ENV_IDEMPOTENCY_TABLE) {
        return Ok(webhooks);
    }
    #[cfg(feature = "idempotency-dynamodb")]
    return aws::idempotent(webhooks, env, aws);
    #[cfg(not(feature = "idempotency-dynamodb"))]
    Err(env::needs_feature(ENV_IDEMPOTENCY_TABLE))
}

/// `verifier` with the maximum age of `SOKETI_MAX_AGE_SECONDS`, when set.
fn with_max_age(verifier: Verifier, env: &Env<'_>) -> Result<Verifier, ConfigError> {
    match env.get(ENV_MAX_AGE_SECONDS) {
        None => Ok(verifier),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(verifier.max_age(Duration::from_secs(secs))),
            _ => Err(ConfigError::new(
                ENV_MAX_AGE_SECONDS,
                format!(
                    "must be a whole number of seconds above 0, got `{}`",
                    text.trim()
                ),
            )),
        },
    }
}
