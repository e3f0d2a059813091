//! Verification: the HMAC check over the raw payload bytes, against the [`Keyring`], and the
//! opt-in maximum age.
//!
//! There is deliberately **no default maximum age**: Lambda retries asynchronous invocations
//! for up to six hours, so a default window would silently reject (and so lose) retried
//! events. Turn it on with [`Verifier::max_age`] only if your function is always invoked
//! synchronously or your retries are short.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::keyring::Keyring;
use crate::kind::ErrorKind;
#[cfg(feature = "secret-source")]
use crate::secrets::CachedSecret;
use crate::untrusted::Untrusted;
use crate::wire::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE};
use crate::wire::scan::{self, PayloadOutline, Span};
use crate::wire::{
    DEFAULT_MAX_EVENTS, Envelope, EnvelopeError, HeaderError, Headers, PayloadError,
    ReceivedPayload, Signature, SignatureFormatError, now_ms,
};

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Checks envelopes and payloads against a [`Keyring`].
#[derive(Clone)]
pub struct Verifier {
    keyring: Arc<Keyring>,
    /// A keyring kept current from a secret store, used instead of `keyring` when set.
    #[cfg(feature = "secret-source")]
    cached: Option<Arc<CachedSecret<Keyring>>>,
    max_age: Option<Duration>,
    max_clock_skew: Duration,
    max_events: usize,
    clock: Clock,
}

/// How far ahead of this machine's clock a payload's `time_ms` may be when a maximum age is
/// set: soketi's clock and Lambda's are not the same clock.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

impl Verifier {
    /// A verifier with no maximum age and at most [`DEFAULT_MAX_EVENTS`] events a payload.
    pub fn new(keyring: impl Into<Keyring>) -> Self {
        Verifier {
            keyring: Arc::new(keyring.into()),
            #[cfg(feature = "secret-source")]
            cached: None,
            max_age: None,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            max_events: DEFAULT_MAX_EVENTS,
            clock: Arc::new(now_ms),
        }
    }

    /// Rejects payloads whose `time_ms` is older than `max_age` (opt-in; see the module docs
    /// for why there is no default).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// With [`Verifier::max_age`] set, how far in the future a payload's `time_ms` may be
    /// (default [`DEFAULT_MAX_CLOCK_SKEW`], five minutes, as Standard Webhooks allows); a payload
    /// further ahead is rejected as `Expired`, or a replay window could be dodged by stamping it
    /// years ahead. Without a maximum age, `time_ms` is not checked at all.
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Rejects payloads of more than `max_events` events as `MalformedPayload` (once their
    /// signature checked out). Reading an invocation records where each event lies before the
    /// signature is checked; this bounds that memory for a forged request. The default,
    /// [`DEFAULT_MAX_EVENTS`], is more than any 6 MiB payload of valid events holds.
    pub fn max_events(mut self, max_events: usize) -> Self {
        self.max_events = max_events;
        self
    }

    /// Replaces the clock used for the maximum age (milliseconds since the Unix epoch).
    pub fn clock(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now_ms);
        self
    }

    /// The keyring in use now: with a secret source
    /// ([`Verifier::from_source`](crate::Verifier::from_source), `SOKETI_SECRET_ARN`,
    /// `SOKETI_SECRET_PARAMETER`), the one read last.
    pub fn keyring(&self) -> Arc<Keyring> {
        #[cfg(feature = "secret-source")]
        if let Some(cached) = &self.cached {
            return cached.get();
        }
        Arc::clone(&self.keyring)
    }

    /// A verifier whose keyring is `cached`'s, kept current.
    #[cfg(feature = "secret-source")]
    pub(crate) fn with_cached_keyring(cached: Arc<CachedSecret<Keyring>>) -> Verifier {
        let mut verifier = Verifier::new(Keyring::clone(&cached.get()));
        verifier.cached = Some(cached);
        verifier
    }

