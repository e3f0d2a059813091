//! Building a [`Sender`]: its settings, the apps checked, the regions of Lambda webhooks
//! resolved, the apps indexed, the transports set up.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use soketi_handler_kit::wire::now_ms;
use soketi_handler_kit::{Keyring, Verifier};

use super::{Apps, Clock, Inner, Sender, Unclaimed};
use crate::config::{App, ConfigError, ConfigErrorKind, RegionSource, Target};
use crate::deliver::{DeliveryReport, RetryPolicy, Transport};
use crate::route::Limits;

/// Where the region of a Lambda webhook that names none comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionFallback {
    /// The AWS default region chain (`AWS_REGION`, `AWS_DEFAULT_REGION`, the profile, instance
    /// metadata). The default.
    #[default]
    DefaultChain,
    /// This region.
    Fixed(String),
    /// None: a Lambda webhook without a region is a configuration error.
    None,
}

/// Builds a [`Sender`].
pub struct SenderBuilder {
    apps: Vec<App>,
    policy: RetryPolicy,
    limits: Limits,
    endpoint_override: Option<String>,
    process_id: u32,
    clock: Clock,
    region_fallback: RegionFallback,
    unclaimed: Unclaimed,
    coalesce_jobs: bool,
}

impl fmt::Debug for SenderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderBuilder")
            .field("apps", &self.apps)
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .field("endpoint_override", &self.endpoint_override)
            .field("process_id", &self.process_id)
            .field("region_fallback", &self.region_fallback)
            .field("coalesce_jobs", &self.coalesce_jobs)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// A builder with the defaults: no app, [`RetryPolicy::default`], [`Limits::default`],
    /// this process's id, the system clock, the AWS default region chain.
    pub fn builder() -> SenderBuilder {
        SenderBuilder {
            apps: Vec::new(),
            policy: RetryPolicy::default(),
            limits: Limits::default(),
            endpoint_override: None,
            process_id: std::process::id(),
            clock: Arc::new(now_ms),
            region_fallback: RegionFallback::default(),
            unclaimed: Arc::new(log_unclaimed),
            coalesce_jobs: true,
        }
    }

    /// A sender of `apps` with this one's settings, transports and clients: what a consumer
    /// of soketi's queue builds when it reads its apps again (from a secret store). A Lambda
    /// webhook naming no region gets one as [`SenderBuilder::region_fallback`] said (the AWS
    /// default chain is consulted again only if this sender never needed it).
    pub async fn with_apps(&self, apps: Vec<App>) -> Result<Sender, BuildError> {
        let fallback = self.resolved_region_fallback().await;
        self.with_apps_now(apps, &fallback)
    }

    /// The region fallback with the AWS default chain consulted: `Fixed` or `None`.
    pub(crate) async fn resolved_region_fallback(&self) -> RegionFallback {
        match &self.inner.region_fallback {
            RegionFallback::DefaultChain => match chain_region().await {
                Some(region) => RegionFallback::Fixed(region),
                None => RegionFallback::None,
            },
            other => other.clone(),
        }
    }

    /// [`Sender::with_apps`] with a fallback that needs no lookup (`Fixed` or `None`).
    pub(crate) fn with_apps_now(
        &self,
        mut apps: Vec<App>,
        fallback: &RegionFallback,
    ) -> Result<Sender, BuildError> {
        assign_regions(&mut apps, fallback, None)?;
        let inner = &self.inner;
        Ok(Sender {
            inner: Arc::new(Inner {
                apps: index_apps(apps)?,
                transport: Arc::clone(&inner.transport),
                limits: inner.limits,
                process_id: inner.process_id,
                clock: Arc::clone(&inner.clock),
                unclaimed: Arc::clone(&inner.unclaimed),
                region_fallback: inner.region_fallback.clone(),
                coalesce_jobs: inner.coalesce_jobs,
            }),
        })
    }
}

/// The default [`SenderBuilder::on_unclaimed`] handler: an ERROR log line per failed request,
/// naming its target, its event count and its signed payload (not its headers).
fn log_unclaimed(failed: DeliveryReport) {
    tracing::error!(
        app = %failed.request.app_id, webhook = failed.request.webhook,
        target = %failed.request.target.describe(), events = failed.request.events.len(),
        payload = %failed.request.payload,
        "webhook delivery failed and no caller will receive its report: {:?}",
        failed.failure()
    );
}

