//! Delivering requests: one at a time under the retry policy, in a task of its own so that a
//! panic ends as a failed report (the guard), split in halves when the endpoint refuses it as
//! too large; several at once, one task per webhook (the fan-out), with what a cancelled send
//! leaves handed to the `on_unclaimed` handler (the claim).

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Sender, Unclaimed};
use crate::deliver::{Deadline, DeliveryReport, Failure, FailureKind, Outcome};
use crate::route::{Request, split_request};

impl Sender {
    /// Delivers one request under the retry policy. If the endpoint refuses it as too large
    /// (413, `RequestTooLargeException`) and it holds several events of one of this sender's
    /// apps, it is split in two halves, each signed again ([`split_request`]) and delivered the
    /// same way, down to single events: one report per request finally sent (or failed), in
    /// event order.
    pub async fn deliver(&self, request: Request) -> Vec<DeliveryReport> {
        self.deliver_before(request, Deadline::none()).await
    }

    /// [`Sender::deliver`], starting no attempt that does not fit before `deadline`.
    pub(crate) async fn deliver_before(
        &self,
        request: Request,
        deadline: Deadline,
    ) -> Vec<DeliveryReport> {
        let mut reports = Vec::new();
        let mut todo = VecDeque::from([request]);
        while let Some(request) = todo.pop_front() {
            let report = self.deliver_guarded(request, deadline).await;
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
    /// [`on_unclaimed`](crate::SenderBuilder::on_unclaimed) handler (see [`Sender::send`]).
    pub async fn deliver_all(&self, requests: Vec<Request>) -> Vec<DeliveryReport> {
        let reports = self.deliver_each(requests, Fanout::default()).await;
        reports.into_iter().flatten().collect()
    }

    /// [`Sender::deliver_all`], as `fanout` says: before a deadline; and, `in_order`, a
    /// webhook's later requests not sent once one failed (reported [`FailureKind::NotSent`]),
    /// so that they never arrive before it. The reports of each request, in the order of
    /// `requests`.
    pub(crate) async fn deliver_each(
        &self,
        requests: Vec<Request>,
        fanout: Fanout,
    ) -> Vec<Vec<DeliveryReport>> {
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
                let mut failed = false;
                for (position, request) in group {
                    let reports = if failed {
                        let failure = Failure::new(
                            FailureKind::NotSent,
                            "not sent: an earlier request to this webhook failed, and this one \
                             must not arrive before it",
                            None,
                            0,
                        );
                        vec![DeliveryReport::new(request, Outcome::Failed(failure))]
                    } else {
                        sender.deliver_before(request, fanout.deadline).await
                    };
                    failed |= fanout.in_order && reports.iter().any(|r| !r.is_delivered());
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
    async fn deliver_guarded(&self, request: Request, deadline: Deadline) -> DeliveryReport {
        let sender = self.clone();
        guarded(request, |request| async move {
            sender.inner.transport.deliver(&request, deadline).await
        })
        .await
    }
}

/// How [`Sender::deliver_each`] delivers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fanout {
    /// No attempt is started that does not fit before it.
    pub(crate) deadline: Deadline,
    /// A webhook's requests stop at its first failure.
    pub(crate) in_order: bool,
}

/// Runs `deliver` on `request` in a task of its own, which shares it; if that task fails
/// (panics), the request is reported as a failed delivery of kind `Internal` instead of
/// disappearing.
async fn guarded<F, Fut>(request: Request, deliver: F) -> DeliveryReport
where
    F: FnOnce(Arc<Request>) -> Fut,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let request = Arc::new(request);
    // Aborted if this future is dropped: a cancelled send stops its retries.
    let mut task = AbortOnDrop(tokio::spawn(deliver(Arc::clone(&request))));
    let outcome = match (&mut task.0).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!("a delivery task failed: {e}");
            Outcome::Failed(Failure::new(
                FailureKind::Internal,
                format!("the delivery task failed ({e}); the request may not have been sent"),
                None,
                0,
            ))
        }
    };
    // The task has ended, and its share of the request with it.
    let request = Arc::try_unwrap(request).unwrap_or_else(|shared| Request::clone(&shared));
    DeliveryReport::new(request, outcome)
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
    /// The reports of each request in order; a request without one (its task ended early) is
    /// a failure.
    fn finish(mut self) -> Vec<Vec<DeliveryReport>> {
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
        results
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
    use crate::config::{App, Webhook};
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
        let report = guarded(request(), |_| async move {
            Outcome::Delivered(Delivered::new(1, 200, String::new()))
        })
        .await;
        assert!(report.is_delivered());
        assert_eq!(report.request, request());
    }
}
