//! soketi's webhook queue job: what a soketi node puts on its queue (`queue.driver` `sqs` or
//! `redis`) for each webhook, read and checked here, written for tests and benchmarks.
//!
//! soketi 1.6.1 enqueues `JSON.stringify({appKey, appId, payload, originalPusherSignature})`,
//! where `payload` is the webhook payload `{"time_ms":…,"events":[…]}` and
//! `originalPusherSignature` the lowercase hex HMAC-SHA256 of `JSON.stringify(payload)` with the
//! app secret — that is, of the payload's bytes exactly as they stand inside the message. On SQS
//! each job is one message of a FIFO queue, in the message group `<appId>_<queue name>`.
//!
//! [`QueueJob::parse`] reads the job without decoding its payload. Its signature is checked as
//! any webhook's is, by a [`Verifier`](crate::Verifier): over the payload's exact bytes
//! ([`QueueJob::payload_json`]), with the secrets of the app its key names (current and
//! previous, so that a rotation between enqueue and delivery loses nothing), in constant time,
//! before the payload is read:
//!
//! ```
//! use soketi_handler_kit::wire::QueueJob;
//! use soketi_handler_kit::{Keyring, Verifier};
//! let body = std::fs::read_to_string(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/tests/vectors/sqs-jobs/001.json"
//! ))?;
//! let job = QueueJob::parse(&body)?;
//! let verifier = Verifier::new(Keyring::new().app("app1key", "new-secret").app("app1key", "app1secret"));
//! let signature = job.signature().to_string();
//! let verified = verifier.verify_parts(job.payload_json().as_bytes(), Some(job.app_key()), Some(&signature))?;
//! assert_eq!(verified.payload().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What a consumer does with a job it cannot deliver (soketi's own drops it) is the
//! consumer's: the sender's queue path (`soketi-lambda-sender`'s `jobs`) has its errors.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::js_json;
use super::signature::{Secret, Signature};
use crate::untrusted::Untrusted;

/// The names of soketi's webhook queues, one per event type; a job's SQS message group is
/// `<appId>_<queue name>`.
pub const JOB_QUEUES: [&str; 6] = [
    "client_event_webhooks",
    "member_added_webhooks",
    "member_removed_webhooks",
    "channel_vacated_webhooks",
    "channel_occupied_webhooks",
    "cache_miss_webhooks",
];

/// One of soketi's queue jobs, read but not yet verified: nothing of the payload is decoded.
///
/// ```
/// use soketi_handler_kit::wire::QueueJob;
/// let body = std::fs::read_to_string(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/tests/vectors/sqs-jobs/001.json"
/// ))?;
/// let job = QueueJob::parse(&body)?;
/// assert_eq!((job.app_key(), job.app_id()), ("app1key", "app1"));
/// assert!(job.payload_json().starts_with(r#"{"time_ms":"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct QueueJob<'a> {
    app_key: Cow<'a, str>,
    app_id: String,
    payload: &'a str,
    signature: Signature,
}

/// The job's fields as they stand in the message.
#[derive(Deserialize)]
struct RawJob<'a> {
    #[serde(rename = "appKey", borrow)]
    app_key: Cow<'a, str>,
    #[serde(rename = "appId", borrow)]
    app_id: &'a RawValue,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(rename = "originalPusherSignature", borrow)]
    signature: Cow<'a, str>,
}

impl<'a> QueueJob<'a> {
    /// Reads a job from the message body: a JSON object with a string `appKey`, a string or
    /// number `appId`, a `payload` and a string `originalPusherSignature` (64 lowercase hex
    /// digits). Other members are ignored; a duplicate one is an error.
    pub fn parse(body: &'a str) -> Result<Self, MalformedJob> {
        let raw: RawJob<'a> = serde_json::from_str(body).map_err(|e| {
            MalformedJob(format!(
                "the message is not a soketi webhook job {{\"appKey\",\"appId\",\"payload\",\
                 \"originalPusherSignature\"}}: {e}"
            ))
        })?;
        let id = raw.app_id.get();
        let app_id = if id.starts_with('"') {
            serde_json::from_str::<String>(id)
                .map_err(|e| MalformedJob(format!("`appId` is not a string: {e}")))?
        } else if id.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            id.to_owned()
        } else {
            return Err(MalformedJob(
                "`appId` must be a string or a number".to_owned(),
            ));
        };
        if raw.app_key.is_empty() {
            return Err(MalformedJob("`appKey` is empty".to_owned()));
        }
        let signature = Signature::from_hex(&raw.signature).map_err(|e| {
            MalformedJob(format!(
                "`originalPusherSignature` of the job for app key `{}`: {e}",
                Untrusted(&raw.app_key)
            ))
        })?;
        Ok(QueueJob {
            app_key: raw.app_key,
            app_id,
            payload: raw.payload.get(),
            signature,
        })
    }

    /// The app key (`appKey`), as soketi wrote it: unverified until a
    /// [`Verifier`](crate::Verifier) checked the payload with its secrets.
    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    /// The app id (`appId`; a number is given as its JSON text).
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The payload's bytes, exactly as they stand in the message: what the signature covers.
    pub fn payload_json(&self) -> &'a str {
        self.payload
    }

    /// `originalPusherSignature`.
    pub fn signature(&self) -> Signature {
        self.signature
    }
}