    /// Runs `verify`, with a secret source re-reading the keyring first when it is old, and
    /// once more after a mismatch when its token bucket allows (then `verify` runs again).
    /// Only a signature that does not match the secrets the keyring holds for the key (or the
    /// single secret) is worth a read: that is what a rotation looks like. An app key the
    /// keyring does not know causes none (a new app is picked up by the periodic read), so
    /// requests with made-up keys cannot make the function call the store.
    pub(crate) async fn verify_refreshing<'a>(
        &self,
        verify: impl Fn(&Verifier) -> Result<Verified<'a>, Rejection>,
    ) -> Result<Verified<'a>, Rejection> {
        #[cfg(feature = "secret-source")]
        if let Some(cached) = &self.cached {
            cached.refresh_if_old().await;
            let first = verify(self);
            if let Err(Rejection::InvalidSignature { .. }) = &first
                && cached.refresh_on_mismatch().await
            {
                return verify(self);
            }
            return first;
        }
        verify(self)
    }

    /// Verifies a Lambda invocation body: one pass over the bytes locates the payload, the
    /// headers and the events, then the HMAC is checked over the payload's exact bytes.
    ///
    /// ```
    /// use soketi_handler_kit::{Keyring, Verifier};
    /// let body = std::fs::read(concat!(
    ///     env!("CARGO_MANIFEST_DIR"),
    ///     "/tests/vectors/soketi-1.6.1/001.json"
    /// ))?;
    /// let verifier = Verifier::new(Keyring::new().app("app1key", "app1secret"));
    /// let verified = verifier.verify_lambda_body(&body)?;
    /// assert_eq!(verified.app_key(), Some("app1key"));
    /// assert_eq!(verified.payload().time_ms(), 1795877256368);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_lambda_body<'a>(&self, body: &'a [u8]) -> Result<Verified<'a>, Rejection> {
        let envelope = Envelope::parse_with_limit(body, self.max_events)?;
        let headers = envelope.headers();
        let checked = self.check_signature(envelope.payload_json().as_bytes(), &headers)?;
        let (text, span, outline) = envelope.into_payload();
        self.accept(checked, text, span, outline)
    }

    /// Verifies a parsed invocation envelope.
    pub fn verify_envelope<'a>(&self, envelope: &Envelope<'a>) -> Result<Verified<'a>, Rejection> {
        let checked =
            self.check_signature(envelope.payload_json().as_bytes(), &envelope.headers())?;
        let (text, span, outline) = envelope.payload_outline();
        self.accept(checked, text, span, outline)
    }

    /// Verifies an HTTP webhook: the whole body is the payload, the headers are the request's.
    /// The HMAC is checked first; the body is read as a payload only once it verified.
    pub fn verify_http<'a>(
        &self,
        body: &'a [u8],
        headers: &Headers<'_>,
    ) -> Result<Verified<'a>, Rejection> {
        let checked = self.check_signature(body, headers)?.into_owned();
        let (text, outline) = self.scan_payload(body)?;
        self.accept(checked, text, Span::whole(text), outline)
    }

    /// Verifies payload bytes given the `X-Pusher-Key` and `X-Pusher-Signature` values.
    /// Checks, in order: signature present and well-formed, app key known, HMAC over the
    /// exact bytes, payload shape, and (if configured) age.
    pub fn verify_parts<'a>(
        &self,
        payload: &'a [u8],
        key: Option<&str>,
        signature: Option<&str>,
    ) -> Result<Verified<'a>, Rejection> {
        let checked = self
            .check_parts(payload, key.map(Cow::Borrowed), signature)?
            .into_owned();
        let (text, outline) = self.scan_payload(payload)?;
        self.accept(checked, text, Span::whole(text), outline)
    }

    fn scan_payload<'a>(&self, payload: &'a [u8]) -> Result<(&'a str, PayloadOutline), Rejection> {
        let text = scan::text(payload).map_err(PayloadError::new)?;
        let outline = scan::payload(text, self.max_events).map_err(PayloadError::new)?;
        Ok((text, outline))
    }

    /// Reads the two headers and checks the HMAC.
    fn check_signature<'h>(
        &self,
        payload: &[u8],
        headers: &Headers<'h>,
    ) -> Result<Checked<'h>, Rejection> {
        let signature = headers.get(X_PUSHER_SIGNATURE)?;
        let key = headers.get(X_PUSHER_KEY)?;
        self.check_parts(payload, key, signature.as_deref())
    }

    fn check_parts<'h>(
        &self,
        payload: &[u8],
        key: Option<Cow<'h, str>>,
        signature: Option<&str>,
    ) -> Result<Checked<'h>, Rejection> {
        let signature = signature.ok_or(Rejection::MissingSignature)?;
        let signature = Signature::from_hex(signature)?;
        #[cfg(feature = "secret-source")]
        let cached = self.cached.as_ref().map(|cached| cached.load());
        #[cfg(feature = "secret-source")]
        let keyring: &Keyring = cached.as_deref().map_or(&self.keyring, |k| &**k);
        #[cfg(not(feature = "secret-source"))]
        let keyring: &Keyring = &self.keyring;
        let (app_key, secrets) = if keyring.is_single_secret() {
            (None, keyring.any_key_secrets())
        } else {
            let key = key.as_deref().ok_or(Rejection::MissingAppKey)?;
            let (key, secrets) = keyring
                .find_app(key)
                .ok_or_else(|| Rejection::UnknownAppKey {
                    key: key.to_owned(),
                })?;
            (Some(Arc::clone(key)), secrets)
        };
        // Every secret is tried, so the time taken does not say which one matched.
        let valid = secrets.iter().fold(false, |ok, secret| {
            secret.verifies(payload, &signature) | ok
        });
        if valid {
            Ok(Checked {
                app_key,
                claimed_key: key,
                signature,
            })
        } else {
            Err(Rejection::InvalidSignature {
                key: key.map(Cow::into_owned),
            })
        }
    }

    /// After the signature: the payload's shape, then its age. `claimed_key` is the
    /// `X-Pusher-Key` that came; it names the app only when apps are configured (then the
    /// signature was checked with that app's secrets).
    fn accept<'a>(
        &self,
        checked: Checked<'a>,
        text: &'a str,
        span: Span,
        outline: PayloadOutline,
    ) -> Result<Verified<'a>, Rejection> {
        let payload = ReceivedPayload::from_outline(text, span, outline)?;
        if let Some(max_age) = self.max_age {
            let now = (self.clock)();
            let age_ms = now.saturating_sub(payload.time_ms());
            let max_age_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
            if age_ms > max_age_ms {
                return Err(Rejection::Expired { age_ms, max_age_ms });
            }
            let ahead_ms = payload.time_ms().saturating_sub(now);
            let max_skew_ms = u64::try_from(self.max_clock_skew.as_millis()).unwrap_or(u64::MAX);
            if ahead_ms > max_skew_ms {
                return Err(Rejection::InTheFuture {
                    ahead_ms,
                    max_skew_ms,
                });
            }
        }
        let Checked {
            app_key,
            claimed_key,
            signature,
        } = checked;
        Ok(Verified {
            app_key,
            claimed_key,
            signature,
            payload,
        })
    }
}

