//! Why a queue job cannot be delivered at all.

use soketi_handler_kit::wire::{
    EventDecodeError, MalformedJob, PayloadError, QueueJob, Unverified,
};
use soketi_handler_kit::{Rejection, Verified};

/// Why a queue job cannot be delivered. Each says what was wrong; app keys from the message
/// are shown escaped and cut (they are unverified). See [`JobError::kind`] for stable names.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The message is not a soketi job (not JSON, a field missing or of the wrong type, a
    /// signature that is not 64 lowercase hex digits).
    #[error(transparent)]
    Malformed(#[from] MalformedJob),
    /// No app with the job's key is configured.
    #[error(
        "no app with key `{}` is configured: add it to the apps, or remove the job from the queue",
        Unverified(app_key)
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
        Unverified(app_key)
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
    /// The verifier refused the job for another reason (its kind says which).
    #[error("{0}")]
    Rejected(Rejection),
}

impl JobError {
    /// The stable name: `MalformedJob`, `UnknownApp`, `SignatureMismatch`, `InvalidPayload`,
    /// `InvalidEvent`, or the kind of the verifier's [`Rejection`].
    pub fn kind(&self) -> &'static str {
        match self {
            JobError::Malformed(_) => "MalformedJob",
            JobError::UnknownApp { .. } => "UnknownApp",
            JobError::SignatureMismatch { .. } => "SignatureMismatch",
            JobError::Payload(_) => "InvalidPayload",
            JobError::Event(_) => "InvalidEvent",
            JobError::Rejected(rejection) => rejection.kind().as_str(),
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
            .map_or_else(|| "-".to_owned(), |k| Unverified(k).to_string())
    }

    /// What the verifier's answer about `job` means for it (`secrets`: how many its app has).
    pub(super) fn of_verification<'a>(
        verified: Result<Verified<'a>, Rejection>,
        job: &QueueJob<'_>,
        secrets: usize,
    ) -> Result<Verified<'a>, JobError> {
        verified.map_err(|rejection| match rejection {
            Rejection::UnknownAppKey { .. } | Rejection::MissingAppKey => JobError::UnknownApp {
                app_key: job.app_key().to_owned(),
            },
            Rejection::MalformedPayload(error) => JobError::Payload(error),
            Rejection::InvalidSignature { .. } => JobError::SignatureMismatch {
                app_key: job.app_key().to_owned(),
                secrets,
            },
            // The job's signature was read when it was parsed, and the verifier sets no
            // maximum age: not expected, but said as the verifier says it.
            other => JobError::Rejected(other),
        })
    }
}
