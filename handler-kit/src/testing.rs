//! Helpers for testing your handlers: correctly signed envelopes built from events.
//!
//! ```
//! use soketi_handler_kit::testing::SignedEnvelope;
//! use soketi_handler_kit::wire::Event;
//! use soketi_handler_kit::{Keyring, Verifier};
//!
//! let body = SignedEnvelope::new("app-key", "app-secret")
//!     .time_ms(1_700_000_000_000)
//!     .event(Event::member_added("presence-room", "user-1"))
//!     .to_bytes();
//! let verifier = Verifier::new(Keyring::new().app("app-key", "app-secret"));
//! assert!(verifier.verify_lambda_body(&body).is_ok());
//! ```

use crate::wire::headers::user_agent;
use crate::wire::now_ms;
use crate::wire::{Event, Payload, Secret, SignedPayload};

/// A Lambda invocation body `{"payload":…,"headers":…}` signed exactly as soketi signs it.
#[derive(Debug, Clone)]
pub struct SignedEnvelope {
    app_key: String,
    secret: Secret,
    time_ms: u64,
    events: Vec<Event>,
    custom_headers: Vec<(String, String)>,
    process_id: u32,
}

impl SignedEnvelope {
    /// An envelope for `app_key` signed with `secret`, stamped now, with no events yet.
    pub fn new(app_key: &str, secret: &str) -> Self {
        SignedEnvelope {
            app_key: app_key.to_owned(),
            secret: Secret::new(secret),
            time_ms: now_ms(),
            events: Vec::new(),
            custom_headers: Vec::new(),
            process_id: std::process::id(),
        }
    }

    /// Sets the process id named in `User-Agent` (this process's by default), for bodies that
    /// must be the same bytes on every run.
    pub fn process_id(mut self, process_id: u32) -> Self {
        self.process_id = process_id;
        self
    }

    /// Sets the payload's `time_ms`.
    pub fn time_ms(mut self, time_ms: u64) -> Self {
        self.time_ms = time_ms;
        self
    }

    /// Appends an event.
    pub fn event(mut self, event: impl Into<Event>) -> Self {
        self.events.push(event.into());
        self
    }

    /// Appends events.
    pub fn events(mut self, events: impl IntoIterator<Item = Event>) -> Self {
        self.events.extend(events);
        self
    }

    /// Adds a custom header (as a webhook's `headers` configuration would).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.custom_headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// The signed payload (payload bytes, key, signature).
    pub fn signed(&self) -> SignedPayload {
        Payload::new(self.time_ms, self.events.clone()).sign(&self.app_key, &self.secret)
    }

    /// The invocation body, as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_json().into_bytes()
    }

    /// The invocation body, as text.
    pub fn to_json(&self) -> String {
        self.signed()
            .lambda_body(&user_agent(self.process_id), &self.custom_headers)
    }
}

#[cfg(feature = "runtime")]
/// A Lambda event as [`run`](crate::run) would receive it, for calling the router as a
/// `tower::Service` in tests. Fails only if `body` is not JSON.
pub fn lambda_event(
    body: &[u8],
    request_id: &str,
) -> Result<crate::runtime::RawInvocation, serde_json::Error> {
    let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(body)?;
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    Ok(lambda_runtime::LambdaEvent::new(raw, context))
}
