//! The soketi webhook wire format: the one place it is written down in code.
//!
//! Everything here is pure (no I/O, no Lambda) and available without the `runtime` feature, so
//! that the sender writes exactly what the kit reads:
//!
//! - the event types ([`Event`] and one struct per kind), with soketi's key order;
//! - the payload `{"time_ms":…,"events":[…]}`, written ([`Payload`]) and read
//!   ([`ReceivedPayload`]);
//! - the `X-Pusher-Signature` rule ([`Secret`], [`Signature`]);
//! - [`headers`]: header names and soketi's header order;
//! - the Lambda invocation event `{"payload":…,"headers":…}`, read ([`Envelope`]) and written
//!   ([`write_lambda_body`]);
//! - [`js_json`]: JSON printed exactly as JavaScript's `JSON.stringify` prints it;
//! - soketi's queue job `{appKey, appId, payload, originalPusherSignature}`, read
//!   ([`QueueJob`], verified as any payload by a [`Verifier`](crate::Verifier)) and written
//!   ([`write_job`]);
//! - which job each event of a payload came from, when a consumer of soketi's queue delivers
//!   it: the payload member `job_events` ([`JobEventId`], [`write_job_events`],
//!   [`ReceivedPayload::job_events`]), the identity the kit's idempotency keys on.
//!
//! Reading is one pass over the bytes (a scanner that records where each part lies); nothing
//! is decoded before the signature has been checked, and nothing is ever re-serialized.

mod envelope;
mod events;
pub mod headers;
mod job;
mod job_events;
pub mod js_json;
mod names;
mod payload;
pub(crate) mod scan;
mod signature;

pub use envelope::{Envelope, EnvelopeError, HeaderError, Headers, write_lambda_body};
pub use events::{
    CacheMiss, ChannelOccupied, ChannelVacated, ClientData, ClientEvent, DataError, Event,
    EventDecodeError, EventKind, KnownEvent, MemberAdded, MemberRemoved, SubscriptionCount,
    UnknownEvent, UserId,
};
pub(crate) use events::{Located, Name, with_event_types};
pub use job::{JOB_QUEUES, MalformedJob, QueueJob, Unverified, write_job};
pub use job_events::{JOB_EVENTS_MEMBER_LEN, JobEventId, write_job_events};
pub use payload::{
    DEFAULT_MAX_EVENTS, Payload, PayloadError, ReceivedPayload, SignedPayload, now_ms,
};
pub use signature::{SIGNATURE_HEX_LEN, SIGNATURE_LEN, Secret, Signature, SignatureFormatError};
