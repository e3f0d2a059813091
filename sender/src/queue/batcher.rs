//! The queue's task: it receives the pushed events, fills a batch per app, sends each batch
//! when it is full or its window ends, and keeps the report until the next flush; stopped with
//! its runtime, it hands what it held to the sender's `on_unclaimed` handler.

use std::collections::HashMap;
use std::sync::Arc;

use soketi_handler_kit::wire::Event;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::batch::Batch;
use super::{QueueConfig, QueueReport};
use crate::deliver::{DeliveryReport, Failure, FailureKind, Outcome, Report};
use crate::sender::Sender;

/// Starts the task of a queue of `sender`'s apps, receiving (app number, event) on `rx` and
/// the flushes on `control`.
pub(super) fn start(
    sender: Sender,
    config: QueueConfig,
    rx: mpsc::Receiver<(usize, Event)>,
    control: mpsc::UnboundedReceiver<oneshot::Sender<QueueReport>>,
) -> JoinHandle<()> {
    let batcher = Batcher {
        sender,
        config,
        batches: HashMap::new(),
        in_flight: JoinSet::new(),
        permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        report: QueueReport::default(),
        rx,
        control,
        finished: false,
    };
    tokio::spawn(batcher.run())
}

struct AppBatch {
    batch: Batch,
    deadline: Instant,
}

struct Batcher {
    sender: Sender,
    config: QueueConfig,
    batches: HashMap<usize, AppBatch>,
    in_flight: JoinSet<Report>,
    permits: Arc<Semaphore>,
    report: QueueReport,
    rx: mpsc::Receiver<(usize, Event)>,
    control: mpsc::UnboundedReceiver<oneshot::Sender<QueueReport>>,
    /// Set when the task ends on its own (the queue was dropped or shut down and everything
    /// was sent); a task dropped before (its runtime stopped) hands over what it held.
    finished: bool,
}

impl Batcher {
    async fn run(mut self) {
        loop {
            let deadline = self.batches.values().map(|b| b.deadline).min();
            tokio::select! {
                received = self.rx.recv() => match received {
                    Some((app, event)) => self.add(app, event).await,
                    None => {
                        self.drain().await;
                        // Dropped without shutdown (or shut down after a flush): what is left
                        // unclaimed goes to the handler.
                        let report = std::mem::take(&mut self.report);
                        for failed in report.failures {
                            (self.sender.unclaimed())(failed);
                        }
                        self.finished = true;
                        return;
                    }
                },
                Some(reply) = self.control.recv() => {
                    // Everything pushed before the flush was asked for is in the channel.
                    while let Ok((app, event)) = self.rx.try_recv() {
                        self.add(app, event).await;
                    }
                    self.drain().await;
                    let report = std::mem::take(&mut self.report);
                    // The caller may have stopped waiting: then the handler gets the failures.
                    if let Err(report) = reply.send(report) {
                        for failed in report.failures {
                            (self.sender.unclaimed())(failed);
                        }
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
        let (events, written) = entry.batch.take();
        if events.is_empty() {
            return;
        }
        // From here until the deliveries start, the events are in a guard that hands them over
        // if they are dropped (the runtime stopping while this waits for a permit).
        let mut pending = PendingBatch {
            sender: self.sender.clone(),
            app,
            events,
        };
        // Waiting for a permit holds the task, so the channel fills and `push` waits:
        // backpressure reaches the producer instead of memory growing. Finished deliveries
        // release their permits on their own.
        // The task owns the semaphore and never closes it, so acquiring cannot fail; if it
        // ever did, the task would stop and `flush` would say so (`QueueError::Stopped`).
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the queue's own semaphore is never closed");
        self.in_flight.spawn(async move {
            let events = std::mem::take(&mut pending.events);
            let sender = pending.sender.clone();
            let time_ms = sender.now_ms();
            let plan = sender.plan_written(app, time_ms, &events, &written);
            drop((events, written));
            // Dropped from here on (the runtime stopping), `send_plan` hands over the requests
            // it has not reported.
            let report = sender.send_plan(plan).await;
            drop(permit);
            report
        });
    }

    fn collect(&mut self, done: Result<Report, tokio::task::JoinError>) {
        match done {
            Ok(report) => {
                let unclaimed = Arc::clone(self.sender.unclaimed());
                self.report
                    .add(report, self.config.max_failures_kept, &*unclaimed);
            }
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

impl Drop for Batcher {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The runtime stopped under the task: nothing more can be sent. Hand over the
        // failures no flush will return, the batched events and those still in the channel.
        // (Requests in flight are handed over by their own deliveries, dropped with
        // `in_flight`.)
        let unclaimed = Arc::clone(self.sender.unclaimed());
        for failed in std::mem::take(&mut self.report.failures) {
            unclaimed(failed);
        }
        let mut left: HashMap<usize, Vec<Event>> = HashMap::new();
        for (app, mut entry) in self.batches.drain() {
            left.entry(app).or_default().extend(entry.batch.take().0);
        }
        while let Ok((app, event)) = self.rx.try_recv() {
            left.entry(app).or_default().push(event);
        }
        for (app, events) in left {
            hand_over_cancelled(&self.sender, app, events);
        }
    }
}

/// Events of a batch not yet handed to the sender.
struct PendingBatch {
    sender: Sender,
    app: usize,
    events: Vec<Event>,
}

impl Drop for PendingBatch {
    fn drop(&mut self) {
        let events = std::mem::take(&mut self.events);
        if !events.is_empty() {
            hand_over_cancelled(&self.sender, self.app, events);
        }
    }
}

/// Gives the requests for `events` of app number `app` to the `on_unclaimed` handler as
/// cancelled (never sent).
fn hand_over_cancelled(sender: &Sender, app: usize, events: Vec<Event>) {
    let plan = sender.plan_index(app, sender.now_ms(), &events);
    let count = events.len();
    tracing::error!(
        events = count,
        "the queue stopped with its runtime before sending {count} event(s): their requests \
         go to the on_unclaimed handler"
    );
    for request in plan.requests {
        let failure = Failure::new(
            FailureKind::Cancelled,
            "the queue's runtime stopped before this request was sent",
            None,
            0,
        );
        (sender.unclaimed())(DeliveryReport::new(request, Outcome::Failed(failure)));
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
