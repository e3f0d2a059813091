//! Where the environment says the app secret is: the kit's one reading of `SOKETI_SECRET`,
//! `SOKETI_APP_KEY`, `SOKETI_PREVIOUS_SECRET`, `SOKETI_APP_SECRETS`, `SOKETI_SECRET_ARN`,
//! `SOKETI_SECRET_PARAMETER` and the refresh intervals, which [`Webhooks::from_env`]
//! builds its verifier from, and which other programs reading the same variables share (the
//! sender's delivery function signs with that secret).
//!
//! [`Webhooks::from_env`]: crate::Webhooks::from_env

use super::env::{Env, SecretLocation};
use super::error::ConfigError;
use crate::keyring::Keyring;

/// Where the app secret is, as the environment says.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppSecret {
    /// In the variables (`SOKETI_SECRET` with the optional `SOKETI_APP_KEY` and
    /// `SOKETI_PREVIOUS_SECRET`, or `SOKETI_APP_SECRETS`): their keyring.
    Keyring(Keyring),
    /// In a secret store (`SOKETI_SECRET_ARN`, `SOKETI_SECRET_PARAMETER`): read it with
    /// [`CachedSecret::start`](crate::secrets::CachedSecret::start), its texts parsed with
    /// [`Keyring::from_secret_texts`] (or a parse of your own).
    #[cfg(feature = "secret-source")]
    Store(SecretStore),
}

/// A secret store the environment names, not read yet.
#[cfg(feature = "secret-source")]
#[non_exhaustive]
pub struct SecretStore {
    /// The variable that names it (for messages).
    pub variable: &'static str,
    /// Where its texts are read from.
    pub source: Box<dyn crate::secrets::SecretSource>,
    /// When it is read again (`SOKETI_SECRET_REFRESH_SECONDS`,
    /// `SOKETI_SECRET_MISMATCH_REFRESH_SECONDS`).
    pub policy: crate::secrets::RefreshPolicy,
    /// `SOKETI_APP_KEY`: whose secret a plain (non-JSON) text is.
    pub app_key: Option<String>,
}

#[cfg(feature = "secret-source")]
impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("variable", &self.variable)
            .field("source", &self.source.describe())
            .field("policy", &self.policy)
            .field("app_key", &self.app_key)
            .finish()
    }
}

impl AppSecret {
    /// Where the variables `lookup` gives say the app secret is; a store is not read yet. The
    /// AWS configuration is loaded (from the environment) only when a store is named. Every
    /// mistake is a [`ConfigError`] naming the variable: conflicting variables, no secret, a
    /// store this build lacks the feature for.
    ///
    /// ```
    /// use soketi_handler_kit::AppSecret;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let lookup = |name: &str| match name {
    ///     "SOKETI_SECRET" => Some("s3cret".to_owned()),
    ///     "SOKETI_APP_KEY" => Some("app1key".to_owned()),
    ///     _ => None,
    /// };
    /// let AppSecret::Keyring(keyring) = AppSecret::from_lookup(lookup).await? else { panic!() };
    /// assert_eq!(keyring.secrets_for("app1key").len(), 1);
    /// # Ok::<(), soketi_handler_kit::ConfigError>(())
    /// # }).unwrap();
    /// ```
    pub async fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
        if let SecretLocation::Store(_) = env.secret_location()? {
            let aws = crate::aws::config_loader().load().await;
            return AppSecret::from_env(&env, &aws);
        }
        #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
        return AppSecret::from_env(&env, &aws_config::SdkConfig::builder().build());
        #[cfg(not(any(feature = "secrets-manager", feature = "ssm")))]
        AppSecret::from_env(&env)
    }

    /// [`AppSecret::from_lookup`] with the AWS configuration given (a local emulator's, in
    /// tests).
    #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
    pub fn from_lookup_aws(
        lookup: impl Fn(&str) -> Option<String>,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        AppSecret::from_env(&Env::new(&lookup), aws)
    }

    /// The reading itself.
    pub(super) fn from_env(
        env: &Env<'_>,
        #[cfg(any(feature = "secrets-manager", feature = "ssm"))] aws: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        env.check_renamed()?;
        match env.secret_location()? {
            SecretLocation::Environment => {
                Ok(AppSecret::Keyring(super::keyring::from_variables(env)?))
            }
            #[cfg(any(feature = "secrets-manager", feature = "ssm"))]
            SecretLocation::Store(store) => {
                Ok(AppSecret::Store(super::aws::secret_store(env, store, aws)?))
            }
            #[cfg(not(any(feature = "secrets-manager", feature = "ssm")))]
            SecretLocation::Store(store) => Err(super::env::needs_feature(store)),
        }
    }
}
