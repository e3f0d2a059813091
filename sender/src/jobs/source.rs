//! [`JobSender`]: the sender a consumer of soketi's queue delivers with — fixed, or rebuilt
//! from a secret store's text (soketi's apps, with their secrets and webhooks) each time the
//! kit's [`CachedSecret`] reads it again: on age, and when a job is rejected for its key.

use std::fmt;
use std::sync::Arc;

use soketi_handler_kit::secrets::{
    CachedSecret, RefreshPolicy, SecretError, SecretSource, SecretText,
};

use super::{BatchOutcome, JobError, JobMessage};
use crate::Sender;
use crate::config::App;
use crate::deliver::Deadline;

/// The sender of a queue consumer (the delivery function, the worker): fixed
/// ([`JobSender::fixed`], also `From<Sender>`), or kept current from a secret store holding
/// soketi's apps ([`JobSender::from_secret`]).
///
/// With a store, [`JobSender::deliver_jobs`] reads the apps again when they are older than the
/// [`RefreshPolicy`] allows, and — before a batch holding a job that the apps it has reject
/// for its key (no app with that key, or no secret of the app verifies) — once more, within
/// the policy's token bucket: a rotation or a new app may not have reached this process yet.
/// Only then is such a job rejected for good.
#[derive(Clone)]
pub struct JobSender {
    kind: Arc<Kind>,
}

enum Kind {
    Fixed(Sender),
    Cached(CachedSecret<Sender>),
}

impl fmt::Debug for JobSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            Kind::Fixed(sender) => f.debug_tuple("JobSender::Fixed").field(sender).finish(),
            Kind::Cached(cache) => f.debug_tuple("JobSender::Cached").field(cache).finish(),
        }
    }
}

impl From<Sender> for JobSender {
    fn from(sender: Sender) -> Self {
        JobSender::fixed(sender)
    }
}

impl JobSender {
    /// Always `sender`.
    pub fn fixed(sender: Sender) -> Self {
        JobSender {
            kind: Arc::new(Kind::Fixed(sender)),
        }
    }

    /// A sender of the apps `apps` reads from `source`'s texts, with `base`'s settings
    /// (retry policy, limits, clients; its apps are not used), read now — a source that cannot
    /// be read, or apps that do not parse or check, fail here — then kept current as `policy`
    /// says. `apps` must not quote the text in its error (it holds secrets);
    /// [`parse_apps_secret`] is soketi's apps file with the previous version's secrets
    /// accepted on jobs.
    ///
    /// ```
    /// use soketi_handler_kit::secrets::{FetchFuture, RefreshPolicy, SecretSource, SecretText};
    /// use soketi_lambda_sender::jobs::{JobSender, parse_apps_secret};
    /// use soketi_lambda_sender::{RegionFallback, Sender};
    ///
    /// struct Fixed;
    /// impl SecretSource for Fixed {
    ///     fn fetch(&self) -> FetchFuture<'_> {
    ///         Box::pin(async { Ok(SecretText::new(r#"[{"id":"1","key":"k","secret":"s"}]"#)) })
    ///     }
    ///     fn describe(&self) -> String {
    ///         "a fixed secret".into()
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let base = Sender::builder().region_fallback(RegionFallback::None).build().await?;
    /// let jobs = JobSender::from_secret(&base, Fixed, RefreshPolicy::new(), parse_apps_secret).await?;
    /// assert_eq!(jobs.sender().apps()[0].key, "k");
    /// # Ok(()) }
    /// ```
    pub async fn from_secret<E: fmt::Display>(
        base: &Sender,
        source: impl SecretSource,
        policy: RefreshPolicy,
        apps: impl Fn(&SecretText) -> Result<Vec<App>, E> + Send + Sync + 'static,
    ) -> Result<Self, SecretError> {
        let fallback = base.resolved_region_fallback().await;
        let base = base.clone();
        let cache = CachedSecret::start(source, policy, move |texts| {
            let apps = apps(texts).map_err(|e| e.to_string())?;
            base.with_apps_now(apps, &fallback)
                .map_err(|e| format!("the apps it holds: {e}"))
        })
        .await?;
        Ok(JobSender {
            kind: Arc::new(Kind::Cached(cache)),
        })
    }

