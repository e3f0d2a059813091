//! soketi's webhook queue: its jobs delivered through the sender's routing, signing and
//! delivery.
//!
//! With `queue.driver: "sqs"`, every soketi node enqueues each webhook as a job
//! `{appKey, appId, payload, originalPusherSignature}` (read by the kit's
//! [`QueueJob`]). [`Sender::deliver_job`] checks the job's signature with the kit's
//! [`Verifier`](soketi_handler_kit::Verifier), whose keyring the sender built from its apps
//! (each app's current and previous secrets, by key), then sends its events like
//! [`Sender::send_at`]: each webhook gets the events its `event_types` and `filter` want,
//! signed over exactly what it receives, stamped with the job's `time_ms`, retried under the
//! retry policy. [`Sender::deliver_jobs`] does it for a batch of queue messages, keeping FIFO
//! order within each message group, and says which messages must go back to the queue.
//!
//! Delivery is at least once: a job that failed for one webhook goes back to the queue whole,
//! so the webhooks that did get it receive it again when it is retried.
//!
//! Inside: `error` says why a job cannot be delivered ([`JobError`]); `accept` reads and
//! verifies a job; `run` delivers consecutive jobs of a group together (coalesced); `batch`
//! delivers a batch of messages ([`JobMessage`]) group by group before a deadline; `outcome`
//! is what became of each; `metrics` prints a batch's figures as CloudWatch Embedded Metric
//! Format ([`emf_line`]); `dead_letter_queue` (feature `sqs`) moves rejected jobs to the
//! dead-letter queue at once ([`DeadLetterQueue`]); `source` keeps the sender of a queue consumer current from a secret
//! store holding soketi's apps ([`JobSender`]).

mod accept;
mod batch;
#[cfg(feature = "sqs")]
mod dead_letter_queue;
mod error;
mod metrics;
mod outcome;
mod run;
mod source;

use soketi_handler_kit::wire::QueueJob;

use crate::Sender;
use crate::deliver::Report;
use crate::route::WrittenEvents;

pub use batch::JobMessage;
#[cfg(feature = "sqs")]
pub use dead_letter_queue::{
    ATTRIBUTE_GROUP, ATTRIBUTE_MESSAGE_ID, ATTRIBUTE_REASON, ATTRIBUTE_REJECTION, DeadLetterQueue,
};
pub use error::JobError;
pub use metrics::{BatchMetrics, METRIC_NAMES, METRICS_NAMESPACE, emf_line};
pub use outcome::{BatchCounts, BatchOutcome, JobOutcome};
pub use source::{JobSender, parse_apps_secret};

impl Sender {
    /// Delivers one of soketi's queue jobs: the app is found by the job's key, the signature
    /// checked over the payload's exact bytes against the app's secret and
    /// [`previous_secrets`](crate::config::App::previous_secrets), then the events are routed,
    /// signed and delivered as [`Sender::send_at`] does, stamped with the job's `time_ms`: each
    /// event exactly as it stands in the job (its text is not written again), the payload
    /// naming each event's job (`job_events`).
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
        let job = self.accept_job(job)?;
        let mut written = WrittenEvents::default();
        job.write(&mut written);
        let plan = self.plan_written(job.app, job.time_ms, &job.events, &written);
        Ok(self.send_plan(plan).await)
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::{Secret, write_job};

    use super::*;
    use crate::RegionFallback;
    use crate::config::App;

    const PAYLOAD: &str = r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}"#;

    async fn sender(key: &str) -> Sender {
        Sender::builder()
            .app(App::new("1", key, "s").previous_secret("older"))
            .region_fallback(RegionFallback::None)
            .build()
            .await
            .expect("sender")
    }

    async fn deliver(sender: &Sender, body: &str) -> Result<Report, JobError> {
        match QueueJob::parse(body) {
            Ok(job) => sender.deliver_job(&job).await,
            Err(e) => Err(e.into()),
        }
    }

    #[tokio::test]
    async fn a_mismatch_shows_the_key_escaped_and_cut() {
        let key = format!("evil\nWARN forged {}", "k".repeat(200));
        let sender = sender(&key).await;
        let body = write_job(&key, "1", PAYLOAD, &Secret::new("other"));
        let error = deliver(&sender, &body).await.expect_err("mismatch");
        assert_eq!(error.kind(), "SignatureMismatch");
        let shown = error.to_string();
        assert!(shown.contains("2 configured secret(s)"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.contains("evil\\nWARN"), "{shown}");
        assert!(shown.len() < 400, "{shown}");
        assert_eq!(error.app_key(), Some(key.as_str()));
        assert!(!error.app_key_for_log().contains('\n'));
        let unknown = write_job("nobody\n", "1", PAYLOAD, &Secret::new("s"));
        let error = deliver(&sender, &unknown).await.expect_err("unknown");
        assert_eq!(error.kind(), "UnknownApp");
        assert_eq!(error.app_key_for_log(), "nobody\\n");
    }

    #[tokio::test]
    async fn a_verified_job_with_a_bad_payload_is_an_error_not_a_panic() {
        let sender = sender("k").await;
        let bad_payload = write_job(
            "k",
            "1",
            r#"{"time_ms":"soon","events":[]}"#,
            &Secret::new("s"),
        );
        let bad_event = write_job(
            "k",
            "1",
            r#"{"time_ms":1,"events":[{"name":"member_added","channel":"c"}]}"#,
            &Secret::new("older"),
        );
        for (body, kind) in [
            (bad_payload.as_str(), "InvalidPayload"),
            (bad_event.as_str(), "InvalidEvent"),
            ("not a job", "MalformedJob"),
        ] {
            let error = deliver(&sender, body).await.expect_err(kind);
            assert_eq!(error.kind(), kind, "{error}");
        }
        let good = write_job("k", "1", PAYLOAD, &Secret::new("older"));
        let report = deliver(&sender, &good)
            .await
            .expect("a previous secret verifies");
        assert_eq!(report.unrouted.len(), 1);
    }
}