/// What a signature check found: the app (its key as the keyring holds it; `None` in
/// single-secret mode, where the key proves nothing), the key as it came, and the signature.
struct Checked<'h> {
    app_key: Option<Arc<str>>,
    claimed_key: Option<Cow<'h, str>>,
    signature: Signature,
}

impl Checked<'_> {
    /// The same, owning the claimed key (for headers that do not outlive the payload).
    fn into_owned(self) -> Checked<'static> {
        Checked {
            app_key: self.app_key,
            claimed_key: self.claimed_key.map(|key| Cow::Owned(key.into_owned())),
            signature: self.signature,
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keyring", &self.keyring())
            .field("secret_source", &{
                #[cfg(feature = "secret-source")]
                let source = self.cached.as_ref().map(|cached| cached.describe());
                #[cfg(not(feature = "secret-source"))]
                let source: Option<()> = None;
                source
            })
            .field("max_age", &self.max_age)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("max_events", &self.max_events)
            .finish_non_exhaustive()
    }
}

/// A payload whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified<'a> {
    /// The keyring's copy of the app key (shared, not copied, with the callbacks' context).
    app_key: Option<Arc<str>>,
    claimed_key: Option<Cow<'a, str>>,
    signature: Signature,
    payload: ReceivedPayload<'a>,
}

