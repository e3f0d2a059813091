//! The delivery function: consumes soketi's SQS webhook queue and delivers every job through
//! the sender (verified against the app's current and previous secrets, routed per webhook by
//! `event_types` and `filter`, signed, retried), answering Lambda with partial batch failures
//! so that only the jobs that failed return to the queue.
//!
//! Configuration (environment; see `config.rs`): where soketi's apps are, exactly one of
//! - `SOKETI_APPS_SECRET_ARN`: a Secrets Manager secret whose SecretString is soketi's apps
//!   JSON (an app, an array of apps, `{"apps": [...]}` or `{"appManager.array.apps": [...]}`);
//!   `AWSPREVIOUS`'s secrets verify jobs too, so a rotation loses nothing;
//! - `SOKETI_APPS_PARAMETER`: an SSM SecureString holding the same JSON, read decrypted;
//! - `SOKETI_APPS_JSON` (the JSON) or `SOKETI_APPS_FILE` (a path): plain, readable by whoever
//!   may read the function's configuration;
//! - single-app mode: `SOKETI_APP_ID`, `SOKETI_APP_KEY` and `SOKETI_WEBHOOK_FUNCTION` (every
//!   event to that function, invoked asynchronously), the app secret where the kit's own
//!   variables say (`SOKETI_SECRET_ARN`, `SOKETI_SECRET_PARAMETER`, `SOKETI_SECRET`), read by
//!   the kit's own code.
//!
//! A store is read at start, again every `SOKETI_SECRET_REFRESH_SECONDS` (300), and before a
//! batch holding a job of an unknown key or signature (at most every
//! `SOKETI_SECRET_MISMATCH_REFRESH_SECONDS`, 5).
//!
//! - `SOKETI_DEAD_LETTER_QUEUE_URL`: rejected jobs (unknown app, no secret verifies,
//!   malformed) are sent there at once, with the reason in message attributes, and reported
//!   done; without it they return to the queue, whose redrive policy moves them after
//!   `maxReceiveCount` receives.
//! - `DELIVERY_COALESCE` (default `true`): a message group's consecutive jobs in a batch go to
//!   each webhook as one payload.
//! - `DELIVERY_MAX_ATTEMPTS` (default 3) and `DELIVERY_MAX_ELAPSED_SECONDS` (default 20): the
//!   sender's retries of one request. No attempt starts that cannot end before the invocation's
//!   deadline (less 1 s); the jobs not started return to the queue.
//!
//! Each invocation prints one CloudWatch Embedded Metric Format line (namespace `SoketiLambda`,
//! dimension `Function`): `JobsDelivered`, `JobsFailed`, `JobsRejected`, `JobsSkipped`,
//! `JobsDeadLettered`, `CoalescedDeliveries`, `DeliveryLatency`.
//!
//! The event source mapping must set `FunctionResponseTypes: [ReportBatchItemFailures]`
//! (template.yaml does): without it Lambda would return the whole batch on any failure.

pub mod config;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use soketi_lambda_sender::BuildError;
use soketi_lambda_sender::config::ConfigError;
use soketi_lambda_sender::deliver::Deadline;
use soketi_lambda_sender::jobs::{BatchMetrics, DeadLetterQueue, JobMessage, JobSender, emf_line};

/// The SQS event Lambda hands the function: the parts read here.
///
/// (Two small structs rather than `aws_lambda_events`, whose `sqs` feature brings `serde_with`
/// and its macros for this one event.)
#[derive(Debug, Default, Deserialize)]
pub struct SqsEvent {
    /// The messages, in the queue's order (within a FIFO message group, in group order).
    #[serde(rename = "Records", default)]
    pub records: Vec<SqsRecord>,
}

/// One message of an [`SqsEvent`].
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    /// The message id: what a batch item failure names.
    #[serde(default)]
    pub message_id: String,
    /// The body: soketi's job.
    #[serde(default)]
    pub body: Option<String>,
    /// System attributes; `MessageGroupId` on a FIFO queue.
    #[serde(default)]
    pub attributes: HashMap<String, String>,
}

/// The function's answer: the messages to return to the queue.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// One entry per failed message.
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// A failed message, by id.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    /// The message id.
    pub item_identifier: String,
}

