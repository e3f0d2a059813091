//! The sender: apps in, reports out. Batching in the background is the
//! [`Queue`](crate::Queue)'s job; soketi's queue jobs are [`jobs`](crate::jobs)'.
//!
//! Inside: `builder` builds a [`Sender`] (settings, checks, regions, indexes); `fanout`
//! delivers its requests (the panic guard, the split of a request refused as too large, one
//! task per webhook, cancellation).

mod builder;
mod fanout;

pub(crate) use fanout::Fanout;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use soketi_handler_kit::Verifier;
use soketi_handler_kit::wire::Event;

use crate::config::App;
use crate::deliver::{DeliveryReport, Report, Transport};
use crate::route::{Limits, Plan, WrittenEvents, plan_indexed};

pub use builder::{BuildError, RegionFallback, SenderBuilder};

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;
pub(crate) type Unclaimed = Arc<dyn Fn(DeliveryReport) + Send + Sync>;

/// A send named an app the sender does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no app with id or key `{0}`")]
pub struct UnknownApp(pub String);

/// The apps, in configuration order, indexed by id and by key; and what their queue jobs are
/// verified with: the kit's verifier, with the current and previous secrets of each app key.
struct Apps {
    list: Vec<App>,
    by_id: HashMap<String, usize>,
    by_key: HashMap<String, usize>,
    jobs: Verifier,
}

struct Inner {
    apps: Apps,
    /// Shared by the senders [`Sender::with_apps`] makes from this one.
    transport: Arc<Transport>,
    limits: Limits,
    process_id: u32,
    clock: Clock,
    unclaimed: Unclaimed,
    region_fallback: RegionFallback,
    coalesce_jobs: bool,
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
            .field("apps", &self.inner.apps.list)
            .field("transport", &self.inner.transport)
            .field("process_id", &self.inner.process_id)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// The apps, regions resolved.
    pub fn apps(&self) -> &[App] {
        &self.inner.apps.list
    }

    /// The app with this id, or else this key.
    pub fn app(&self, id_or_key: &str) -> Option<&App> {
        self.app_index(id_or_key).map(|i| &self.inner.apps.list[i])
    }

    /// The number of the app with this id, or else this key.
    pub(crate) fn app_index(&self, id_or_key: &str) -> Option<usize> {
        let apps = &self.inner.apps;
        apps.by_id
            .get(id_or_key)
            .or_else(|| apps.by_key.get(id_or_key))
            .copied()
    }

    /// The number of the app with this key.
    pub(crate) fn app_index_by_key(&self, key: &str) -> Option<usize> {
        self.inner.apps.by_key.get(key).copied()
    }

    /// What soketi's queue jobs are verified with (see [`jobs`](crate::jobs)).
    pub(crate) fn job_verifier(&self) -> &Verifier {
        &self.inner.apps.jobs
    }

    /// Whether soketi's queue jobs are coalesced (see [`SenderBuilder::coalesce_jobs`]).
    pub(crate) fn coalesces_jobs(&self) -> bool {
        self.inner.coalesce_jobs
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

    /// The plan for `events` of app number `index`.
    pub(crate) fn plan_index(&self, index: usize, time_ms: u64, events: &[Event]) -> Plan {
        self.plan_written(index, time_ms, events, &WrittenEvents::of(events))
    }

    /// The plan for `events` of app number `index`, already written in `written`.
    pub(crate) fn plan_written(
        &self,
        index: usize,
        time_ms: u64,
        events: &[Event],
        written: &WrittenEvents,
    ) -> Plan {
        self.plan_indexed(index, time_ms, events, written).0
    }

    /// [`Sender::plan_written`], and for each request the numbers of the events it carries.
    pub(crate) fn plan_indexed(
        &self,
        index: usize,
        time_ms: u64,
        events: &[Event],
        written: &WrittenEvents,
    ) -> (Plan, Vec<Vec<usize>>) {
        plan_indexed(
            &self.inner.apps.list[index],
            time_ms,
            self.inner.process_id,
            events,
            written,
            &self.inner.limits,
        )
    }

    /// Sends `events` of app `app` (id or key) now, as one batch stamped with the clock: each
    /// webhook gets its own events. Returns when every request is delivered or has failed.
    ///
    /// **Cancellation**: dropping the returned future (a timeout around it, a `select!`)
    /// stops the send — retries and waits are aborted, nothing more is sent — and hands every
    /// request not reported yet to the [`on_unclaimed`](SenderBuilder::on_unclaimed) handler,
    /// as [`FailureKind::Cancelled`](crate::deliver::FailureKind) (it may have reached its
    /// target: sending it again may deliver it twice). No event is dropped without a report.
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

    /// The handler of reports no caller receives.
    pub(crate) fn unclaimed(&self) -> &Unclaimed {
        &self.inner.unclaimed
    }
}