impl<'a> Verified<'a> {
    /// The app it came from: the `X-Pusher-Key` whose secret verified it. `None` in
    /// single-secret mode, where any key is accepted and so the header proves nothing.
    pub fn app_key(&self) -> Option<&str> {
        self.app_key.as_deref()
    }

    /// [`Verified::app_key`] as the keyring holds it.
    pub(crate) fn shared_app_key(&self) -> Option<&Arc<str>> {
        self.app_key.as_ref()
    }

    /// The `X-Pusher-Key` header as it came, verified or not: in single-secret mode it is not
    /// covered by anything (the signature covers the payload only), so treat it as a hint.
    pub fn claimed_app_key(&self) -> Option<&str> {
        self.claimed_key.as_deref()
    }

    /// The `X-Pusher-Signature` that verified: it identifies these exact payload bytes (signed
    /// with that secret), which is what idempotency records are keyed on.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The payload.
    pub fn payload(&self) -> &ReceivedPayload<'a> {
        &self.payload
    }
}

/// Why a webhook was rejected. See [`Rejection::kind`] for the stable names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a soketi envelope.
    #[error(transparent)]
    MalformedEnvelope(#[from] EnvelopeError),
    /// A header could not be read unambiguously.
    #[error("{0}")]
    MalformedHeader(#[from] HeaderError),
    /// No `X-Pusher-Signature`.
    #[error(
        "no X-Pusher-Signature header: the webhook is not signed (is this invocation from soketi?)"
    )]
    MissingSignature,
    /// `X-Pusher-Signature` is not 64 lowercase hex digits.
    #[error("X-Pusher-Signature is malformed: {0}")]
    MalformedSignature(#[from] SignatureFormatError),
    /// Apps are configured but no `X-Pusher-Key` came.
    #[error("no X-Pusher-Key header, but app keys are configured: cannot tell which app sent it")]
    MissingAppKey,
    /// `X-Pusher-Key` names no configured app.
    #[error(
        "X-Pusher-Key `{}` is not a configured app: add it to SOKETI_APP_SECRETS or SOKETI_APP_KEY, or check soketi's app key",
        Untrusted(key)
    )]
    UnknownAppKey {
        /// The key received.
        key: String,
    },
    /// The signature does not match the payload with any secret of the app.
    #[error(
        "X-Pusher-Signature does not match the payload{}: the secret differs from soketi's app secret, or the payload was altered",
        key.as_deref().map(|k| format!(" for app key `{}`", Untrusted(k))).unwrap_or_default()
    )]
    InvalidSignature {
        /// The app key it claimed, if any.
        key: Option<String>,
    },
    /// Validly signed, but not a webhook payload.
    #[error(transparent)]
    MalformedPayload(#[from] PayloadError),
    /// Older than the configured maximum age.
    #[error("the payload is {age_ms} ms old, more than the configured maximum of {max_age_ms} ms")]
    Expired {
        /// Its age when checked.
        age_ms: u64,
        /// The configured maximum.
        max_age_ms: u64,
    },
    /// With a maximum age set, stamped further in the future than the clock skew allows.
    #[error(
        "the payload's time_ms is {ahead_ms} ms ahead of this clock, more than the allowed skew of {max_skew_ms} ms"
    )]
    InTheFuture {
        /// How far ahead it was.
        ahead_ms: u64,
        /// The allowed clock skew.
        max_skew_ms: u64,
    },
}

impl Rejection {
    /// The stable kind: what a Lambda function error's `errorType` says, and what to match on.
    /// A duplicated or non-string header is a `MalformedEnvelope`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Rejection::MalformedEnvelope(_) | Rejection::MalformedHeader(_) => {
                ErrorKind::MalformedEnvelope
            }
            Rejection::MissingSignature => ErrorKind::MissingSignature,
            Rejection::MalformedSignature(_) => ErrorKind::MalformedSignature,
            Rejection::MissingAppKey => ErrorKind::MissingAppKey,
            Rejection::UnknownAppKey { .. } => ErrorKind::UnknownAppKey,
            Rejection::InvalidSignature { .. } => ErrorKind::InvalidSignature,
            Rejection::MalformedPayload(_) => ErrorKind::MalformedPayload,
            Rejection::Expired { .. } | Rejection::InTheFuture { .. } => ErrorKind::Expired,
        }
    }
}
