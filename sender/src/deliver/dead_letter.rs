//! Dead letters: a failed delivery as one JSON line, and the request to send it again.
//!
//! A line holds the format version `v`, the signed payload exactly as it was signed (a JSON
//! value, byte for byte), the headers in order, where the request was going and why it
//! failed:
//!
//! ```text
//! {"v":2,"app_id":"1","app_key":"k","webhook":0,
//!  "target":{"type":"lambda","function":"f","invocation_type":"Event","region":"eu-west-1","endpoint":null},
//!  "time_ms":1,"events":["cache_miss"],"headers":[["Accept","application/json"],["Authorization",null],…],
//!  "payload":{"time_ms":1,"events":[{"name":"cache_miss","channel":"cache-a"}]},
//!  "failure":{"kind":"Timeout","message":"no answer","status":null,"attempts":3}}
//! ```
//!
//! (one line in the file). `events` lists the event names for people reading the file; the
//! events themselves are read from `payload`. The body sent again is rebuilt from `payload`
//! and `headers` by the kit's [`wire`](soketi_handler_kit::wire) writer, which is how it was
//! built the first time: the same bytes, the same signature, no secret needed.
//!
//! **What is not stored** (see [`redact`](crate::redact)): no app secret, no AWS credential,
//! no URL password (a URL is stored as `https://user:***@host/…`) and no value of a credential
//! header (`Authorization`, `Cookie`, `X-Api-Key`, …: stored as `null`, in its place). Those
//! come from the configuration when the letter is sent again, and only for the webhook the
//! letter names ([`DeadLetter::to_request`]).
//!
//! Lines without `v` (written before the field existed) are read as version 1, which has the
//! same fields; a line of another version is refused with a message saying so.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use soketi_handler_kit::wire::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE};
use soketi_handler_kit::wire::{Event, EventDecodeError, Payload, PayloadError, ReceivedPayload};

use crate::config::{App, HttpTarget, InvocationMode, LambdaTarget, Target};
use crate::deliver::{DeliveryReport, Failure};
use crate::redact;
use crate::route::Request;

/// The version of the dead-letter lines written (the `v` field).
pub const DEAD_LETTER_VERSION: u32 = 2;

/// A failed delivery, to be stored as one JSON line and sent again later: the signed payload
/// and headers, where they were going and why they did not get there. No secret is stored (not
/// the app secret, not AWS credentials, not a URL password, not a credential header's value).
///
/// ```
/// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
/// use soketi_lambda_sender::config::{App, Webhook};
/// use soketi_lambda_sender::deliver::{DeadLetter, DeliveryReport, Failure, FailureKind, Outcome, Replay};
/// use soketi_lambda_sender::route::Request;
///
/// let app = App::new("1", "k", "s").webhook(
///     Webhook::lambda("f")
///         .region("eu-west-1")
///         .header("Authorization", "Bearer t0k3n")
///         .event_types([EventKind::CacheMiss]),
/// );
/// let request = Request::build(&app, 0, vec![Event::cache_miss("cache-a")], 1, &user_agent(1)).unwrap();
/// let failure = Failure::new(FailureKind::Timeout, "no answer", None, 3);
/// let line = DeadLetter::from_report(&DeliveryReport::new(request.clone(), Outcome::Failed(failure)))
///     .unwrap()
///     .to_json_line();
/// assert!(!line.contains("t0k3n"));
/// let back = DeadLetter::from_json_line(&line)?;
/// // The Authorization header comes back from the app's configuration.
/// assert_eq!(back.to_request(&[app], &Replay::new()).unwrap(), request);
/// # Ok::<(), soketi_lambda_sender::deliver::DeadLetterError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The app's id.
    pub app_id: String,
    /// The app's key.
    pub app_key: String,
    /// The webhook's index in the app's `webhooks`.
    pub webhook: usize,
    /// Where it was going.
    pub target: DeadLetterTarget,
    /// The payload's `time_ms`.
    pub time_ms: u64,
    /// The events it carries, in order.
    pub events: Vec<Event>,
    /// The headers, in order (`X-Pusher-Key` and `X-Pusher-Signature` included); `None` is
    /// the value of a credential header, not stored (see [`redact`](crate::redact)).
    pub headers: Vec<(String, Option<String>)>,
    /// The signed payload bytes, exactly as signed.
    pub payload: String,
    /// Why it failed (its message with any URL password hidden).
    pub failure: Failure,
}

