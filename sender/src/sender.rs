//! The sender: apps in, reports out. Batching in the background is the [`Queue`]'s job.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use soketi_handler_kit::wire::{Event, now_ms};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::{App, ConfigError, ConfigErrorKind, RegionSource, Target};
use crate::deliver::{
    DeliveryReport, Failure, FailureKind, Outcome, Report, RetryPolicy, Transport,
};
use crate::queue::{Queue, QueueConfig};
use crate::route::{Limits, Plan, Request, plan, split_request};

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;
pub(crate) type Unclaimed = Arc<dyn Fn(DeliveryReport) + Send + Sync>;

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
    ///   whole and signed, as [`FailureKind::Cancelled`] (it may or may not have reached its
    ///   target), or with its failure if it had already failed;
    /// - the failures of a [`Queue`] dropped without [`Queue::shutdown`], and those beyond
    ///   [`QueueConfig::max_failures_kept`];
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

    /// Checks the apps, resolves missing regions and sets up the transports.
    pub async fn build(self) -> Result<Sender, BuildError> {
        let mut apps = self.apps;
        let mut seen = HashMap::new();
        for (i, app) in apps.iter().enumerate() {
            app.validate().map_err(BuildError::Config)?;
            for name in [&app.id, &app.key] {
                if let Some(other) = seen.insert(name.clone(), i)
                    && other != i
                {
                    return Err(BuildError::DuplicateApp(name.clone()));
                }
            }
        }
        let mut chain_region: Option<Option<String>> = None;
        for app in &mut apps {
            for (index, webhook) in app.webhooks.iter_mut().enumerate() {
                let Target::Lambda(lambda) = &mut webhook.target else {
                    continue;
                };
                if lambda.region.is_some() {
                    continue;
                }
                let region = match &self.region_fallback {
                    RegionFallback::Fixed(r) => Some(r.clone()),
                    RegionFallback::None => None,
                    RegionFallback::DefaultChain => {
                        if chain_region.is_none() {
                            let chain =
                                aws_config::default_provider::region::DefaultRegionChain::builder()
                                    .build();
                            chain_region = Some(chain.region().await.map(|r| r.to_string()));
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
                lambda.region_source = Some(match self.region_fallback {
                    RegionFallback::DefaultChain => RegionSource::DefaultChain,
                    _ => RegionSource::Code,
                });
            }
        }
        let transport = Transport::new(self.policy, self.endpoint_override, self.limits)
            .map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Sender {
            inner: Arc::new(Inner {
                apps,
                transport,
                limits: self.limits,
                process_id: self.process_id,
                clock: self.clock,
                unclaimed: self.unclaimed,
            }),
        })
    }
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

/// A send named an app the sender does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no app with id or key `{0}`")]
pub struct UnknownApp(pub String);

struct Inner {
    apps: Vec<App>,
    transport: Transport,
    limits: Limits,
    process_id: u32,
    clock: Clock,
    unclaimed: Unclaimed,
}

/// Delivers soketi webhooks for a set of apps. Cheap to clone; share it freely.
///
/// ```no_run
/// use soketi_handler_kit::wire::{Event, EventKind};
/// use soketi_lambda_sender::config::{App, Webhook};
/// use soketi_lambda_sender::Sender;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let app = App::new("1", "app1key", "app1secret").webhook(
///     Webhook::lambda("my-function").region("eu-west-1").event_types([EventKind::ChannelOccupied]),
/// );
/// let sender = Sender::builder().app(app).endpoint_override("http://127.0.0.1:9000").build().await?;
/// let report = sender.send("1", vec![Event::channel_occupied("public-chan")]).await?;
/// for failed in report.failures() {
///     eprintln!("{}: {:?}", failed.request.target.describe(), failed.failure());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("apps", &self.inner.apps)
            .field("transport", &self.inner.transport)
            .field("process_id", &self.inner.process_id)
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

    /// The apps, regions resolved.
    pub fn apps(&self) -> &[App] {
        &self.inner.apps
    }

    /// The app with this id, or else this key.
    pub fn app(&self, id_or_key: &str) -> Option<&App> {
        self.app_index(id_or_key).map(|i| &self.inner.apps[i])
    }

    pub(crate) fn app_index(&self, id_or_key: &str) -> Option<usize> {
        let apps = &self.inner.apps;
        apps.iter()
            .position(|a| a.id == id_or_key)
            .or_else(|| apps.iter().position(|a| a.key == id_or_key))
    }

    /// The current time, by the sender's clock.
    pub fn now_ms(&self) -> u64 {
        (self.inner.clock)()
    }

    /// The signed requests for `events` of app `app` (id or key), stamped `time_ms`, without
    /// sending anything.
    pub fn plan(&self, app: &str, time_ms: u64, events: &[Event]) -> Result<Plan, UnknownApp> {
        let index = self
            .app_index(app)
            .ok_or_else(|| UnknownApp(app.to_owned()))?;
        Ok(self.plan_index(index, time_ms, events))
    }

    pub(crate) fn plan_index(&self, index: usize, time_ms: u64, events: &[Event]) -> Plan {
        plan(
            &self.inner.apps[index],
            time_ms,
            self.inner.process_id,
            events,
            &self.inner.limits,
        )
    }

    /// Sends `events` of app `app` (id or key) now, as one batch stamped with the clock: each
    /// webhook gets its own events. Returns when every request is delivered or has failed.
    ///
    /// **Cancellation**: dropping the returned future (a timeout around it, a `select!`)
    /// stops the send — retries and waits are aborted, nothing more is sent — and hands every
    /// request not reported yet to the [`on_unclaimed`](SenderBuilder::on_unclaimed) handler,
    /// as [`FailureKind::Cancelled`] (it may have reached its target: sending it again may
    /// deliver it twice). No event is dropped without a report.
    pub async fn send(&self, app: &str, events: Vec<Event>) -> Result<Report, UnknownApp> {
        self.send_at(app, self.now_ms(), events).await
    }

    /// Like [`Sender::send`], stamped `time_ms`.
    pub async fn send_at(
        &self,
        app: &str,
        time_ms: u64,
        events: Vec<Event>,
    ) -> Result<Report, UnknownApp> {
        let plan = self.plan(app, time_ms, &events)?;
        Ok(self.send_plan(plan).await)
    }

    /// Sends the requests of a plan.
    pub async fn send_plan(&self, plan: Plan) -> Report {
        Report {
            deliveries: self.deliver_all(plan.requests).await,
            unrouted: plan.unrouted,
        }
    }

    /// Delivers one request under the retry policy. If the endpoint refuses it as too large
    /// (413, `RequestTooLargeException`) and it holds several events of one of this sender's
    /// apps, it is split in two halves, each signed again ([`split_request`]) and delivered the
    /// same way, down to single events: one report per request finally sent (or failed), in
    /// event order.
    pub async fn deliver(&self, request: Request) -> Vec<DeliveryReport> {
        let mut reports = Vec::new();
        let mut todo = VecDeque::from([request]);
        while let Some(request) = todo.pop_front() {
            let report = self.deliver_guarded(request).await;
            match self.halves_of_refused(&report) {
                Some((first, second)) => {
                    tracing::debug!(
                        target = %report.request.target.describe(),
                        events = report.request.events.len(),
                        "the endpoint refused the request as too large: sending it in two halves"
                    );
                    todo.push_front(second);
                    todo.push_front(first);
                }
                None => reports.push(report),
            }
        }
        reports
    }

    /// The halves of a request refused as too large by its endpoint, if it can be split.
    fn halves_of_refused(&self, report: &DeliveryReport) -> Option<(Request, Request)> {
        let failure = report.failure()?;
        if failure.kind != FailureKind::TooLarge || failure.attempts == 0 {
            return None; // not sent (over the configured limit): the plan already split it
        }
        let app = self.app(&report.request.app_id)?;
        split_request(app, &report.request)
    }

    /// Delivers requests: those for the same webhook one after the other, in order; different
    /// webhooks at the same time. Reports come back in the order of `requests` (a request
    /// split because the endpoint found it too large gives several, in event order).
    ///
    /// Dropping the future stops the deliveries and hands what was not reported to the
    /// [`on_unclaimed`](SenderBuilder::on_unclaimed) handler (see [`Sender::send`]).
    pub async fn deliver_all(&self, requests: Vec<Request>) -> Vec<DeliveryReport> {
        // (app id, webhook index) -> its requests with their positions, in first-seen order.
        type Group = ((String, usize), Vec<(usize, Request)>);
        let mut groups: Vec<Group> = Vec::new();
        let count = requests.len();
        let mut claim = Claim {
            pending: Vec::with_capacity(count),
            results: Vec::new(),
            rx: None,
            tasks: JoinSet::new(),
            unclaimed: Arc::clone(&self.inner.unclaimed),
        };
        for (position, request) in requests.into_iter().enumerate() {
            claim.pending.push(Some(request.clone()));
            let key = (request.app_id.clone(), request.webhook);
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, group)) => group.push((position, request)),
                None => groups.push((key, vec![(position, request)])),
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        claim.rx = Some(rx);
        claim.results = (0..count).map(|_| Vec::new()).collect();
        for (_, group) in groups {
            let sender = self.clone();
            let tx = tx.clone();
            claim.tasks.spawn(async move {
                for (position, request) in group {
                    let reports = sender.deliver(request).await;
                    // The receiver is gone only if the send was dropped, and then its guard has
                    // reported this request as cancelled.
                    let _ = tx.send((position, reports));
                }
            });
        }
        drop(tx);
        let mut outstanding = count;
        while outstanding > 0 {
            let Some(rx) = claim.rx.as_mut() else { break };
            match rx.recv().await {
                Some((position, reports)) => {
                    claim.pending[position] = None;
                    claim.results[position] = reports;
                    outstanding -= 1;
                }
                // Each delivery is guarded, so a group task only ends early if the runtime
                // is shutting down: the requests it did not report are failed, not dropped.
                None => break,
            }
        }
        claim.finish()
    }

    /// Delivers `request` in a task of its own, so that even a bug that panics inside the
    /// transport ends as a failed delivery with its request in the report, never a lost one.
    async fn deliver_guarded(&self, request: Request) -> DeliveryReport {
        let sender = self.clone();
        guarded(request, |copy| async move {
            sender.inner.transport.deliver(copy).await
        })
        .await
    }

    /// The handler of reports no caller receives.
    pub(crate) fn unclaimed(&self) -> &Unclaimed {
        &self.inner.unclaimed
    }

    /// Starts a background queue that batches events per app (see [`QueueConfig`]) and
    /// delivers each batch. Needs a Tokio runtime.
    pub fn queue(&self, config: QueueConfig) -> Queue {
        Queue::start(self.clone(), config)
    }
}

