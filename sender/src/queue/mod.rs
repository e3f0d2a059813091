//! The background queue: events pushed one by one, batched per app, delivered by a task of
//! its own; counts and failures (bounded) kept until the next flush.
//!
//! Inside: `batch` holds an app's batch being filled and [`BatchLimits`]; `batcher` the
//! queue's task.

mod batch;
mod batcher;

use soketi_handler_kit::wire::Event;
use tokio::sync::{mpsc, oneshot};

use crate::deliver::{DeliveryReport, Report};
use crate::sender::{Sender, UnknownApp};

pub use batch::BatchLimits;

/// How a [`Queue`] batches and how much it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Events waiting to be batched before [`Queue::push`] waits (backpressure). Default 1024.
    pub capacity: usize,
    /// When a batch is sent.
    pub batch: BatchLimits,
    /// Batches being delivered at once (default 4). With 1, batches of an app reach each
    /// webhook in order.
    pub max_in_flight: usize,
    /// Failed requests kept (with their signed bodies) for the next [`Queue::flush`]
    /// (default 1,000). Beyond it, each further failure goes at once to the sender's
    /// [`on_unclaimed`](crate::SenderBuilder::on_unclaimed) handler (by default an ERROR log
    /// line) and is counted in [`QueueReport::failures_handed_off`]: the queue's memory stays
    /// bounded and no failure is dropped unrecorded.
    pub max_failures_kept: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 1024,
            batch: BatchLimits::default(),
            max_in_flight: 4,
            max_failures_kept: 1000,
        }
    }
}

impl QueueConfig {
    /// Sets the capacity.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Sets the batch limits.
    pub fn batch(mut self, batch: BatchLimits) -> Self {
        self.batch = batch;
        self
    }

    /// Sets how many batches may be delivered at once.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets how many failed requests are kept until the next flush (0: every failure goes to
    /// the `on_unclaimed` handler at once).
    pub fn max_failures_kept(mut self, n: usize) -> Self {
        self.max_failures_kept = n;
        self
    }
}

/// What a [`Queue`] did since the previous flush: counts of what was delivered (delivered
/// requests are not kept: their bodies and responses are dropped once counted), and the failed
/// requests, whole and signed, up to [`QueueConfig::max_failures_kept`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct QueueReport {
    /// Requests delivered.
    pub delivered_requests: usize,
    /// Events in the requests delivered (an event sent to two webhooks counts twice).
    pub delivered_events: usize,
    /// Requests that failed, kept or handed off.
    pub failed_requests: usize,
    /// Events in the requests that failed.
    pub failed_events: usize,
    /// Events no webhook wanted (nothing was sent for them).
    pub unrouted_events: usize,
    /// The failed requests kept, oldest first (at most `max_failures_kept`).
    pub failures: Vec<DeliveryReport>,
    /// Failures not kept here, handed to the sender's `on_unclaimed` handler instead.
    pub failures_handed_off: usize,
}

impl QueueReport {
    /// Whether nothing failed.
    pub fn is_success(&self) -> bool {
        self.failed_requests == 0
    }

    /// Counts the deliveries of `report` and keeps its failures, the ones beyond `max_kept`
    /// going to `overflow`.
    pub(super) fn add(
        &mut self,
        report: Report,
        max_kept: usize,
        overflow: &dyn Fn(DeliveryReport),
    ) {
        self.unrouted_events += report.unrouted.len();
        for delivery in report.deliveries {
            if delivery.is_delivered() {
                self.delivered_requests += 1;
                self.delivered_events += delivery.request.events.len();
                continue;
            }
            self.failed_requests += 1;
            self.failed_events += delivery.request.events.len();
            if self.failures.len() < max_kept {
                self.failures.push(delivery);
            } else {
                self.failures_handed_off += 1;
                overflow(delivery);
            }
        }
    }
}

/// Why an event was not queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// No app with that id or key.
    #[error(transparent)]
    UnknownApp(#[from] UnknownApp),
    /// The queue is full ([`Queue::try_push`] only); the event is handed back.
    #[error("the queue is full")]
    Full(Event),
    /// The queue's worker has stopped; the event is handed back.
    #[error("the queue has stopped")]
    Closed(Event),
    /// The queue's worker stopped before it could report: events it held may not have been
    /// delivered, and there is no report of them.
    #[error("the queue's worker has stopped: events it held are not accounted for (see the logs)")]
    Stopped,
}

