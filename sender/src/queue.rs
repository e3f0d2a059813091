//! The background queue: events pushed one by one, batched per app, delivered by a worker
//! task, reports collected until the next flush.

use std::collections::HashMap;
use std::sync::Arc;

use soketi_handler_kit::wire::Event;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::deliver::Report;
use crate::route::{Batch, BatchLimits};
use crate::sender::{Sender, UnknownApp};

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
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 1024,
            batch: BatchLimits::default(),
            max_in_flight: 4,
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
/// [`flush`](Queue::flush) sends what is batched and returns the reports of everything
/// delivered or failed since the previous flush; [`shutdown`](Queue::shutdown) does the same
/// and stops. Dropping the queue without shutting it down still sends what is batched, but
/// the reports then only reach the logs.
#[derive(Debug)]
pub struct Queue {
    tx: mpsc::Sender<(usize, Event)>,
    control: mpsc::UnboundedSender<oneshot::Sender<Report>>,
    sender: Sender,
    handle: tokio::task::JoinHandle<()>,
}

impl Queue {
    /// Starts the worker of a queue for `sender`'s apps.
    pub(crate) fn start(sender: Sender, config: QueueConfig) -> Queue {
        let (tx, rx) = mpsc::channel(config.capacity.max(1));
        let (control, control_rx) = mpsc::unbounded_channel();
        let worker = Worker {
            sender: sender.clone(),
            config,
            batches: HashMap::new(),
            in_flight: JoinSet::new(),
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            report: Report::default(),
        };
        let handle = tokio::spawn(worker.run(rx, control_rx));
        Queue {
            tx,
            control,
            sender,
            handle,
        }
    }
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

    /// Sends every batch now, waits for every delivery in flight, and returns the reports since
    /// the previous flush. Fails with [`QueueError::Stopped`] if the worker is gone (its
    /// batched events could not be accounted for; the logs say why).
    pub async fn flush(&self) -> Result<Report, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.control.send(reply).map_err(|_| QueueError::Stopped)?;
        answer.await.map_err(|_| QueueError::Stopped)
    }

    /// Flushes, then stops the worker.
    pub async fn shutdown(self) -> Result<Report, QueueError> {
        let report = self.flush().await;
        drop(self.tx);
        drop(self.control);
        if let Err(e) = self.handle.await {
            tracing::error!("the queue worker failed: {e}");
        }
        report
    }
}

struct AppBatch {
    batch: Batch,
    deadline: Instant,
}

struct Worker {
    sender: Sender,
    config: QueueConfig,
    batches: HashMap<usize, AppBatch>,
    in_flight: JoinSet<Report>,
    permits: Arc<Semaphore>,
    report: Report,
}

impl Worker {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<(usize, Event)>,
        mut control: mpsc::UnboundedReceiver<oneshot::Sender<Report>>,
    ) {
        loop {
            let deadline = self.batches.values().map(|b| b.deadline).min();
            tokio::select! {
                received = rx.recv() => match received {
                    Some((app, event)) => self.add(app, event).await,
                    None => {
                        self.drain().await;
                        log_unclaimed(&self.report);
                        return;
                    }
                },
                Some(reply) = control.recv() => {
                    // Everything pushed before the flush was asked for is in the channel.
                    while let Ok((app, event)) = rx.try_recv() {
                        self.add(app, event).await;
                    }
                    self.drain().await;
                    let report = std::mem::take(&mut self.report);
                    // The caller may have stopped waiting: then the logs are the record.
                    if let Err(report) = reply.send(report) {
                        log_unclaimed(&report);
                    }
                }
                () = sleep_until(deadline) => self.send_expired().await,
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    self.collect(done);
                }
            }
        }
    }

    async fn add(&mut self, app: usize, event: Event) {
        let window = self.config.batch.window;
        let entry = self.batches.entry(app).or_insert_with(|| AppBatch {
            batch: Batch::default(),
            deadline: Instant::now() + window,
        });
        if entry.batch.push(event, &self.config.batch) {
            self.send_batch(app).await;
        }
    }

    async fn send_expired(&mut self) {
        let now = Instant::now();
        let expired: Vec<usize> = self
            .batches
            .iter()
            .filter(|(_, b)| b.deadline <= now)
            .map(|(app, _)| *app)
            .collect();
        for app in expired {
            self.send_batch(app).await;
        }
    }

    async fn send_batch(&mut self, app: usize) {
        let Some(mut entry) = self.batches.remove(&app) else {
            return;
        };
        let events = entry.batch.take();
        if events.is_empty() {
            return;
        }
        // Waiting for a permit holds the worker, so the channel fills and `push` waits:
        // backpressure reaches the producer instead of memory growing. Finished deliveries
        // release their permits on their own.
        // The worker owns the semaphore and never closes it, so acquiring cannot fail; if it
        // ever did, the worker would stop and `flush` would say so (`QueueError::Stopped`).
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the queue's own semaphore is never closed");
        let sender = self.sender.clone();
        self.in_flight.spawn(async move {
            let time_ms = sender.now_ms();
            let plan = sender.plan_index(app, time_ms, &events);
            let report = sender.send_plan(plan).await;
            drop(permit);
            report
        });
    }

    fn collect(&mut self, done: Result<Report, tokio::task::JoinError>) {
        match done {
            Ok(report) => self.report.extend(report),
            Err(e) => tracing::error!("a batch delivery task failed: {e}"),
        }
    }

    async fn drain(&mut self) {
        let apps: Vec<usize> = self.batches.keys().copied().collect();
        for app in apps {
            self.send_batch(app).await;
        }
        while let Some(done) = self.in_flight.join_next().await {
            self.collect(done);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn log_unclaimed(report: &Report) {
    for failed in report.failures() {
        tracing::error!(
            app = %failed.request.app_id, webhook = failed.request.webhook,
            target = %failed.request.target.describe(),
            body = %failed.request.body,
            "webhook delivery failed and no one flushed the queue to claim the report: {:?}",
            failed.failure()
        );
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
