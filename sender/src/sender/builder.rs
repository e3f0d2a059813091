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
        }
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

    /// Checks the apps, resolves missing regions, indexes the apps and sets up the transports.
    pub async fn build(self) -> Result<Sender, BuildError> {
        let mut apps = self.apps;
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
        resolve_regions(&mut apps, &self.region_fallback).await?;
        let keyring = apps.iter().fold(Keyring::new(), |keyring, app| {
            keyring.app_secrets(app.key.clone(), app.secrets().cloned())
        });
        let transport = Transport::new(self.policy, self.endpoint_override, self.limits)
            .map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Sender {
            inner: Arc::new(Inner {
                apps: Apps {
                    list: apps,
                    by_id,
                    by_key,
                    jobs: Verifier::new(keyring),
                },
                transport,
                limits: self.limits,
                process_id: self.process_id,
                clock: self.clock,
                unclaimed: self.unclaimed,
            }),
        })
    }
}

/// Gives every Lambda webhook without a region one from `fallback` (the AWS default chain is
/// consulted once), or fails naming the webhook.
async fn resolve_regions(apps: &mut [App], fallback: &RegionFallback) -> Result<(), BuildError> {
    let mut chain_region: Option<Option<String>> = None;
    for app in apps {
        for (index, webhook) in app.webhooks.iter_mut().enumerate() {
            let Target::Lambda(lambda) = &mut webhook.target else {
                continue;
            };
            if lambda.region.is_some() {
                continue;
            }
            let region = match fallback {
                RegionFallback::Fixed(r) => Some(r.clone()),
                RegionFallback::None => None,
                RegionFallback::DefaultChain => {
                    if chain_region.is_none() {
                        // The SDK's default region chain (environment, profile, instance
                        // metadata), through the kit's loader and its HTTPS client.
                        let sdk = soketi_handler_kit::aws::config_loader().load().await;
                        chain_region = Some(sdk.region().map(ToString::to_string));
                    }
                    chain_region.clone().flatten()
                }
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
            lambda.region_source = Some(match fallback {
                RegionFallback::DefaultChain => RegionSource::DefaultChain,
                _ => RegionSource::Code,
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