/// A bounded queue of events, batched per app and delivered in the background.
///
/// [`push`](Queue::push) waits while the queue is full (backpressure);
/// [`flush`](Queue::flush) sends what is batched and returns a [`QueueReport`] of everything
/// delivered or failed since the previous flush (counts, and the failures up to
/// [`QueueConfig::max_failures_kept`]); [`shutdown`](Queue::shutdown) does the same and stops.
///
/// **Dropped without `shutdown`**, the queue still sends what it has batched (its worker
/// drains it in the background) and hands the failures no one will flush to the sender's
/// [`on_unclaimed`](crate::SenderBuilder::on_unclaimed) handler. If the runtime stops first
/// (the end of `main`), nothing more can be sent: the events still batched or waiting, and the
/// requests in flight, go to that handler as
/// [`FailureKind::Cancelled`](crate::deliver::FailureKind::Cancelled) requests, whole and
/// signed. Call `shutdown().await` before the runtime ends to have them delivered instead.
#[derive(Debug)]
pub struct Queue {
    tx: mpsc::Sender<(usize, Event)>,
    control: mpsc::UnboundedSender<oneshot::Sender<QueueReport>>,
    sender: Sender,
    handle: tokio::task::JoinHandle<()>,
}

impl Sender {
    /// Starts a background queue that batches events per app (see [`QueueConfig`]) and
    /// delivers each batch. Needs a Tokio runtime.
    pub fn queue(&self, config: QueueConfig) -> Queue {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let (control, control_rx) = mpsc::unbounded_channel();
        let handle = batcher::start(self.clone(), config, rx, control_rx);
        Queue {
            tx,
            control,
            sender: self.clone(),
            handle,
        }
    }
}

impl Queue {
    fn index(&self, app: &str) -> Result<usize, UnknownApp> {
        self.sender
            .app_index(app)
            .ok_or_else(|| UnknownApp(app.to_owned()))
    }

    /// Queues `event` for app `app` (id or key), waiting while the queue is full.
    pub async fn push(&self, app: &str, event: Event) -> Result<(), QueueError> {
        let index = self.index(app)?;
        self.tx
            .send((index, event))
            .await
            .map_err(|e| QueueError::Closed(e.0.1))
    }

    /// Queues `event` if there is room now.
    pub fn try_push(&self, app: &str, event: Event) -> Result<(), QueueError> {
        let index = self.index(app)?;
        self.tx.try_send((index, event)).map_err(|e| match e {
            mpsc::error::TrySendError::Full((_, event)) => QueueError::Full(event),
            mpsc::error::TrySendError::Closed((_, event)) => QueueError::Closed(event),
        })
    }

    /// Sends every batch now, waits for every delivery in flight, and returns what happened
    /// since the previous flush. Fails with [`QueueError::Stopped`] if the worker is gone (its
    /// batched events could not be accounted for; the logs say why).
    pub async fn flush(&self) -> Result<QueueReport, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.control.send(reply).map_err(|_| QueueError::Stopped)?;
        answer.await.map_err(|_| QueueError::Stopped)
    }

    /// Flushes, then stops the worker.
    pub async fn shutdown(self) -> Result<QueueReport, QueueError> {
        let report = self.flush().await;
        drop(self.tx);
        drop(self.control);
        if let Err(e) = self.handle.await {
            tracing::error!("the queue worker failed: {e}");
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RegionFallback;
    use crate::config::{App, Webhook};

    #[tokio::test]
    async fn flushing_a_queue_whose_worker_died_is_an_error_not_an_empty_report() {
        let app = App::new("1", "key", "secret").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .event_types([soketi_handler_kit::wire::EventKind::ChannelOccupied]),
        );
        let sender = Sender::builder()
            .app(app)
            .region_fallback(RegionFallback::None)
            .build()
            .await
            .expect("sender");
        let queue = sender.queue(QueueConfig::default());
        queue.handle.abort();
        while !queue.handle.is_finished() {
            tokio::task::yield_now().await;
        }
        assert!(matches!(queue.flush().await, Err(QueueError::Stopped)));
        assert!(matches!(queue.shutdown().await, Err(QueueError::Stopped)));
    }
}