/// Where a dead letter was going (credentials are not stored; see [`DeadLetter::to_request`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterTarget {
    /// A Lambda function.
    Lambda {
        /// Name or ARN.
        function: String,
        /// `RequestResponse` or `Event` (`invocation_type` in the file; any other value is an
        /// error when the line is read).
        #[serde(rename = "invocation_type")]
        mode: InvocationMode,
        /// The region.
        region: Option<String>,
        /// The endpoint, if not AWS's (its password, if any, hidden).
        endpoint: Option<String>,
    },
    /// An HTTP URL.
    Http {
        /// The URL, its password hidden (`https://user:***@host/…`).
        url: String,
    },
}

impl DeadLetterTarget {
    /// The target of `target`, as stored: no credentials, passwords hidden.
    fn of(target: &Target) -> Self {
        match target {
            Target::Http(http) => DeadLetterTarget::Http {
                url: http.url.redacted().into_owned(),
            },
            Target::Lambda(l) => DeadLetterTarget::Lambda {
                function: l.function.clone(),
                mode: l.mode,
                region: l.region.clone(),
                endpoint: l.endpoint.as_deref().map(|e| redact::url(e).into_owned()),
            },
        }
    }

    /// A short description, as [`Target::describe`] gives.
    pub fn describe(&self) -> String {
        match self {
            DeadLetterTarget::Http { url } => url.clone(),
            DeadLetterTarget::Lambda { function, .. } => format!("lambda:{function}"),
        }
    }
}

/// Why a line is not a dead letter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeadLetterError {
    /// Not JSON, or a field is missing or has the wrong type or value (an unknown
    /// `invocation_type`, say). The JSON reader's message, without the values it quotes (see
    /// [`redact::quoted`]).
    #[error("{0}")]
    Json(String),
    /// The line is not UTF-8.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The line's `v` is a version this crate does not read.
    #[error(
        "dead-letter line version {0} is not supported (this soketi-lambda reads versions 1 \
         and {DEAD_LETTER_VERSION}): replay it with the version that wrote it"
    )]
    Version(u64),
    /// `payload` is not a webhook payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// An event of `payload` is malformed.
    #[error("payload event {index}: {source}")]
    Event {
        /// The event's 0-based position in the payload.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: EventDecodeError,
    },
}

/// How to send dead letters again; see [`DeadLetter::to_request`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// `Some(time_ms)`: re-sign with the app's current secret, stamped `time_ms`.
    pub resign_at: Option<u64>,
    /// Send letters whose webhook is not in the configuration to the target named in the
    /// letter (with the AWS default credentials and no configured header).
    pub unconfigured_targets: bool,
}

impl Replay {
    /// Byte for byte, to configured webhooks only.
    pub fn new() -> Self {
        Replay::default()
    }

    /// Re-sign each payload with the app's current secret and stamp it `time_ms` (the events
    /// are unchanged): for letters signed with a secret that has since been rotated, or older
    /// than a receiver's `max_age`.
    pub fn resign_at(mut self, time_ms: u64) -> Self {
        self.resign_at = Some(time_ms);
        self
    }

    /// Whether letters whose webhook is not in the configuration are sent to the target the
    /// letter names (with the AWS default credentials, and without any configured header or
    /// credential), instead of being refused.
    pub fn unconfigured_targets(mut self, allow: bool) -> Self {
        self.unconfigured_targets = allow;
        self
    }
}