/// Runs `deliver` on a copy of `request` in a task of its own; if that task fails (panics),
/// the request is reported as a failed delivery of kind `Internal` instead of disappearing.
async fn guarded<F, Fut>(request: Request, deliver: F) -> DeliveryReport
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = DeliveryReport> + Send + 'static,
{
    // Aborted if this future is dropped: a cancelled send stops its retries.
    let mut task = AbortOnDrop(tokio::spawn(deliver(request.clone())));
    match (&mut task.0).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!("a delivery task failed: {e}");
            let failure = Failure::new(
                FailureKind::Internal,
                format!("the delivery task failed ({e}); the request may not have been sent"),
                None,
                0,
            );
            DeliveryReport::new(request, Outcome::Failed(failure))
        }
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The requests of a `deliver_all` and what became of them. Dropped before `finish` (the
/// send's future was dropped), it aborts the deliveries and hands every request not reported
/// to the `on_unclaimed` handler.
struct Claim {
    /// The requests not reported yet, by position.
    pending: Vec<Option<Request>>,
    results: Vec<Vec<DeliveryReport>>,
    rx: Option<mpsc::UnboundedReceiver<(usize, Vec<DeliveryReport>)>>,
    tasks: JoinSet<()>,
    unclaimed: Unclaimed,
}

impl Claim {
    /// The reports in order; a request without one (its task ended early) is a failure.
    fn finish(mut self) -> Vec<DeliveryReport> {
        let pending = std::mem::take(&mut self.pending);
        let mut results = std::mem::take(&mut self.results);
        for (position, request) in pending.into_iter().enumerate() {
            if let Some(request) = request {
                tracing::error!("a delivery task ended without a report");
                let failure = Failure::new(
                    FailureKind::Internal,
                    "the delivery task ended without a report (the runtime is shutting down?); \
                     the request may not have been sent",
                    None,
                    0,
                );
                results[position] = vec![DeliveryReport::new(request, Outcome::Failed(failure))];
            }
        }
        results.into_iter().flatten().collect()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Reports received but never returned (the send was dropped while waiting for the
        // others): their failures are handed over too.
        for report in self.results.drain(..).flatten() {
            if !report.is_delivered() {
                (self.unclaimed)(report);
            }
        }
        if self.pending.iter().all(Option::is_none) {
            return;
        }
        self.tasks.abort_all();
        // Reports that arrived but were not read yet: failures are handed over as they are.
        if let Some(rx) = self.rx.as_mut() {
            while let Ok((position, reports)) = rx.try_recv() {
                self.pending[position] = None;
                for report in reports.into_iter().filter(|r| !r.is_delivered()) {
                    (self.unclaimed)(report);
                }
            }
        }
        for request in self.pending.iter_mut().filter_map(Option::take) {
            let failure = Failure::new(
                FailureKind::Cancelled,
                "the send was cancelled before this request was answered; it may or may not \
                 have reached its target",
                None,
                0,
            );
            (self.unclaimed)(DeliveryReport::new(request, Outcome::Failed(failure)));
        }
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::Event;
    use soketi_handler_kit::wire::headers::user_agent;

    use super::*;
    use crate::config::Webhook;
    use crate::deliver::Delivered;

    fn request() -> Request {
        let app = App::new("1", "key", "secret").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .event_types([soketi_handler_kit::wire::EventKind::ChannelOccupied]),
        );
        Request::build(
            &app,
            0,
            vec![Event::channel_occupied("c")],
            1,
            &user_agent(1),
        )
        .expect("request")
    }

    #[tokio::test]
    async fn a_panicking_delivery_is_reported_failed_with_its_request() {
        let report = guarded(request(), |_copy| async move {
            panic!("a bug in the transport");
        })
        .await;
        let failure = report.failure().expect("reported as failed");
        assert_eq!(failure.kind, FailureKind::Internal);
        assert!(failure.message.contains("panicked"), "{}", failure.message);
        assert_eq!(
            report.request,
            request(),
            "the request is kept, to be sent again"
        );
    }

    #[tokio::test]
    async fn a_normal_delivery_passes_through() {
        let report = guarded(request(), |copy| async move {
            DeliveryReport::new(
                copy,
                Outcome::Delivered(Delivered::new(1, 200, String::new())),
            )
        })
        .await;
        assert!(report.is_delivered());
    }
}
