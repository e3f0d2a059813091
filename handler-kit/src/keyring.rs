//! Which secrets sign for which app key: the [`Keyring`].

use std::fmt;
use std::sync::Arc;

use crate::wire::Secret;

/// Which secrets may sign, and for which app keys.
///
/// ```
/// use soketi_handler_kit::Keyring;
/// // One app, no key check (a SingleSecret, which converts into a Keyring):
/// let simple: Keyring = Keyring::single_secret("app1secret").into();
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
    /// Secrets per app key, sorted by key; when non-empty, `X-Pusher-Key` must name one of
    /// them. A keyring holds a handful of apps: a binary search finds one without hashing
    /// the key, and the key is shared (not copied) with what a verified payload reports.
    apps: Vec<App>,
}

/// One app of a [`Keyring`]: its key and the secrets that sign for it.
#[derive(Clone)]
struct App {
    key: Arc<str>,
    secrets: Vec<Secret>,
}

impl Keyring {
    /// An empty keyring: add apps with [`Keyring::app`].
    pub fn new() -> Self {
        Keyring::default()
    }

    /// Single-secret mode: any payload signed with `secret` verifies, whatever its
    /// `X-Pusher-Key`. That header is not covered by the signature, so in this mode the kit
    /// reports no app key ([`Verified::app_key`](crate::Verified::app_key) is `None`); use
    /// [`Keyring::app`] when the app matters.
    ///
    /// This returns a [`SingleSecret`], which converts into a keyring wherever one is taken
    /// (`Verifier::new(Keyring::single_secret(s))`) and cannot be given apps: a keyring is in
    /// one mode or the other.
    pub fn single_secret(secret: impl AsRef<[u8]>) -> SingleSecret {
        SingleSecret {
            secrets: vec![Secret::new(secret)],
        }
    }

    /// Whether this keyring accepts any app key (single-secret mode).
    pub(crate) fn is_single_secret(&self) -> bool {
        self.apps.is_empty()
    }

    /// Accepts `secret` for app `key`. Call again with the same key to accept several secrets
    /// (rotation: any current secret verifies). Once any app is configured, `X-Pusher-Key` must
    /// name a configured app.
    pub fn app(mut self, key: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.secrets_mut(key.into()).push(Secret::new(secret));
        self
    }

    /// The secrets of app `key`, the app added (with none yet) if it is new.
    fn secrets_mut(&mut self, key: String) -> &mut Vec<Secret> {
        let at = match self.position(&key) {
            Ok(at) => at,
            Err(at) => {
                let app = App {
                    key: key.into(),
                    secrets: Vec::new(),
                };
                self.apps.insert(at, app);
                at
            }
        };
        &mut self.apps[at].secrets
    }