impl SenderBuilder {
    /// Adds an app.
    pub fn app(mut self, app: App) -> Self {
        self.apps.push(app);
        self
    }

    /// Adds apps.
    pub fn apps(mut self, apps: impl IntoIterator<Item = App>) -> Self {
        self.apps.extend(apps);
        self
    }

    /// The retry policy (and the timeouts it sets).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The request size limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends every Lambda invocation to this endpoint (a local emulator, a test server),
    /// overriding `client_options.endpoint` and `AWS_ENDPOINT_URL`.
    pub fn endpoint_override(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint_override = Some(endpoint.into());
        self
    }

    /// The process id named in the `User-Agent` (default: this process's, as soketi).
    pub fn process_id(mut self, pid: u32) -> Self {
        self.process_id = pid;
        self
    }

    /// The clock stamping `time_ms` (milliseconds since the Unix epoch; default: system time).
    pub fn clock(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now_ms);
        self
    }

    /// Where the region of a Lambda webhook naming none comes from (default: the AWS default
    /// region chain, consulted once, when building).
    pub fn region_fallback(mut self, fallback: RegionFallback) -> Self {
        self.region_fallback = fallback;
        self
    }

    /// Where the failures go that no caller will receive (default: an ERROR log line each,
    /// with the target, the event count and the signed payload):
    ///
    /// - the requests of a [`Sender::send`] (or `send_at`, `send_plan`, `deliver_all`) whose
    ///   future was dropped before they were answered — a timeout around the call, say. The
    ///   send stops (its retries are aborted) and each request not yet reported comes here,
    ///   whole and signed, as [`FailureKind::Cancelled`](crate::deliver::FailureKind) (it may
    ///   or may not have reached its target), or with its failure if it had already failed;
    /// - the failures of a [`Queue`](crate::Queue) dropped without
    ///   [`Queue::shutdown`](crate::Queue::shutdown), and those beyond
    ///   [`QueueConfig::max_failures_kept`](crate::QueueConfig::max_failures_kept);
    /// - the batched events of a `Queue` whose runtime shut down, as `Cancelled` requests.
    ///
    /// Store them (a dead-letter file, see [`DeadLetter`](crate::deliver::DeadLetter)) to send
    /// them again. The handler runs where the work stopped (possibly inside a `Drop`): keep it
    /// short and non-blocking, and do not panic in it.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use soketi_lambda_sender::deliver::DeadLetter;
    /// use soketi_lambda_sender::Sender;
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let kept = lines.clone();
    /// let builder = Sender::builder().on_unclaimed(move |failed| {
    ///     if let Some(letter) = DeadLetter::from_report(&failed) {
    ///         kept.lock().unwrap().push(letter.to_json_line());
    ///     }
    /// });
    /// # let _ = (builder, lines);
    /// ```
    pub fn on_unclaimed(
        mut self,
        handler: impl Fn(DeliveryReport) + Send + Sync + 'static,
    ) -> Self {
        self.unclaimed = Arc::new(handler);
        self
    }

    /// Soketi's queue jobs: whether the consecutive jobs of a message group in one batch are
    /// delivered, per webhook, as one payload (default `true`; see
    /// [`Sender::deliver_jobs`]). Off, each job is its own payload, one after the other.
    pub fn coalesce_jobs(mut self, coalesce: bool) -> Self {
        self.coalesce_jobs = coalesce;
        self
    }

    /// Checks the apps, resolves missing regions, indexes the apps and sets up the transports.
    pub async fn build(self) -> Result<Sender, BuildError> {
        let mut apps = self.apps;
        let needs_region = apps.iter().flat_map(|app| &app.webhooks).any(
            |webhook| matches!(&webhook.target, Target::Lambda(lambda) if lambda.region.is_none()),
        );
        if needs_region && self.region_fallback == RegionFallback::DefaultChain {
            let region = chain_region().await;
            assign_regions(&mut apps, &RegionFallback::None, region.as_deref())?;
        } else {
            assign_regions(&mut apps, &self.region_fallback, None)?;
        }
        let transport = Transport::new(self.policy, self.endpoint_override, self.limits)
            .map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Sender {
            inner: Arc::new(Inner {
                apps: index_apps(apps)?,
                transport: Arc::new(transport),
                limits: self.limits,
                process_id: self.process_id,
                clock: self.clock,
                unclaimed: self.unclaimed,
                region_fallback: self.region_fallback,
                coalesce_jobs: self.coalesce_jobs,
            }),
        })
    }
}

