//! soketi's webhook queue job: what a soketi node puts on its queue (`queue.driver` `sqs` or
//! `redis`) for each webhook, read and checked here, written for tests and benchmarks.
//!
//! soketi 1.6.1 enqueues `JSON.stringify({appKey, appId, payload, originalPusherSignature})`,
//! where `payload` is the webhook payload `{"time_ms":…,"events":[…]}` and
//! `originalPusherSignature` the lowercase hex HMAC-SHA256 of `JSON.stringify(payload)` with the
//! app secret — that is, of the payload's bytes exactly as they stand inside the message. On SQS
//! each job is one message of a FIFO queue, in the message group `<appId>_<queue name>`.
//!
//! [`QueueJob::parse`] reads the job without decoding its payload; [`QueueJob::verify`] checks
//! the signature over the payload's exact bytes against every secret the app accepts (current
//! and previous, so that a rotation between enqueue and delivery loses nothing), in constant
//! time, and only then reads the payload. A job that verifies with none is a
//! [`JobError::SignatureMismatch`], never a silent drop (soketi's own consumer drops it).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::events::EventDecodeError;
use super::js_json;
use super::payload::{PayloadError, ReceivedPayload};
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
/// use soketi_handler_kit::wire::{QueueJob, Secret};
/// let body = std::fs::read_to_string(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/tests/vectors/sqs-jobs/001.json"
/// ))?;
/// let job = QueueJob::parse(&body)?;
/// assert_eq!((job.app_key(), job.app_id()), ("app1key", "app1"));
/// // The previous secret is tried too: a job signed before a rotation still verifies.
/// let verified = job.verify(&[Secret::new("new-secret"), Secret::new("app1secret")])?;
/// assert_eq!(verified.secret_index(), 1);
/// assert_eq!(verified.payload().len(), 1);
/// // A secret that signed nothing of it: an error that names the app key, never a drop.
/// let error = job.verify(&[Secret::new("other")]).unwrap_err();
/// assert_eq!(error.kind(), "SignatureMismatch");
/// assert!(error.to_string().contains("app1key"), "{error}");
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
    pub fn parse(body: &'a str) -> Result<Self, JobError> {
        let raw: RawJob<'a> = serde_json::from_str(body).map_err(|e| {
            JobError::Malformed(format!(
                "the message is not a soketi webhook job {{\"appKey\",\"appId\",\"payload\",\
                 \"originalPusherSignature\"}}: {e}"
            ))
        })?;
        let id = raw.app_id.get();
        let app_id = if id.starts_with('"') {
            serde_json::from_str::<String>(id)
                .map_err(|e| JobError::Malformed(format!("`appId` is not a string: {e}")))?
        } else if id.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            id.to_owned()
        } else {
            return Err(JobError::Malformed(
                "`appId` must be a string or a number".to_owned(),
            ));
        };
        if raw.app_key.is_empty() {
            return Err(JobError::Malformed("`appKey` is empty".to_owned()));
        }
        let signature = Signature::from_hex(&raw.signature).map_err(|e| {
            JobError::Malformed(format!(
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

    /// The app key (`appKey`), as soketi wrote it: unverified until [`QueueJob::verify`].
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

    /// Checks the signature over the payload's exact bytes with each of `secrets` (the app's
    /// current secret first, then previous ones), each comparison in constant time; then reads
    /// the payload. [`JobError::SignatureMismatch`] when none signed it.
    pub fn verify(&self, secrets: &[Secret]) -> Result<VerifiedJob<'a>, JobError> {
        let bytes = self.payload.as_bytes();
        // Every secret is tried, so the time taken does not say which one matched.
        let mut matched = None;
        for (index, secret) in secrets.iter().enumerate() {
            if secret.verifies(bytes, &self.signature) && matched.is_none() {
                matched = Some(index);
            }
        }
        let Some(secret_index) = matched else {
            return Err(JobError::SignatureMismatch {
                app_key: self.app_key.to_string(),
                secrets: secrets.len(),
            });
        };
        let payload = ReceivedPayload::parse(self.payload).map_err(JobError::Payload)?;
        Ok(VerifiedJob {
            app_key: self.app_key.to_string(),
            app_id: self.app_id.clone(),
            secret_index,
            payload,
        })
    }
}

/// A job whose signature checked out, with its payload read (events located, decoded on
/// demand by [`ReceivedPayload::events`]).
#[derive(Debug, Clone)]
pub struct VerifiedJob<'a> {
    app_key: String,
    app_id: String,
    secret_index: usize,
    payload: ReceivedPayload<'a>,
}

impl<'a> VerifiedJob<'a> {
    /// The app key.
    pub fn app_key(&self) -> &str {
        &self.app_key
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Which of the secrets given to [`QueueJob::verify`] signed it (0: the first, the current
    /// one; more: a previous one, e.g. during a rotation).
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }

    /// The payload.
    pub fn payload(&self) -> &ReceivedPayload<'a> {
        &self.payload
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

/// Why a queue job cannot be delivered. Each says what was wrong; app keys from the message
/// are shown escaped and cut (they are unverified).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The message is not a soketi job (not JSON, a field missing or of the wrong type, a
    /// signature that is not 64 lowercase hex digits).
    #[error("{0}")]
    Malformed(String),
    /// No app with the job's key is configured.
    #[error(
        "no app with key `{}` is configured: add it to the apps, or remove the job from the queue",
        Untrusted(app_key)
    )]
    UnknownApp {
        /// The job's app key, as it came.
        app_key: String,
    },
    /// The signature matches none of the app's secrets: the job was signed with a secret not
    /// configured (an older one after a rotation, or another app's), or it was altered.
    #[error(
        "the job for app key `{}` is signed by none of the app's {secrets} configured secret(s): \
         configure the secret it was signed with (e.g. as a previous secret during a rotation), \
         or the job was altered",
        Untrusted(app_key)
    )]
    SignatureMismatch {
        /// The job's app key, as it came.
        app_key: String,
        /// How many secrets were tried.
        secrets: usize,
    },
    /// The signature verified, but the payload is not `{"time_ms":…,"events":[…]}`.
    #[error("the job's payload: {0}")]
    Payload(PayloadError),
    /// The signature verified, but an event cannot be read.
    #[error("the job's payload: {0}")]
    Event(EventDecodeError),
}

