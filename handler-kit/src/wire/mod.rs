//! The soketi webhook wire format: the one place it is written down in code.
//!
//! Everything here is pure (no I/O, no Lambda) and available without the `runtime` feature, so
//! that the sender writes exactly what the kit reads:
//!
//! - [`events`]: the event types, with soketi's key order;
//! - [`payload`]: `{"time_ms":…,"events":[…]}`, written and read;
//! - [`signature`]: the `X-Pusher-Signature` rule;
//! - [`headers`]: header names and soketi's header order;
//! - [`envelope`]: the Lambda invocation event `{"payload":…,"headers":…}`;
//! - [`js_json`]: JSON printed exactly as JavaScript's `JSON.stringify` prints it.

pub mod envelope;
pub mod events;
pub mod headers;
pub mod js_json;
pub mod payload;
pub mod signature;

pub use envelope::{Envelope, EnvelopeError, HeaderError, Headers};
pub use events::{
    CacheMiss, ChannelOccupied, ChannelVacated, ClientData, ClientEvent, DataError, Event,
    EventDecodeError, EventKind, MemberAdded, MemberRemoved, SubscriptionCount, UnknownEvent,
    UserId,
};
pub use payload::{Payload, PayloadError, ReceivedPayload, SignedPayload, now_ms};
pub use signature::{Secret, Signature, SignatureFormatError};