/// Why a dead letter cannot be sent again as asked; see [`ReplayError::kind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The letter's webhook (app id, index and target) is not in the configuration.
    #[error(
        "app `{app_id}` webhook {webhook} ({target}) is not a webhook of the configuration: \
         give the app's configuration (--app) so that the letter goes to that webhook with its \
         credentials and headers, or allow sending to the target named in the file \
         (--unconfigured-targets: AWS default credentials, no configured header)"
    )]
    NotConfigured {
        /// The app id.
        app_id: String,
        /// The webhook index.
        webhook: usize,
        /// The target named in the letter (passwords hidden).
        target: String,
    },
    /// A credential header's value was not stored, and the configuration does not give it.
    #[error(
        "the value of header `{name}` was not stored in the dead letter (it is a credential) \
         and the configuration of app `{app_id}` webhook {webhook} does not give it: give the \
         app's configuration with that header (--app)"
    )]
    MissingHeader {
        /// The app id.
        app_id: String,
        /// The webhook index.
        webhook: usize,
        /// The header's name.
        name: String,
    },
    /// The URL's password was not stored, and the configuration does not give it.
    #[error(
        "the password of {url} was not stored in the dead letter: give the configuration of app \
         `{app_id}` (--app) so that the configured URL is used"
    )]
    MissingPassword {
        /// The app id.
        app_id: String,
        /// The URL, password hidden.
        url: String,
    },
    /// Re-signing needs the app's secret, and the configuration has no app of this id.
    #[error(
        "cannot re-sign for app `{app_id}`: it is not in the configuration; give it (--app) with \
         its current secret"
    )]
    NoAppToSign {
        /// The app id.
        app_id: String,
    },
}

impl From<serde_json::Error> for DeadLetterError {
    fn from(error: serde_json::Error) -> Self {
        DeadLetterError::Json(redact::quoted(&error.to_string()))
    }
}

impl ReplayError {
    /// A stable name: `NotConfigured`, `MissingHeader`, `MissingPassword`, `NoAppToSign`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplayError::NotConfigured { .. } => "NotConfigured",
            ReplayError::MissingHeader { .. } => "MissingHeader",
            ReplayError::MissingPassword { .. } => "MissingPassword",
            ReplayError::NoAppToSign { .. } => "NoAppToSign",
        }
    }
}

/// The line as written.
#[derive(Serialize)]
struct LineOut<'a> {
    v: u32,
    app_id: &'a str,
    app_key: &'a str,
    webhook: usize,
    target: &'a DeadLetterTarget,
    time_ms: u64,
    events: Vec<&'a str>,
    headers: &'a [(String, Option<String>)],
    payload: &'a RawValue,
    failure: &'a Failure,
}

/// The line as read (`events`, the names for people, is not read back).
#[derive(Deserialize)]
struct LineIn<'a> {
    #[serde(default)]
    v: Option<u64>,
    app_id: String,
    app_key: String,
    webhook: usize,
    target: DeadLetterTarget,
    time_ms: u64,
    headers: Vec<(String, Option<String>)>,
    #[serde(borrow)]
    payload: &'a RawValue,
    failure: Failure,
}

/// Only the version, read first so that a line of another version says so instead of
/// failing on a field it names differently.
#[derive(Deserialize)]
struct VersionIn {
    #[serde(default)]
    v: Option<serde_json::Value>,
}

impl DeadLetter {
    /// The dead letter of a failed delivery (`None` if it was delivered): credential header
    /// values left out, URL passwords hidden.
    pub fn from_report(report: &DeliveryReport) -> Option<Self> {
        let mut failure = report.failure()?.clone();
        failure.message = redact::text(&failure.message).into_owned();
        let r = &report.request;
        let headers = r
            .headers
            .iter()
            .map(|(name, value)| {
                let kept = (!redact::is_credential_header(name)).then(|| value.clone());
                (name.clone(), kept)
            })
            .collect();
        Some(DeadLetter {
            app_id: r.app_id.clone(),
            app_key: r.app_key.clone(),
            webhook: r.webhook,
            target: DeadLetterTarget::of(&r.target),
            time_ms: r.time_ms,
            events: r.events.clone(),
            headers,
            payload: r.payload.clone(),
            failure,
        })
    }