    /// The sender now.
    pub fn sender(&self) -> Sender {
        match &*self.kind {
            Kind::Fixed(sender) => sender.clone(),
            Kind::Cached(cache) => Sender::clone(&cache.get()),
        }
    }

    /// What the apps are read from (`None` when fixed), for messages.
    pub fn describe_source(&self) -> Option<String> {
        match &*self.kind {
            Kind::Fixed(_) => None,
            Kind::Cached(cache) => Some(cache.describe()),
        }
    }

    /// [`Sender::deliver_jobs`] with the sender now, the apps read again first when they are
    /// old, or when a job would be rejected for its key and the policy allows a read.
    pub async fn deliver_jobs(
        &self,
        messages: Vec<JobMessage>,
        deadline: Deadline,
    ) -> BatchOutcome {
        let mut sender = self.sender();
        if let Kind::Cached(cache) = &*self.kind {
            if cache.refresh_if_old().await {
                sender = self.sender();
            }
            let for_key = |m: &JobMessage| {
                matches!(
                    sender.accept(&m.body),
                    Err(JobError::UnknownApp { .. } | JobError::SignatureMismatch { .. })
                )
            };
            if messages.iter().any(for_key) && cache.refresh_on_mismatch().await {
                tracing::info!(
                    source = %cache.describe(),
                    "a queue job names an app key, or a signature, the apps do not know: they \
                     were read again"
                );
                sender = self.sender();
            }
        }
        sender.deliver_jobs(messages, deadline).await
    }
}

/// soketi's apps from a secret store's texts: the current version is soketi's apps file
/// ([`parse_apps_file`](crate::config::parse_apps_file)); the secrets the previous version
/// gave an app of the same key are accepted on its queue jobs too (a job enqueued before the
/// rotation still verifies). A previous version that does not read is left out, said in a
/// warning. The error never quotes the text.
///
/// ```
/// use soketi_handler_kit::secrets::SecretText;
/// use soketi_lambda_sender::jobs::parse_apps_secret;
/// let texts = SecretText::new(r#"[{"id":"1","key":"k","secret":"new"}]"#)
///     .with_previous(r#"[{"id":"1","key":"k","secret":"old"}]"#);
/// let apps = parse_apps_secret(&texts)?;
/// assert_eq!(apps[0].secrets().count(), 2);
/// # Ok::<(), soketi_lambda_sender::config::ConfigError>(())
/// ```
pub fn parse_apps_secret(texts: &SecretText) -> Result<Vec<App>, crate::config::ConfigError> {
    use crate::config::parse_apps_file;
    let mut apps = parse_apps_file(texts.current())?;
    let Some(previous) = texts.previous() else {
        return Ok(apps);
    };
    match parse_apps_file(previous) {
        Ok(before) => {
            for old in before {
                if let Some(app) = apps.iter_mut().find(|app| app.key == old.key) {
                    for secret in old.secrets() {
                        let known = app.secrets().any(|s| same_secret(s, secret));
                        if !known {
                            app.previous_secrets.push(secret.clone());
                        }
                    }
                }
            }
        }
        Err(error) => {
            tracing::warn!("the previous version of the apps secret is left out: {error}");
        }
    }
    Ok(apps)
}

/// Whether two secrets are the same (they sign the same probe alike).
fn same_secret(a: &soketi_handler_kit::wire::Secret, b: &soketi_handler_kit::wire::Secret) -> bool {
    const PROBE: &[u8] = b"is this the same secret?";
    a.sign(PROBE) == b.sign(PROBE)
}
