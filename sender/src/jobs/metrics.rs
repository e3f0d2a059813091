//! A batch's figures as one CloudWatch Embedded Metric Format line ([`emf_line`]): printed to
//! standard output by the delivery function (Lambda sends it to CloudWatch Logs, which turns it
//! into metrics without an API call) and by the worker.

use std::time::Duration;

use super::outcome::BatchOutcome;

/// The metrics' namespace.
pub const METRICS_NAMESPACE: &str = "SoketiLambda";

/// The metrics of one line, in order: (name, unit). `DeliveryLatency` holds one value per run
/// of a message group's jobs delivered together (milliseconds, retries included).
pub const METRIC_NAMES: [(&str, &str); 7] = [
    ("JobsDelivered", "Count"),
    ("JobsFailed", "Count"),
    ("JobsRejected", "Count"),
    ("JobsSkipped", "Count"),
    ("JobsDeadLettered", "Count"),
    ("CoalescedDeliveries", "Count"),
    ("DeliveryLatency", "Milliseconds"),
];

/// The figures of a batch, for [`emf_line`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BatchMetrics {
    /// Jobs delivered (deleted).
    pub delivered: usize,
    /// Jobs whose delivery failed (back to the queue).
    pub failed: usize,
    /// Jobs that can never be delivered (unknown app, bad signature, malformed).
    pub rejected: usize,
    /// Jobs not tried (behind a failure of their group, or out of time).
    pub skipped: usize,
    /// Rejected jobs moved to the dead-letter queue by the consumer itself.
    pub dead_lettered: usize,
    /// Payloads that carried more than one job.
    pub coalesced: usize,
    /// How long each run of a group's jobs took to deliver.
    pub latencies: Vec<Duration>,
}

impl BatchMetrics {
    /// The figures of `outcome`, of which `dead_lettered` rejected jobs were moved to the
    /// dead-letter queue.
    pub fn of(outcome: &BatchOutcome, dead_lettered: usize) -> Self {
        let counts = outcome.counts();
        BatchMetrics {
            delivered: counts.delivered,
            failed: counts.failed,
            rejected: counts.rejected,
            skipped: counts.skipped,
            dead_lettered,
            coalesced: counts.coalesced,
            latencies: outcome.latencies.clone(),
        }
    }
}

/// One Embedded Metric Format line (JSON, no newline) of `metrics`, in namespace
/// [`METRICS_NAMESPACE`] with the dimension `Function` = `function`, stamped `timestamp_ms`.
///
/// ```
/// use soketi_lambda_sender::jobs::{BatchMetrics, emf_line};
/// let metrics = BatchMetrics { delivered: 3, ..BatchMetrics::default() };
/// let line: serde_json::Value = serde_json::from_str(&emf_line("delivery", &metrics, 1))?;
/// assert_eq!(line["JobsDelivered"], 3);
/// assert_eq!(line["Function"], "delivery");
/// assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "SoketiLambda");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn emf_line(function: &str, metrics: &BatchMetrics, timestamp_ms: u64) -> String {
    let definitions: Vec<serde_json::Value> = METRIC_NAMES
        .iter()
        .map(|(name, unit)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    let latencies: Vec<f64> = metrics
        .latencies
        .iter()
        .map(|d| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0)
        .collect();
    serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": definitions,
            }],
        },
        "Function": function,
        "JobsDelivered": metrics.delivered,
        "JobsFailed": metrics.failed,
        "JobsRejected": metrics.rejected,
        "JobsSkipped": metrics.skipped,
        "JobsDeadLettered": metrics.dead_lettered,
        "CoalescedDeliveries": metrics.coalesced,
        "DeliveryLatency": latencies,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_metric_has_a_value_and_latencies_are_milliseconds() {
        let metrics = BatchMetrics {
            delivered: 1,
            failed: 2,
            rejected: 3,
            skipped: 4,
            dead_lettered: 5,
            coalesced: 6,
            latencies: vec![Duration::from_micros(51_234), Duration::from_secs(2)],
        };
        let line: serde_json::Value =
            serde_json::from_str(&emf_line("f", &metrics, 7)).expect("JSON");
        let names = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics");
        assert_eq!(names.len(), METRIC_NAMES.len());
        for (name, _) in METRIC_NAMES {
            assert!(!line[name].is_null(), "{name} has no value");
        }
        assert_eq!(line["JobsDeadLettered"], 5);
        assert_eq!(line["DeliveryLatency"], serde_json::json!([51.2, 2000.0]));
        assert_eq!(line["_aws"]["Timestamp"], 7);
    }
}
