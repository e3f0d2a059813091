//! Helpers for testing your handlers: correctly signed envelopes built from events, and
//! (feature `proptest`) [`strategy`], generators of any event for property tests.
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

/// Checks that an [`IdempotencyStore`](crate::idempotency::IdempotencyStore) keeps the contract
/// the router relies on (feature `idempotency`): a claim is its owner's until its lease ends,
/// then the next delivery takes it over; only the owner completes or releases it, so a
/// delivery whose lease ended changes nothing of the claim that took it over; a done record
/// stays done. Run it against a store of your own; the kit runs it against [`MemoryStore`]
/// and, on a DynamoDB emulator, against `DynamoDbStore`. It writes one record, under the
/// namespace `store-contract` and a random signature, and blocks the thread for 10 ms once, for
/// a lease to end. The error names the step that failed.
///
/// ```
/// use soketi_handler_kit::idempotency::MemoryStore;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// soketi_handler_kit::testing::check_idempotency_store(&MemoryStore::new()).await?;
/// # Ok::<(), String>(())
/// # }).unwrap();
/// ```
///
/// [`MemoryStore`]: crate::idempotency::MemoryStore
#[cfg(feature = "idempotency")]
pub async fn check_idempotency_store(
    store: &dyn crate::idempotency::IdempotencyStore,
) -> Result<(), String> {
    use std::time::Duration;

    use crate::idempotency::{Claim, IdempotencyKey, Owner, Settled, StoreError};

    #[derive(Debug, PartialEq)]
    enum Answer {
        Claim(Claim),
        Settled(Settled),
    }
    let check = |step: &str, got: Result<Answer, StoreError>, wanted: Answer| match got {
        Ok(got) if got == wanted => Ok(()),
        Ok(got) => Err(format!(
            "{step}: {got:?} where the contract says {wanted:?}"
        )),
        Err(error) => Err(format!("{step}: the store failed: {error}")),
    };
    let owner = || Owner::random().map_err(|e| e.to_string());
    let (late, taker, third) = (owner()?, owner()?, owner()?);
    let signature = Secret::new(owner()?.as_str()).sign(b"store contract");
    let key = IdempotencyKey::new(Some("store-contract"), &signature, 0);
    let minute = Duration::from_secs(60);
    let claim = async |who: &Owner, lease| store.claim(&key, who, lease).await.map(Answer::Claim);
    let complete = async |who: &Owner| store.complete(&key, who, minute).await.map(Answer::Settled);
    let release = async |who: &Owner| store.release(&key, who).await.map(Answer::Settled);
    use Answer::{Claim as C, Settled as S};

    check(
        "a first claim",
        claim(&late, Duration::ZERO).await,
        C(Claim::Run),
    )?;
    // Its lease (none) has ended: the next delivery takes the claim over.
    std::thread::sleep(Duration::from_millis(10));
    check(
        "a claim once the lease ended",
        claim(&taker, minute).await,
        C(Claim::Run),
    )?;
    check(
        "a claim under a running lease",
        claim(&third, minute).await,
        C(Claim::InProgress),
    )?;
    check(
        "the late owner completing",
        complete(&late).await,
        S(Settled::NotOwner),
    )?;
    check(
        "the late owner releasing",
        release(&late).await,
        S(Settled::NotOwner),
    )?;
    check(
        "a claim after those",
        claim(&third, minute).await,
        C(Claim::InProgress),
    )?;
    check(
        "the holder releasing",
        release(&taker).await,
        S(Settled::Recorded),
    )?;
    check(
        "a claim after a release",
        claim(&third, minute).await,
        C(Claim::Run),
    )?;
    check(
        "the holder completing",
        complete(&third).await,
        S(Settled::Recorded),
    )?;
    check(
        "a claim of a done event",
        claim(&late, minute).await,
        C(Claim::Done),
    )?;
    check(
        "releasing a done event",
        release(&third).await,
        S(Settled::NotOwner),
    )?;
    check(
        "a claim after that",
        claim(&late, minute).await,
        C(Claim::Done),
    )
}

/// Generators of events for property tests (feature `proptest`): every event type soketi
/// sends, client data as strings and as objects, and events of names the kit does not know.
/// The property tests of this crate and of `soketi-lambda-sender` share them.
///
/// ```
/// use proptest::prelude::*;
/// use soketi_handler_kit::testing::{SignedEnvelope, strategy};
/// use soketi_handler_kit::{Keyring, Verifier};
///
/// proptest!(|(events in prop::collection::vec(strategy::event(), 0..4))| {
///     let body = SignedEnvelope::new("k", "s").events(events.clone()).to_bytes();
///     let verified = Verifier::new(Keyring::new().app("k", "s")).verify_lambda_body(&body).unwrap();
///     prop_assert_eq!(verified.payload().len(), events.len());
/// });
/// ```
#[cfg(feature = "proptest")]
pub mod strategy {
    use proptest::prelude::*;

    use crate::wire::{ClientData, ClientEvent, Event, EventKind, UnknownEvent};

    /// Client `data`: a string (any printable text), or an object with arrays, numbers,
    /// booleans, `null` and a nested object.
    pub fn client_data() -> impl Strategy<Value = ClientData> {
        prop_oneof![
            "\\PC{0,20}".prop_map(|s| ClientData::string(&s)),
            ("\\PC{0,8}", any::<i32>(), any::<bool>()).prop_map(|(k, n, b)| {
                ClientData::from_value(&serde_json::json!({ k: [n, b, null], "x": {"y": n} }))
            }),
        ]
    }

    /// Any event: each kind soketi sends (channels and fields of any printable text, user ids
    /// as strings and numbers, client events with or without data, socket id and user id), and
    /// events of an unknown name.
    pub fn event() -> impl Strategy<Value = Event> {
        let text = "\\PC{0,16}";
        prop_oneof![
            text.prop_map(Event::channel_occupied),
            text.prop_map(Event::channel_vacated),
            text.prop_map(Event::cache_miss),
            (text, text).prop_map(|(c, u)| Event::member_added(c, u)),
            (text, any::<u32>()).prop_map(|(c, u)| Event::member_removed(c, u64::from(u))),
            (text, any::<u64>()).prop_map(|(c, n)| Event::subscription_count(c, n)),
            (
                text,
                text,
                prop::option::of(client_data()),
                prop::option::of(text),
                prop::option::of(text)
            )
                .prop_map(|(c, e, d, s, u)| {
                    let mut ev = ClientEvent::new(c, e);
                    ev.data = d;
                    ev.socket_id = s;
                    ev.user_id = u.map(Into::into);
                    Event::from(ev)
                }),
            ("[a-z_]{1,12}", any::<i16>()).prop_filter_map("an unknown name", |(name, n)| {
                let json = serde_json::json!({"name": name, "n": n}).to_string();
                UnknownEvent::from_json(&json)
                    .ok()
                    .filter(|ev| EventKind::from_name(&ev.name).is_none())
                    .map(Event::from)
            }),
        ]
    }
}