/// Why the function cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// No place of the apps is named, or several are, or they cannot be read.
    #[error("{0}")]
    NoApps(String),
    /// The apps do not parse or check.
    #[error("the apps configuration: {0}")]
    Config(ConfigError),
    /// The sender cannot be built.
    #[error("the apps configuration: {0}")]
    Build(BuildError),
    /// A number setting is not a number.
    #[error("{0}")]
    Setting(String),
}

impl StartError {
    /// The stable name: `NoApps`, `Config`, `Build`, `Setting`.
    pub fn kind(&self) -> &'static str {
        match self {
            StartError::NoApps(_) => "NoApps",
            StartError::Config(_) => "Config",
            StartError::Build(_) => "Build",
            StartError::Setting(_) => "Setting",
        }
    }
}

/// What delivers each invocation's batch: the apps' sender, the dead-letter queue, the
/// function's name for the metrics.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The apps' sender, kept current from a store when the apps are in one.
    pub jobs: JobSender,
    /// Where rejected jobs go at once.
    pub dead_letters: Option<DeadLetterQueue>,
    /// The `Function` dimension of the metrics.
    pub function: String,
}

impl Delivery {
    /// Delivers one SQS batch before `deadline`: FIFO order kept per message group, rejected
    /// jobs moved to the dead-letter queue, every message not delivered (nor moved) named in
    /// the answer. Prints the batch's metrics line and logs one summary line.
    pub async fn handle(
        &self,
        event: SqsEvent,
        deadline: Deadline,
    ) -> (BatchResponse, BatchMetrics) {
        let time_left_ms = deadline
            .left()
            .map(|left| u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
        let messages: Vec<JobMessage> = event
            .records
            .into_iter()
            .map(|record| {
                let group = record.attributes.get("MessageGroupId").cloned();
                // A message without a body is not a job: it is rejected below.
                JobMessage::new(record.message_id, group, record.body.unwrap_or_default())
            })
            .collect();
        let outcome = self.jobs.deliver_jobs(messages.clone(), deadline).await;
        let moved = match &self.dead_letters {
            Some(queue) => queue.move_rejected(&messages, &outcome).await,
            None => Vec::new(),
        };
        let metrics = BatchMetrics::of(&outcome, moved.len());
        let response = BatchResponse {
            batch_item_failures: outcome
                .failed_ids()
                .filter(|id| !moved.iter().any(|m| m == id))
                .map(|id| BatchItemFailure {
                    item_identifier: id.to_owned(),
                })
                .collect(),
        };
        let counts = outcome.counts();
        tracing::info!(
            jobs = counts.total(),
            delivered = counts.delivered,
            failed = counts.failed,
            rejected = counts.rejected,
            dead_lettered = moved.len(),
            skipped = counts.skipped,
            coalesced = counts.coalesced,
            time_left_ms,
            "batch: {counts}"
        );
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        println!("{}", emf_line(&self.function, &metrics, now_ms));
        (response, metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape Lambda sends for a FIFO queue (from the AWS documentation's example).
    const EVENT: &str = r#"{"Records":[{"messageId":"11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
        "receiptHandle":"AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...","body":"not a job",
        "attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1573251510774",
          "SequenceNumber":"18849496460467696128","MessageGroupId":"1",
          "SenderId":"AIDAIO23YVJENQZJOL4VO","MessageDeduplicationId":"1",
          "ApproximateFirstReceiveTimestamp":"1573251510774"},
        "messageAttributes":{},"md5OfBody":"e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-2:123456789012:fifo.fifo",
        "awsRegion":"us-east-2"}]}"#;

    #[tokio::test]
    async fn a_message_that_is_no_job_is_returned_by_id() {
        let event: SqsEvent = serde_json::from_str(EVENT).expect("event");
        assert_eq!(event.records[0].attributes["MessageGroupId"], "1");
        let sender = soketi_lambda_sender::Sender::builder()
            .app(soketi_lambda_sender::config::App::new("1", "k", "s"))
            .region_fallback(soketi_lambda_sender::RegionFallback::None)
            .build()
            .await
            .expect("sender");
        let delivery = Delivery {
            jobs: sender.into(),
            dead_letters: None,
            function: "test".to_owned(),
        };
        let (response, metrics) = delivery.handle(event, Deadline::none()).await;
        assert_eq!((metrics.rejected, metrics.dead_lettered), (1, 0));
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"batchItemFailures":[{"itemIdentifier":"11d6ee51-4cc7-4302-9e22-7cd8afdaadf5"}]}"#
        );
    }
}
