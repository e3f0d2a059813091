//! The delivery function: consumes soketi's SQS webhook queue and delivers every job through
//! the sender (verified against the app's current and previous secrets, routed per webhook by
//! `event_types` and `filter`, signed, retried), answering Lambda with partial batch failures
//! so that only the jobs that failed return to the queue.
//!
//! Configuration (environment):
//! - `SOKETI_APPS_JSON`: soketi's apps, as JSON (an array of apps, `{"apps": [...]}` or
//!   `{"appManager.array.apps": [...]}`; each app's `previous_secrets` are accepted on jobs
//!   too); or `SOKETI_APPS_FILE`: the path of a file holding them (e.g. one packaged with the
//!   function, under `$LAMBDA_TASK_ROOT`);
//! - `DELIVERY_MAX_ATTEMPTS` (default 3) and `DELIVERY_MAX_ELAPSED_SECONDS` (default 20): the
//!   sender's retries within one invocation, which must end well before the function's
//!   timeout. What still fails goes back to the queue, whose redrive policy retries it and
//!   finally moves it to the dead-letter queue.
//!
//! The event source mapping must set `FunctionResponseTypes: [ReportBatchItemFailures]`
//! (template.yaml does): without it Lambda would return the whole batch on any failure.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use soketi_lambda_sender::config::{App, ConfigError, parse_apps_file};
use soketi_lambda_sender::deliver::RetryPolicy;
use soketi_lambda_sender::jobs::{BatchCounts, JobMessage};
use soketi_lambda_sender::{BuildError, Sender};

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
    /// Neither `SOKETI_APPS_JSON` nor `SOKETI_APPS_FILE` is set, or the file cannot be read.
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

/// Reads the apps from the environment (see the crate docs).
pub fn apps_from_env() -> Result<Vec<App>, StartError> {
    let text = match (
        std::env::var("SOKETI_APPS_JSON"),
        std::env::var("SOKETI_APPS_FILE"),
    ) {
        (Ok(json), _) if !json.trim().is_empty() => json,
        (_, Ok(path)) if !path.is_empty() => std::fs::read_to_string(&path).map_err(|e| {
            StartError::NoApps(format!("SOKETI_APPS_FILE: cannot read {path}: {e}"))
        })?,
        _ => {
            return Err(StartError::NoApps(
                "no apps: set SOKETI_APPS_JSON to soketi's apps as JSON, or SOKETI_APPS_FILE \
                 to a file holding them"
                    .to_owned(),
            ));
        }
    };
    parse_apps_file(&text).map_err(StartError::Config)
}

/// The sender's retry policy within one invocation, from `DELIVERY_MAX_ATTEMPTS` and
/// `DELIVERY_MAX_ELAPSED_SECONDS`.
pub fn policy_from_env() -> Result<RetryPolicy, StartError> {
    let number = |name: &str, default: u64| -> Result<u64, StartError> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| {
                StartError::Setting(format!("{name} must be a whole number, got {v:?}"))
            }),
            _ => Ok(default),
        }
    };
    let attempts = number("DELIVERY_MAX_ATTEMPTS", 3)?;
    let elapsed = number("DELIVERY_MAX_ELAPSED_SECONDS", 20)?;
    Ok(RetryPolicy::default()
        .max_attempts(u32::try_from(attempts).unwrap_or(u32::MAX))
        .max_elapsed(Duration::from_secs(elapsed))
        .attempt_timeout(Duration::from_secs(elapsed.clamp(1, 30))))
}

/// The sender for `apps` with `policy`.
pub async fn sender(apps: Vec<App>, policy: RetryPolicy) -> Result<Sender, StartError> {
    Sender::builder()
        .apps(apps)
        .retry_policy(policy)
        .build()
        .await
        .map_err(StartError::Build)
}

/// Delivers one SQS batch: FIFO order kept per message group (a group stops at its first
/// failure), every message not delivered named in the answer. Logs one summary line.
pub async fn handle(sender: &Sender, event: SqsEvent) -> (BatchResponse, BatchCounts) {
    let messages: Vec<JobMessage> = event
        .records
        .into_iter()
        .map(|record| {
            let group = record.attributes.get("MessageGroupId").cloned();
            // A message without a body is not a job: it is rejected (and so returned) below.
            JobMessage::new(record.message_id, group, record.body.unwrap_or_default())
        })
        .collect();
    let outcome = sender
        .deliver_jobs(messages, soketi_lambda_sender::deliver::Deadline::none())
        .await;
    let counts = outcome.counts();
    let response = BatchResponse {
        batch_item_failures: outcome
            .failed_ids()
            .map(|id| BatchItemFailure {
                item_identifier: id.to_owned(),
            })
            .collect(),
    };
    tracing::info!(
        jobs = counts.total(),
        delivered = counts.delivered,
        failed = counts.failed,
        rejected = counts.rejected,
        held_back = counts.skipped,
        "batch: {counts}"
    );
    (response, counts)
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
        let sender = Sender::builder()
            .app(App::new("1", "k", "s"))
            .region_fallback(soketi_lambda_sender::RegionFallback::None)
            .build()
            .await
            .expect("sender");
        let (response, counts) = handle(&sender, event).await;
        assert_eq!(counts.rejected, 1);
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"batchItemFailures":[{"itemIdentifier":"11d6ee51-4cc7-4302-9e22-7cd8afdaadf5"}]}"#
        );
    }
}
