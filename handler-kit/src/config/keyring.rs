//! Where a [`Keyring`] comes from: the variables (`SOKETI_SECRET`, `SOKETI_APP_KEY`,
//! `SOKETI_PREVIOUS_SECRET`, or `SOKETI_APP_SECRETS`), the app-secrets JSON map, or the text
//! of a secret store (the app secret itself, or that JSON map).

use std::collections::HashMap;

use super::env::{ENV_APP_KEY, ENV_APP_SECRETS, ENV_PREVIOUS_SECRET, ENV_SECRET, Env};
use super::error::ConfigError;
use crate::keyring::Keyring;

/// The keyring of the variables: `SOKETI_APP_SECRETS`, or `SOKETI_SECRET` with the optional
/// `SOKETI_APP_KEY` and `SOKETI_PREVIOUS_SECRET`.
pub(super) fn from_variables(env: &Env<'_>) -> Result<Keyring, ConfigError> {
    if let Some(apps) = env.get(ENV_APP_SECRETS) {
        for other in [ENV_SECRET, ENV_APP_KEY, ENV_PREVIOUS_SECRET] {
            if env.is_set(other) {
                return Err(ConfigError::new(
                    other,
                    format!("set either {ENV_APP_SECRETS} or {other}, not both"),
                ));
            }
        }
        return Keyring::from_app_secrets_json(&apps)
            .map_err(|e| ConfigError::new(ENV_APP_SECRETS, e.reason()));
    }
    let Some(secret) = env.get(ENV_SECRET) else {
        return Err(ConfigError::new(
            ENV_SECRET,
            format!(
                "is not set: set it to the app secret from soketi's app configuration (or set \
                 {ENV_APP_SECRETS} for several apps, or a secret store: SOKETI_SECRET_ARN, \
                 SOKETI_SECRET_PARAMETER)"
            ),
        ));
    };
    let previous = env.get(ENV_PREVIOUS_SECRET);
    Ok(match env.get(ENV_APP_KEY) {
        Some(key) => {
            let key = key.trim();
            let keyring = Keyring::new().app(key, secret);
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
    })
}

impl Keyring {
    /// A keyring from a JSON object of app key to secret or array of secrets, as
    /// `SOKETI_APP_SECRETS` holds it.
    ///
    /// ```
    /// use soketi_handler_kit::Keyring;
    /// let keyring = Keyring::from_app_secrets_json(r#"{"app1key":"s1","app2key":["new","old"]}"#)?;
    /// assert_eq!(keyring.app_keys().count(), 2);
    /// assert!(Keyring::from_app_secrets_json(r#"{"app1key":""}"#).is_err());
    /// // A secret given where the object belongs is not repeated in the message.
    /// let error = Keyring::from_app_secrets_json(r#""s3cret""#).unwrap_err();
    /// assert!(!error.to_string().contains("s3cret"), "{error}");
    /// # Ok::<(), soketi_handler_kit::ConfigError>(())
    /// ```
    pub fn from_app_secrets_json(json: &str) -> Result<Self, ConfigError> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Secrets {
            One(String),
            Many(Vec<String>),
        }
        let map: HashMap<String, Secrets> = serde_json::from_str(json).map_err(|e| {
            // serde_json quotes the offending value in a data error ("invalid type: string
            // \"…\""), and here that value may be a secret: say where, not what.
            let problem = if e.is_data() {
                format!(
                    "a value of the wrong type at line {} column {}",
                    e.line(),
                    e.column()
                )
            } else {
                e.to_string()
            };
            ConfigError::new(
                "app secrets",
                format!(
                    "must be a JSON object of app key to secret or array of secrets, \
                     e.g. {{\"app1key\": \"secret\"}}: {problem}"
                ),
            )
        })?;
        if map.is_empty() {
            return Err(ConfigError::new("app secrets", "names no app"));
        }
        let mut keyring = Keyring::new();
        for (key, secrets) in map {
            let secrets = match secrets {
                Secrets::One(s) => vec![s],
                Secrets::Many(v) => v,
            };
            if key.is_empty() {
                return Err(ConfigError::new("app secrets", "has an empty app key"));
            }
            if secrets.is_empty() || secrets.iter().any(String::is_empty) {
                return Err(ConfigError::new(
                    "app secrets",
                    format!("app `{key}` has an empty secret or no secret"),
                ));
            }
            for secret in secrets {
                keyring = keyring.app(key.clone(), secret);
            }
        }
        Ok(keyring)
    }
}