impl JobError {
    /// An [`JobError::UnknownApp`] for `app_key`.
    pub fn unknown_app(app_key: impl Into<String>) -> Self {
        JobError::UnknownApp {
            app_key: app_key.into(),
        }
    }

    /// An [`JobError::Event`] for an event of a verified job that cannot be read.
    pub fn event(error: EventDecodeError) -> Self {
        JobError::Event(error)
    }

    /// The stable name: `MalformedJob`, `UnknownApp`, `SignatureMismatch`, `InvalidPayload`,
    /// `InvalidEvent`.
    pub fn kind(&self) -> &'static str {
        match self {
            JobError::Malformed(_) => "MalformedJob",
            JobError::UnknownApp { .. } => "UnknownApp",
            JobError::SignatureMismatch { .. } => "SignatureMismatch",
            JobError::Payload(_) => "InvalidPayload",
            JobError::Event(_) => "InvalidEvent",
        }
    }

    /// The job's app key, when the error is about one app (shown escaped and cut when
    /// displayed through [`JobError::app_key_for_log`]).
    pub fn app_key(&self) -> Option<&str> {
        match self {
            JobError::UnknownApp { app_key } | JobError::SignatureMismatch { app_key, .. } => {
                Some(app_key)
            }
            _ => None,
        }
    }

    /// The app key fit for a log field: escaped, at most 64 characters, `-` when none.
    pub fn app_key_for_log(&self) -> String {
        self.app_key()
            .map_or_else(|| "-".to_owned(), |k| Untrusted(k).to_string())
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
        let verified = job.verify(&[Secret::new("s")]).expect("verifies");
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
            let error = QueueJob::parse(&body).expect_err(&body);
            assert_eq!(error.kind(), "MalformedJob");
            assert!(error.to_string().contains(needle), "{error}");
        }
    }

    #[test]
    fn a_mismatch_shows_the_key_escaped_and_cut() {
        let key = format!("evil\nWARN forged {}", "k".repeat(200));
        let body = write_job(&key, "1", PAYLOAD, &Secret::new("s"));
        let error = QueueJob::parse(&body)
            .expect("job")
            .verify(&[Secret::new("other")])
            .expect_err("mismatch");
        let shown = error.to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.contains("evil\\nWARN"), "{shown}");
        assert!(shown.len() < 400, "{shown}");
        assert_eq!(error.app_key(), Some(key.as_str()));
        assert!(!error.app_key_for_log().contains('\n'));
    }

    #[test]
    fn a_verified_job_with_a_bad_payload_is_an_error_not_a_panic() {
        let payload = r#"{"time_ms":"soon","events":[]}"#;
        let body = write_job("k", "1", payload, &Secret::new("s"));
        let error = QueueJob::parse(&body)
            .expect("job")
            .verify(&[Secret::new("s")])
            .expect_err("bad payload");
        assert_eq!(error.kind(), "InvalidPayload");
    }
}
