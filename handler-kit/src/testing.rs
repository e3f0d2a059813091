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

    /// The same webhook as an HTTP request (a soketi `url` webhook, Pusher's) arriving through
    /// a Lambda Function URL: the Lambda event, for
    /// [`Webhooks::verify_and_receive`](crate::Webhooks::verify_and_receive) (feature `http`).
    ///
    /// ```
    /// use soketi_handler_kit::testing::SignedEnvelope;
    /// use soketi_handler_kit::wire::Event;
    /// use soketi_handler_kit::{Keyring, Verifier, Webhooks};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let webhooks = Webhooks::new(Verifier::new(Keyring::new().app("key", "s3cret")));
    /// let event = SignedEnvelope::new("key", "s3cret")
    ///     .event(Event::channel_occupied("room"))
    ///     .to_function_url_event();
    /// let response = webhooks.verify_and_receive(&event, "req-1").await?;
    /// assert_eq!(response.http().map(|r| r.status_code()), Some(200));
    /// # Ok::<(), soketi_handler_kit::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg(feature = "http")]
    pub fn to_function_url_event(&self) -> Vec<u8> {
        let signed = self.signed();
        // Function URLs give header names in lower case.
        let headers: serde_json::Map<String, serde_json::Value> = signed
            .headers(&user_agent(self.process_id), &self.custom_headers)
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.into()))
            .collect();
        let event = serde_json::json!({
            "version": "2.0",
            "rawPath": "/",
            "headers": headers,
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "body": signed.json(),
            "isBase64Encoded": false,
        });
        event.to_string().into_bytes()
    }
}
