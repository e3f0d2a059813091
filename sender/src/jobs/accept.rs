//! A job read and verified, ready to be routed: its app, its `time_ms`, its events decoded for
//! routing and, for sending, their texts exactly as they stand in the job, each with its
//! identity (the job's signature, its index there).

use soketi_handler_kit::wire::{Event, JobEventId, QueueJob, Signature};

use super::JobError;
use crate::Sender;
use crate::route::WrittenEvents;

/// A verified job of one app.
#[derive(Debug)]
pub(super) struct Accepted<'a> {
    /// The app's number in the sender.
    pub(super) app: usize,
    pub(super) time_ms: u64,
    /// Decoded: what routing reads (names, channels); never written again.
    pub(super) events: Vec<Event>,
    /// The events' texts in the message, in order: what is sent.
    pub(super) texts: Vec<&'a str>,
    /// `originalPusherSignature`: with an event's index, its identity.
    pub(super) signature: Signature,
}

impl<'a> Accepted<'a> {
    /// Adds the job's events, as they stand, to `written`.
    pub(super) fn write(&self, written: &mut WrittenEvents) {
        for (index, text) in self.texts.iter().enumerate() {
            written.push_text(text, Some(JobEventId::new(self.signature, index)));
        }
    }
}

impl Sender {
    /// Reads and verifies the job of a message body.
    pub(super) fn accept<'a>(&self, body: &'a str) -> Result<Accepted<'a>, JobError> {
        self.accept_job(&QueueJob::parse(body)?)
    }

    /// Verifies `job`: its app found by key, its signature checked over the payload's exact
    /// bytes with the app's current and previous secrets, its events decoded.
    pub(super) fn accept_job<'a>(&self, job: &QueueJob<'a>) -> Result<Accepted<'a>, JobError> {
        let app = self
            .app_index_by_key(job.app_key())
            .ok_or_else(|| JobError::UnknownApp {
                app_key: job.app_key().to_owned(),
            })?;
        let signature = job.signature();
        let verified = self.job_verifier().verify_parts(
            job.payload_json().as_bytes(),
            Some(job.app_key()),
            Some(&signature.to_string()),
        );
        let secrets = self.apps()[app].secrets().count();
        let verified = JobError::of_verification(verified, job, secrets)?;
        let payload = verified.payload();
        let events = payload
            .events()
            .collect::<Result<Vec<Event>, _>>()
            .map_err(JobError::Event)?;
        Ok(Accepted {
            app,
            time_ms: payload.time_ms(),
            events,
            texts: payload.event_texts().collect(),
            signature,
        })
    }
}
