//! soketi's webhook queue: its jobs delivered through the sender's routing, signing and
//! delivery.
//!
//! With `queue.driver: "sqs"`, every soketi node enqueues each webhook as a job
//! `{appKey, appId, payload, originalPusherSignature}` (read by the kit's
//! [`QueueJob`]). [`Sender::deliver_job`] checks the job's
//! signature against its app's current and previous secrets, then sends its events like
//! [`Sender::send_at`]: each webhook gets the events its `event_types` and `filter` want,
//! signed over exactly what it receives, stamped with the job's `time_ms`, retried under the
//! retry policy. [`Sender::deliver_jobs`] does it for a batch of queue messages, keeping FIFO
//! order within each message group, and says which messages must go back to the queue.
//!
//! Delivery is at least once: a job that failed for one webhook goes back to the queue whole,
//! so the webhooks that did get it receive it again when it is retried.
//!
//! Inside: `batch` holds the batch of messages and its outcome.

mod batch;

use soketi_handler_kit::wire::{Event, JobError, QueueJob};

use crate::Sender;
use crate::deliver::Report;

pub use batch::{BatchCounts, BatchOutcome, JobMessage, JobOutcome};

impl Sender {
    /// Delivers one of soketi's queue jobs: the app is found by the job's key, the signature
    /// checked over the payload's exact bytes against the app's secret and
    /// [`previous_secrets`](crate::config::App::previous_secrets), then the events are routed,
    /// signed and delivered as [`Sender::send_at`] does, stamped with the job's `time_ms`.
    ///
    /// A job that cannot be delivered at all (unknown app, no secret verifies, a malformed
    /// message) is a [`JobError`]; a delivery that failed is in the [`Report`].
    ///
    /// ```
    /// use soketi_handler_kit::wire::{QueueJob, Secret, write_job};
    /// use soketi_lambda_sender::config::App;
    /// use soketi_lambda_sender::{RegionFallback, Sender};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // The secret was rotated after soketi enqueued the job: the previous one still verifies.
    /// let app = App::new("1", "app1key", "new-secret").previous_secret("old-secret");
    /// let sender = Sender::builder().app(app).region_fallback(RegionFallback::None).build().await?;
    /// let payload = r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}"#;
    /// let body = write_job("app1key", "1", payload, &Secret::new("old-secret"));
    /// let report = sender.deliver_job(&QueueJob::parse(&body)?).await?;
    /// assert!(report.deliveries.is_empty()); // the app has no webhook: nothing to send
    /// assert_eq!(report.unrouted.len(), 1);
    ///
    /// let forged = write_job("app1key", "1", payload, &Secret::new("guess"));
    /// let error = sender.deliver_job(&QueueJob::parse(&forged)?).await.unwrap_err();
    /// assert_eq!(error.kind(), "SignatureMismatch");
    /// # Ok(()) }
    /// ```
    pub async fn deliver_job(&self, job: &QueueJob<'_>) -> Result<Report, JobError> {
        let index = self
            .app_index_by_key(job.app_key())
            .ok_or_else(|| JobError::unknown_app(job.app_key()))?;
        let secrets: Vec<_> = self.apps()[index].secrets().cloned().collect();
        let verified = job.verify(&secrets)?;
        if verified.secret_index() > 0 {
            tracing::info!(
                app_id = %self.apps()[index].id,
                previous_secret = verified.secret_index(),
                "a queue job signed with a previous secret verified"
            );
        }
        let events = verified
            .payload()
            .events()
            .collect::<Result<Vec<Event>, _>>()
            .map_err(JobError::event)?;
        let plan = self.plan_index(index, verified.payload().time_ms(), &events);
        Ok(self.send_plan(plan).await)
    }
}