    /// One line of JSON (no newline).
    pub fn to_json_line(&self) -> String {
        // The payload was written by the kit's serializer: it is JSON. If it ever were not,
        // it is stored as a JSON string, so that the line stays readable and reading it back
        // says what is wrong instead of the record being lost.
        let fallback;
        let payload: &RawValue = match serde_json::from_str::<&RawValue>(&self.payload) {
            Ok(raw) => raw,
            Err(_) => {
                fallback = serde_json::value::to_raw_value(&self.payload).unwrap_or_default();
                &fallback
            }
        };
        let line = LineOut {
            v: DEAD_LETTER_VERSION,
            app_id: &self.app_id,
            app_key: &self.app_key,
            webhook: self.webhook,
            target: &self.target,
            time_ms: self.time_ms,
            events: self.events.iter().map(Event::name).collect(),
            headers: &self.headers,
            payload,
            failure: &self.failure,
        };
        // Strings, integers, raw JSON and plain structs only: serializing cannot fail.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Reads one line. The events are decoded from its `payload`; an unknown version, an
    /// unknown invocation type, a payload that is not one or a malformed event is an error.
    pub fn from_json_line(line: &str) -> Result<Self, DeadLetterError> {
        match serde_json::from_str::<VersionIn>(line)?.v {
            None => {}
            Some(serde_json::Value::Number(n)) if matches!(n.as_u64(), Some(1 | 2)) => {}
            Some(serde_json::Value::Number(n)) => {
                return Err(DeadLetterError::Version(n.as_u64().unwrap_or(u64::MAX)));
            }
            Some(_) => return Err(DeadLetterError::Version(u64::MAX)),
        }
        let line: LineIn<'_> = serde_json::from_str(line)?;
        debug_assert!(line.v.is_none_or(|v| v <= u64::from(DEAD_LETTER_VERSION)));
        let payload = ReceivedPayload::parse(line.payload.get())?;
        let events = payload
            .events()
            .enumerate()
            .map(|(index, event)| event.map_err(|source| DeadLetterError::Event { index, source }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DeadLetter {
            app_id: line.app_id,
            app_key: line.app_key,
            webhook: line.webhook,
            target: line.target,
            time_ms: line.time_ms,
            events,
            headers: line.headers,
            payload: line.payload.get().to_owned(),
            failure: line.failure,
        })
    }

    /// The configured webhook this letter was for: the app of the same id, its webhook at the
    /// same index, with the same target (Lambda: the same function, and the same region and
    /// endpoint when the letter names them; HTTP: the same URL).
    fn configured<'a>(&self, apps: &'a [App]) -> Option<&'a crate::config::Webhook> {
        let webhook = apps
            .iter()
            .find(|a| a.id == self.app_id)?
            .webhooks
            .get(self.webhook)?;
        let same = match (&self.target, &webhook.target) {
            (DeadLetterTarget::Http { url }, Target::Http(http)) => *url == http.url.redacted(),
            (
                DeadLetterTarget::Lambda {
                    function,
                    region,
                    endpoint,
                    ..
                },
                Target::Lambda(l),
            ) => {
                *function == l.function
                    && (region.is_none() || l.region.is_none() || *region == l.region)
                    && *endpoint == l.endpoint.as_deref().map(|e| redact::url(e).into_owned())
            }
            _ => false,
        };
        same.then_some(webhook)
    }