/// The apps checked (each webhook; ids and keys unique) and indexed, with the keyring their
/// queue jobs are verified with.
fn index_apps(apps: Vec<App>) -> Result<Apps, BuildError> {
    let mut by_id = HashMap::new();
    let mut by_key = HashMap::new();
    for (i, app) in apps.iter().enumerate() {
        app.validate().map_err(BuildError::Config)?;
        let taken = |map: &HashMap<String, usize>, name: &str| {
            map.get(name).is_some_and(|&other| other != i)
        };
        for name in [&app.id, &app.key] {
            if taken(&by_id, name) || taken(&by_key, name) {
                return Err(BuildError::DuplicateApp(name.clone()));
            }
        }
        by_id.insert(app.id.clone(), i);
        by_key.insert(app.key.clone(), i);
    }
    let keyring = apps.iter().fold(Keyring::new(), |keyring, app| {
        keyring.app_secrets(app.key.clone(), app.secrets().cloned())
    });
    Ok(Apps {
        list: apps,
        by_id,
        by_key,
        jobs: Verifier::new(keyring),
    })
}

/// The region of the AWS default chain (`AWS_REGION`, the profile, instance metadata).
async fn chain_region() -> Option<String> {
    // Through the kit's loader, so that instance metadata is asked with its HTTPS client.
    let sdk = soketi_handler_kit::aws::config_loader().load().await;
    sdk.region().map(ToString::to_string)
}

/// Gives every Lambda webhook without a region one: `chain` (the AWS default chain's, already
/// looked up) when given, else from `fallback` (`Fixed` or `None`; the default chain is not
/// consulted here); or fails naming the webhook.
fn assign_regions(
    apps: &mut [App],
    fallback: &RegionFallback,
    chain: Option<&str>,
) -> Result<(), BuildError> {
    for app in apps {
        for (index, webhook) in app.webhooks.iter_mut().enumerate() {
            let Target::Lambda(lambda) = &mut webhook.target else {
                continue;
            };
            if lambda.region.is_some() {
                continue;
            }
            let region = match (chain, fallback) {
                (Some(region), _) => Some(region.to_owned()),
                (None, RegionFallback::Fixed(r)) => Some(r.clone()),
                (None, _) => None,
            };
            let Some(region) = region else {
                return Err(BuildError::Config(ConfigError::new(
                    ConfigErrorKind::NoRegion,
                    Some(index),
                    format!("webhooks[{index}].lambda.region"),
                    format!(
                        "no region for function `{}` of app `{}`: set \
                         lambda.client_options.region, lambda.region or the webhook's \
                         region, or AWS_REGION",
                        lambda.function, app.id
                    ),
                )));
            };
            lambda.region = Some(region);
            lambda.region_source = Some(match chain {
                Some(_) => RegionSource::DefaultChain,
                None => RegionSource::Code,
            });
        }
    }
    Ok(())
}

/// Why a sender could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An app's configuration is invalid (the error names the webhook and field).
    #[error(transparent)]
    Config(ConfigError),
    /// Two apps share an id or key.
    #[error("two apps share the id or key `{0}`")]
    DuplicateApp(String),
    /// The HTTP client could not be set up.
    #[error("the HTTP client could not be set up: {0}")]
    Http(String),
}

impl BuildError {
    /// The stable name: the configuration error's kind, `DuplicateApp` or `Http`.
    pub fn kind(&self) -> &'static str {
        match self {
            BuildError::Config(e) => e.kind().as_str(),
            BuildError::DuplicateApp(_) => "DuplicateApp",
            BuildError::Http(_) => "Http",
        }
    }
}