/// Writes a job as soketi 1.6.1 does (`JSON.stringify({appKey, appId, payload,
/// originalPusherSignature})`), signing `payload_json` with `secret`: for tests and
/// benchmarks of consumers.
///
/// ```
/// use soketi_handler_kit::wire::{write_job, Secret};
/// let recorded = std::fs::read_to_string(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/tests/vectors/sqs-jobs/001.json"
/// ))?;
/// let payload = r#"{"time_ms":1795920127936,"events":[{"name":"channel_occupied","channel":"rec-off-public"}]}"#;
/// assert_eq!(write_job("app1key", "app1", payload, &Secret::new("app1secret")), recorded);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_job(app_key: &str, app_id: &str, payload_json: &str, secret: &Secret) -> String {
    let signature = secret.sign(payload_json.as_bytes());
    let mut out = String::with_capacity(payload_json.len() + app_key.len() + app_id.len() + 128);
    out.push_str("{\"appKey\":");
    js_json::write_str(&mut out, app_key);
    out.push_str(",\"appId\":");
    js_json::write_str(&mut out, app_id);
    out.push_str(",\"payload\":");
    out.push_str(payload_json);
    out.push_str(",\"originalPusherSignature\":\"");
    out.push_str(&signature.to_string());
    out.push_str("\"}");
    out
}

/// Why a message is not one of soketi's queue jobs: not JSON, a field missing or of the wrong
/// type, a signature that is not 64 lowercase hex digits. The message says which; an app key
/// in it is shown escaped and cut (it is unverified).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MalformedJob(String);

/// Shows unverified text from a job (its app key) in a message or a log field as the kit shows
/// any text from a request: control characters escaped, cut after 64 characters.
///
/// ```
/// use soketi_handler_kit::wire::Unverified;
/// assert_eq!(Unverified("a\nWARN forged").to_string(), "a\\nWARN forged");
/// assert!(Unverified(&"k".repeat(1000)).to_string().len() < 100);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Unverified<'a>(pub &'a str);

impl fmt::Display for Unverified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Untrusted(self.0).fmt(f)
    }
}

impl fmt::Display for QueueJob<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "job of app `{}` ({} bytes of payload)",
            Untrusted(&self.app_key),
            self.payload.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}"#;

    #[test]
    fn written_jobs_read_back_and_verify() {
        let body = write_job("k", "1", PAYLOAD, &Secret::new("s"));
        let job = QueueJob::parse(&body).expect("job");
        assert_eq!(job.payload_json(), PAYLOAD);
        let verified = crate::Verifier::new(crate::Keyring::new().app("k", "s"))
            .verify_parts(
                job.payload_json().as_bytes(),
                Some(job.app_key()),
                Some(&job.signature().to_string()),
            )
            .expect("verifies");
        assert_eq!(verified.payload().time_ms(), 1);
    }

    #[test]
    fn a_numeric_app_id_is_read_as_its_text() {
        let body = format!(
            r#"{{"appKey":"k","appId":12,"payload":{PAYLOAD},"originalPusherSignature":"{}"}}"#,
            Secret::new("s").sign(PAYLOAD.as_bytes())
        );
        assert_eq!(QueueJob::parse(&body).expect("job").app_id(), "12");
    }

    #[test]
    fn malformed_jobs_say_what_is_wrong() {
        let sig = "0".repeat(64);
        let cases = [
            ("not json".to_owned(), "not a soketi webhook job"),
            (
                format!(r#"{{"appId":"1","payload":{{}},"originalPusherSignature":"{sig}"}}"#),
                "appKey",
            ),
            (
                format!(
                    r#"{{"appKey":"k","appKey":"k","appId":"1","payload":{{}},"originalPusherSignature":"{sig}"}}"#
                ),
                "duplicate field",
            ),
            (
                format!(
                    r#"{{"appKey":"k","appId":true,"payload":{{}},"originalPusherSignature":"{sig}"}}"#
                ),
                "appId",
            ),
            (
                r#"{"appKey":"k","appId":"1","payload":{},"originalPusherSignature":"ABC"}"#
                    .to_owned(),
                "originalPusherSignature",
            ),
        ];
        for (body, needle) in cases {
            let error: MalformedJob = QueueJob::parse(&body).expect_err(&body);
            assert!(error.to_string().contains(needle), "{error}");
        }
    }

    #[test]
    fn a_key_in_a_message_is_escaped_and_cut() {
        let key = format!("evil\nWARN forged {}", "k".repeat(200));
        let body = write_job(&key, "1", PAYLOAD, &Secret::new("s")).replace(
            &Secret::new("s").sign(PAYLOAD.as_bytes()).to_string(),
            "not hex",
        );
        let shown = QueueJob::parse(&body)
            .expect_err("bad signature")
            .to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.contains("evil\\nWARN"), "{shown}");
        assert!(shown.len() < 400, "{shown}");
        assert_eq!(Unverified(&key).to_string(), Untrusted(&key).to_string());
    }
}