    /// The request to send again.
    ///
    /// The letter goes to the configured webhook it names (the app of the same id, its webhook
    /// at the same index, with the same target): with that webhook's credentials, full URL
    /// and the values of the credential headers that were not stored. A letter whose webhook
    /// is not in `apps` is refused ([`ReplayError::NotConfigured`]) unless
    /// [`Replay::unconfigured_targets`] allows it; it then goes to the target the letter names,
    /// with the AWS default credential chain and no configured header or credential (the file
    /// may have been edited: configured secrets never go to a target named only in it).
    ///
    /// Without [`Replay::resign_at`], the body is the one first sent, byte for byte (same
    /// `time_ms`, same signature). With it, the payload is written again with the same events,
    /// stamped with the given time and signed with the app's current secret from `apps`.
    pub fn to_request(&self, apps: &[App], replay: &Replay) -> Result<Request, ReplayError> {
        let configured = self.configured(apps);
        let target = match (configured, &self.target) {
            (Some(webhook), _) => {
                let mut target = webhook.target.clone();
                if let (Target::Lambda(l), DeadLetterTarget::Lambda { mode, region, .. }) =
                    (&mut target, &self.target)
                {
                    l.mode = *mode;
                    if region.is_some() {
                        l.region.clone_from(region);
                    }
                }
                target
            }
            (None, _) if !replay.unconfigured_targets => {
                return Err(ReplayError::NotConfigured {
                    app_id: self.app_id.clone(),
                    webhook: self.webhook,
                    target: self.target.describe(),
                });
            }
            (None, DeadLetterTarget::Http { url }) => {
                if url.contains(&format!(":{}@", redact::PASSWORD_MASK)) {
                    return Err(ReplayError::MissingPassword {
                        app_id: self.app_id.clone(),
                        url: url.clone(),
                    });
                }
                Target::Http(HttpTarget::new(url.clone()))
            }
            (
                None,
                DeadLetterTarget::Lambda {
                    function,
                    mode,
                    region,
                    endpoint,
                },
            ) => {
                let mut target = LambdaTarget::new(function.clone());
                target.mode = *mode;
                target.region = region.clone();
                target.endpoint = endpoint.clone();
                Target::Lambda(target)
            }
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let value = match value {
                Some(value) => value.clone(),
                None => configured
                    .and_then(|w| {
                        w.headers.iter().find(|(n, _)| n == name).or_else(|| {
                            w.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
                        })
                    })
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| ReplayError::MissingHeader {
                        app_id: self.app_id.clone(),
                        webhook: self.webhook,
                        name: name.clone(),
                    })?,
            };
            headers.push((name.clone(), value));
        }
        let (app_key, time_ms, payload) = match replay.resign_at {
            None => (self.app_key.clone(), self.time_ms, self.payload.clone()),
            Some(time_ms) => {
                let app = apps.iter().find(|a| a.id == self.app_id).ok_or_else(|| {
                    ReplayError::NoAppToSign {
                        app_id: self.app_id.clone(),
                    }
                })?;
                let signed = Payload::new(time_ms, self.events.clone()).sign(&app.key, &app.secret);
                let signature = signed.signature().to_string();
                for (name, value) in &mut headers {
                    if name.eq_ignore_ascii_case(X_PUSHER_KEY) {
                        *value = app.key.clone();
                    } else if name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE) {
                        value.clone_from(&signature);
                    }
                }
                (app.key.clone(), time_ms, signed.json().to_owned())
            }
        };
        Ok(Request::from_parts(
            &self.app_id,
            &app_key,
            self.webhook,
            target,
            time_ms,
            self.events.clone(),
            payload,
            headers,
        ))
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::EventKind;
    use soketi_handler_kit::wire::headers::user_agent;

    use super::*;
    use crate::config::Webhook;
    use crate::deliver::{FailureKind, Outcome};

    fn letter(is_async: bool) -> (App, Request, String) {
        let app = App::new("1", "k", "s").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .async_invocation(is_async)
                .event_types([EventKind::CacheMiss, EventKind::ClientEvent]),
        );
        let events = vec![
            Event::cache_miss("cache-a"),
            crate::input::parse_event(
                r#"{"name":"client_event","channel":"c","event":"client-x","data":{"s":"\ud800 é"}}"#,
            )
            .expect("event"),
        ];
        let request = Request::build(&app, 0, events, 7, &user_agent(1)).expect("request");
        let failure = Failure::new(FailureKind::Timeout, "no answer", None, 3);
        let report = DeliveryReport::new(request.clone(), Outcome::Failed(failure));
        let line = DeadLetter::from_report(&report)
            .expect("failed")
            .to_json_line();
        (app, request, line)
    }

    #[test]
    fn a_line_gives_back_the_same_request_byte_for_byte() {
        for is_async in [false, true] {
            let (app, request, line) = letter(is_async);
            assert!(!line.contains('\n'), "{line}");
            assert!(
                line.contains(r#""payload":{"time_ms":7,"#),
                "stored as JSON: {line}"
            );
            let back = DeadLetter::from_json_line(&line).expect("reads");
            assert_eq!(back.to_request(&[app], &Replay::new()), Ok(request.clone()));
            let unconfigured = Replay::new().unconfigured_targets(true);
            assert_eq!(
                back.to_request(&[], &unconfigured).expect("allowed").body,
                request.body,
                "no app needed when allowed"
            );
        }
    }

    #[test]
    fn an_unknown_invocation_type_is_an_error_not_request_response() {
        let (_, _, line) = letter(true);
        assert!(line.contains(r#""invocation_type":"Event""#), "{line}");
        let bad = line.replace(
            r#""invocation_type":"Event""#,
            r#""invocation_type":"event""#,
        );
        let error = DeadLetter::from_json_line(&bad).expect_err("unknown mode");
        assert!(matches!(error, DeadLetterError::Json(_)), "{error:?}");
        assert!(
            error.to_string().contains("unknown variant `event`"),
            "{error}"
        );
        let missing = line.replace(r#""invocation_type":"Event","#, "");
        assert!(DeadLetter::from_json_line(&missing).is_err());
    }

    #[test]
    fn a_malformed_payload_is_an_error_not_an_empty_request() {
        let (_, _, line) = letter(false);
        let bad = line.replace(
            r#"{"name":"cache_miss","channel":"cache-a"}"#,
            r#"{"name":"cache_miss"}"#,
        );
        assert_ne!(bad, line);
        assert!(matches!(
            DeadLetter::from_json_line(&bad),
            Err(DeadLetterError::Event { index: 0, .. })
        ));
    }

    fn line_of(app: &App, webhook: usize, time_ms: u64) -> (Request, String) {
        let request = Request::build(
            app,
            webhook,
            vec![Event::cache_miss("cache-a")],
            time_ms,
            &user_agent(1),
        )
        .expect("request");
        let failure = Failure::new(
            FailureKind::Connection,
            "error sending request for url (https://bot:hunter2@hooks.example/in)",
            None,
            1,
        );
        let line = DeadLetter::from_report(&DeliveryReport::new(
            request.clone(),
            Outcome::Failed(failure),
        ))
        .expect("failed")
        .to_json_line();
        (request, line)
    }

    fn http_app(secret: &str) -> App {
        App::new("1", "k", secret).webhook(
            Webhook::http("https://bot:hunter2@hooks.example/in")
                .header("Authorization", "Bearer t0k3n")
                .header("X-Env", "prod")
                .event_types([EventKind::CacheMiss]),
        )
    }

    #[test]
    fn credential_headers_and_url_passwords_are_not_stored_and_come_back_from_the_configuration() {
        let app = http_app("s");
        let (request, line) = line_of(&app, 0, 7);
        for secret in ["hunter2", "t0k3n", "\"s\""] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
        assert!(line.starts_with(r#"{"v":2,"#), "{line}");
        assert!(line.contains(r#"["Authorization",null]"#), "{line}");
        assert!(line.contains(r#"["X-Env","prod"]"#), "{line}");
        assert!(line.contains("https://bot:***@hooks.example/in"), "{line}");
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert!(!format!("{letter:?}").contains("hunter2"));
        assert_eq!(
            letter.to_request(std::slice::from_ref(&app), &Replay::new()),
            Ok(request),
            "the same request, byte for byte, headers and URL from the configuration"
        );
        // Without the configuration, the header and the password cannot be made up.
        let anywhere = Replay::new().unconfigured_targets(true);
        assert_eq!(
            letter.to_request(&[], &anywhere).map_err(|e| e.kind()),
            Err("MissingPassword")
        );
        let no_password = App::new("1", "k", "s").webhook(
            Webhook::http("https://hooks.example/in")
                .header("Authorization", "Bearer t0k3n")
                .event_types([EventKind::CacheMiss]),
        );
        let (_, line) = line_of(&no_password, 0, 7);
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert_eq!(
            letter.to_request(&[], &anywhere).map_err(|e| e.kind()),
            Err("MissingHeader")
        );
    }

    #[test]
    fn configured_credentials_never_go_to_a_target_named_only_in_the_file() {
        use crate::config::StaticCredentials;
        let app = App::new("1", "k", "s").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .credentials(StaticCredentials::new("AKIDSTATIC", "static-secret", None))
                .event_types([EventKind::CacheMiss]),
        );
        let (request, line) = line_of(&app, 0, 7);
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert_eq!(
            letter.to_request(std::slice::from_ref(&app), &Replay::new()),
            Ok(request)
        );
        let apps = [app];
        for (from, to) in [
            (
                r#""endpoint":null"#,
                r#""endpoint":"https://attacker.example""#,
            ),
            (r#""function":"f""#, r#""function":"other""#),
            (r#""region":"eu-west-1""#, r#""region":"us-east-1""#),
            (r#""app_id":"1""#, r#""app_id":"2""#),
            (r#""webhook":0"#, r#""webhook":1"#),
        ] {
            let edited = line.replace(from, to);
            assert_ne!(edited, line, "{from}");
            let letter = DeadLetter::from_json_line(&edited).expect("reads");
            let error = letter
                .to_request(&apps, &Replay::new())
                .expect_err("not the configured webhook");
            assert_eq!(error.kind(), "NotConfigured", "{to}");
            assert!(
                error.to_string().contains("--unconfigured-targets"),
                "{error}"
            );
            // Allowed explicitly: sent where the file says, without the configured credentials.
            let request = letter
                .to_request(&apps, &Replay::new().unconfigured_targets(true))
                .expect("allowed");
            match &request.target {
                Target::Lambda(l) => assert_eq!(l.credentials, None, "{to}"),
                Target::Http(_) => panic!("a Lambda target"),
            }
        }
    }

    #[test]
    fn resigning_uses_the_current_secret_and_a_new_time_and_keeps_the_events() {
        use soketi_handler_kit::{Keyring, Verifier};
        let before = http_app("old-secret");
        let (request, line) = line_of(&before, 0, 7);
        let rotated = [http_app("new-secret")];
        let letter = DeadLetter::from_json_line(&line).expect("reads");

        let kept = letter.to_request(&rotated, &Replay::new()).expect("kept");
        assert_eq!(
            kept.body, request.body,
            "without --resign: the old signature"
        );

        let resigned = letter
            .to_request(&rotated, &Replay::new().resign_at(1_800_000_000_000))
            .expect("re-signed");
        let verify = |secret: &str| {
            Verifier::new(Keyring::new().app("k", secret)).verify_parts(
                resigned.payload.as_bytes(),
                resigned.header("X-Pusher-Key"),
                resigned.header("X-Pusher-Signature"),
            )
        };
        let verified = verify("new-secret").expect("signed with the current secret");
        assert!(verify("old-secret").is_err());
        assert_eq!(verified.payload().time_ms(), 1_800_000_000_000);
        assert_eq!(resigned.time_ms, 1_800_000_000_000);
        assert_eq!(resigned.events, request.events);
        assert_eq!(resigned.header("Authorization"), Some("Bearer t0k3n"));
        assert_eq!(
            resigned.body, resigned.payload,
            "HTTP: the body is the payload"
        );
        assert_eq!(
            letter
                .to_request(&[], &Replay::new().resign_at(1).unconfigured_targets(true))
                .map_err(|e| e.kind()),
            Err("MissingPassword")
        );
        let lambda = App::new("1", "k", "old").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .event_types([EventKind::CacheMiss]),
        );
        let (_, line) = line_of(&lambda, 0, 7);
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert_eq!(
            letter
                .to_request(&[], &Replay::new().resign_at(1).unconfigured_targets(true))
                .map_err(|e| e.kind()),
            Err("NoAppToSign")
        );
    }

    #[test]
    fn a_line_of_another_version_says_so() {
        let (_, _, line) = letter(false);
        let error = DeadLetter::from_json_line(&line.replace(r#"{"v":2,"#, r#"{"v":3,"#))
            .expect_err("version 3");
        assert!(matches!(error, DeadLetterError::Version(3)), "{error:?}");
        assert!(error.to_string().contains("version 3"), "{error}");
        let old = line.replace(r#"{"v":2,"#, "{");
        assert!(DeadLetter::from_json_line(&old).is_ok(), "version 1");
    }
}