/// The keyring one version of a secret store's text stands for: a JSON object (the app-secrets
/// map), or else the app secret itself — for `app_key` when given (as `SOKETI_APP_KEY`),
/// otherwise in single-secret mode. Surrounding whitespace is not part of a secret. The error
/// never repeats the text.
#[cfg(feature = "secret-source")]
fn from_secret_text(text: &str, app_key: Option<&str>) -> Result<Keyring, ConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ConfigError::new("the secret", "is empty"));
    }
    if text.starts_with('{') {
        if app_key.is_some() {
            return Err(ConfigError::new(
                "the secret",
                format!(
                    "is a JSON map of app keys, and {ENV_APP_KEY} is set too: the map names the \
                     apps, unset {ENV_APP_KEY}"
                ),
            ));
        }
        return Keyring::from_app_secrets_json(text);
    }
    Ok(match app_key {
        Some(key) => Keyring::new().app(key, text),
        None => Keyring::single_secret(text).into(),
    })
}

#[cfg(feature = "secret-source")]
impl Keyring {
    /// The keyring of a secret store's texts (feature `secret-source`), as the kit reads
    /// `SOKETI_SECRET_ARN` and `SOKETI_SECRET_PARAMETER`: each version's text is a JSON object
    /// of app key to secret or array of secrets (as `SOKETI_APP_SECRETS`), or else the app
    /// secret itself — for `app_key` when given (as `SOKETI_APP_KEY`), otherwise in
    /// single-secret mode; surrounding whitespace is not part of a secret. The previous
    /// version's secrets verify too (during a rotation both do); a previous version that no
    /// longer reads (its format changed) is left out, said in a warning. The error never
    /// repeats the text.
    ///
    /// ```
    /// use soketi_handler_kit::Keyring;
    /// use soketi_handler_kit::secrets::SecretText;
    /// let rotated = SecretText::new(r#"{"app1key": "new"}"#).with_previous(r#"{"app1key": "old"}"#);
    /// assert_eq!(Keyring::from_secret_texts(&rotated, None)?.secrets_for("app1key").len(), 2);
    /// let plain = Keyring::from_secret_texts(&SecretText::new(" s3cret\n"), Some("app1key"))?;
    /// assert_eq!(plain.app_keys().collect::<Vec<_>>(), ["app1key"]);
    /// # Ok::<(), soketi_handler_kit::ConfigError>(())
    /// ```
    pub fn from_secret_texts(
        texts: &crate::secrets::SecretText,
        app_key: Option<&str>,
    ) -> Result<Keyring, ConfigError> {
        let current = from_secret_text(texts.current(), app_key)?;
        let Some(previous) = texts.previous() else {
            return Ok(current);
        };
        match from_secret_text(previous, app_key) {
            Ok(previous) => Ok(current.with_previous(previous)),
            Err(error) => {
                tracing::warn!("the previous version of the secret is left out: {error}");
                Ok(current)
            }
        }
    }
}

#[cfg(feature = "secret-source")]
impl crate::verify::Verifier {
    /// A verifier whose keyring comes from `source` (feature `secret-source`): read now — a
    /// source that cannot be read fails here — then kept current as `policy` says (see
    /// [`secrets`](crate::secrets)). Each version's text is the app secret (single-secret
    /// mode) or a JSON map of app key to secrets, as `SOKETI_APP_SECRETS` holds it; a previous
    /// version's secrets verify too. The re-reads happen in the async entry points
    /// ([`Webhooks::verify_and_receive`](crate::Webhooks::verify_and_receive) and what serves
    /// through it); the synchronous `verify_*` methods use the keyring read last.
    ///
    /// ```
    /// use soketi_handler_kit::Verifier;
    /// use soketi_handler_kit::secrets::{FetchFuture, RefreshPolicy, SecretSource, SecretText};
    ///
    /// struct Fixed;
    /// impl SecretSource for Fixed {
    ///     fn fetch(&self) -> FetchFuture<'_> {
    ///         Box::pin(async { Ok(SecretText::new(r#"{"app1key": "app1secret"}"#)) })
    ///     }
    ///     fn describe(&self) -> String {
    ///         "a fixed secret".into()
    ///     }
    /// }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let verifier = Verifier::from_source(Fixed, RefreshPolicy::new()).await?;
    /// assert_eq!(verifier.keyring().app_keys().collect::<Vec<_>>(), ["app1key"]);
    /// # Ok::<(), soketi_handler_kit::secrets::SecretError>(())
    /// # }).unwrap();
    /// ```
    pub async fn from_source(
        source: impl crate::secrets::SecretSource,
        policy: crate::secrets::RefreshPolicy,
    ) -> Result<Self, crate::secrets::SecretError> {
        cached_verifier(source, policy, None).await
    }
}

/// A verifier whose keyring is `source`'s, a plain secret belonging to `app_key` when given.
#[cfg(feature = "secret-source")]
pub(super) async fn cached_verifier(
    source: impl crate::secrets::SecretSource,
    policy: crate::secrets::RefreshPolicy,
    app_key: Option<String>,
) -> Result<crate::verify::Verifier, crate::secrets::SecretError> {
    let keyring = crate::secrets::CachedSecret::start(source, policy, move |texts| {
        Keyring::from_secret_texts(texts, app_key.as_deref())
    })
    .await?;
    Ok(crate::verify::Verifier::with_cached_keyring(
        std::sync::Arc::new(keyring),
    ))
}