    /// Where app `key` is in `apps` (`Err`: where it would go).
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.apps.binary_search_by(|app| (*app.key).cmp(key))
    }

    /// App `key`: its key as the keyring holds it, and its secrets.
    pub(crate) fn find_app(&self, key: &str) -> Option<(&Arc<str>, &[Secret])> {
        let app = self.apps.get(self.position(key).ok()?)?;
        Some((&app.key, &app.secrets))
    }

    /// Accepts each of `secrets` (already prepared, e.g. an app's current and previous ones)
    /// for app `key`, as [`Keyring::app`] does one by one (no secret, no app).
    ///
    /// ```
    /// use soketi_handler_kit::Keyring;
    /// use soketi_handler_kit::wire::Secret;
    /// let keyring = Keyring::new().app_secrets("app1key", [Secret::new("new"), Secret::new("old")]);
    /// assert_eq!(keyring.secrets("app1key").map(<[Secret]>::len), Some(2));
    /// assert!(keyring.secrets("app2key").is_none());
    /// ```
    pub fn app_secrets(
        mut self,
        key: impl Into<String>,
        secrets: impl IntoIterator<Item = Secret>,
    ) -> Self {
        let mut secrets = secrets.into_iter().peekable();
        if secrets.peek().is_some() {
            self.secrets_mut(key.into()).extend(secrets);
        }
        self
    }

    /// The secrets accepted for app `key`; `None` when no such app is configured (always in
    /// single-secret mode).
    pub fn secrets(&self, key: &str) -> Option<&[Secret]> {
        self.find_app(key).map(|(_, secrets)| secrets)
    }

    /// The secrets that verify a payload of app `key`: the app's, or in single-secret mode
    /// the secrets accepted for any key; empty when the keyring has none for it. The first is
    /// the current one (a rotation's previous secrets follow).
    ///
    /// ```
    /// use soketi_handler_kit::Keyring;
    /// let apps = Keyring::new().app("app1key", "s1");
    /// assert_eq!(apps.secrets_for("app1key").len(), 1);
    /// assert!(apps.secrets_for("app2key").is_empty());
    /// let single: Keyring = Keyring::single_secret("s").also_secret("old").into();
    /// assert_eq!(single.secrets_for("any key").len(), 2);
    /// ```
    pub fn secrets_for(&self, key: &str) -> &[Secret] {
        match self.is_single_secret() {
            true => &self.any_key,
            false => self.secrets(key).unwrap_or_default(),
        }
    }

    /// The configured app keys, in sorted order (none in single-secret mode).
    pub fn app_keys(&self) -> impl Iterator<Item = &str> {
        self.apps.iter().map(|app| &*app.key)
    }

    /// This keyring and the secrets of `previous` (the version a rotation replaced): both
    /// verify. A previous keyring of the other mode (single secret versus apps) is left out.
    #[cfg(feature = "secret-source")]
    pub(crate) fn with_previous(mut self, previous: Keyring) -> Keyring {
        if self.is_single_secret() != previous.is_single_secret() {
            tracing::warn!(
                "the previous secret is in another format (a plain secret versus a JSON map of \
                 apps) than the current one: only the current one is accepted"
            );
            return self;
        }
        self.any_key.extend(previous.any_key);
        for app in previous.apps {
            self.secrets_mut(app.key.to_string()).extend(app.secrets);
        }
        self
    }

    /// The secrets accepted whatever `X-Pusher-Key` says (single-secret mode).
    pub(crate) fn any_key_secrets(&self) -> &[Secret] {
        &self.any_key
    }
}

/// A keyring in single-secret mode, from [`Keyring::single_secret`]: any `X-Pusher-Key` is
/// accepted with these secrets. Converts into a [`Keyring`].
///
/// ```
/// use soketi_handler_kit::{Keyring, Verifier};
/// // The previous secret still verifies during a rotation:
/// let verifier = Verifier::new(Keyring::single_secret("new").also_secret("old"));
/// # let _ = verifier;
/// ```
#[derive(Clone)]
pub struct SingleSecret {
    secrets: Vec<Secret>,
}

impl SingleSecret {
    /// Adds another accepted secret (e.g. the previous one during a rotation).
    pub fn also_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets.push(Secret::new(secret));
        self
    }
}

impl From<SingleSecret> for Keyring {
    fn from(single: SingleSecret) -> Self {
        Keyring {
            any_key: single.secrets,
            apps: Vec::new(),
        }
    }
}

impl fmt::Debug for SingleSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleSecret")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let apps: Vec<(&str, usize)> = self
            .apps
            .iter()
            .map(|app| (&*app.key, app.secrets.len()))
            .collect();
        f.debug_struct("Keyring")
            .field("single_secrets", &self.any_key.len())
            .field("apps (key, secrets)", &apps)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_is_found_whatever_the_order_it_was_added_in() {
        let keys = ["m", "b", "z", "a", "mm", "", "b"];
        let keyring = keys.iter().fold(Keyring::new(), |keyring, key| {
            keyring.app(*key, format!("s-{key}"))
        });
        assert_eq!(
            keyring.app_keys().collect::<Vec<_>>(),
            ["", "a", "b", "m", "mm", "z"]
        );
        for key in keys {
            let payload = key.as_bytes();
            let expected = Secret::new(format!("s-{key}")).sign(payload);
            let secrets = keyring.secrets(key).expect("a configured app");
            assert!(
                secrets.iter().any(|s| s.verifies(payload, &expected)),
                "{key}"
            );
        }
        assert_eq!(keyring.secrets("b").map(<[Secret]>::len), Some(2));
        for unknown in ["c", "B", "mmm", " a"] {
            assert!(keyring.find_app(unknown).is_none(), "{unknown}");
        }
    }
}
