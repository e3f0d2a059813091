//! The one place where requests are built and signed, from (app, webhook, events, `time_ms`):
//! planned ([`plan`](super::plan)), split after a refusal
//! ([`split_request`](super::split_request)), re-signed on replay, or printed by
//! `soketi-lambda sign` ([`Request::build`]).
//!
//! Each event is written once ([`WrittenEvents`]), as it stands in a payload: those bytes give
//! both its size (to split a webhook's events under a limit) and the payload's text. What goes
//! around them comes from the kit's [`wire`](soketi_handler_kit::wire): the payload's text
//! with no event (cut where its empty array is), the signature, the headers in soketi's order,
//! the Lambda envelope.

use soketi_handler_kit::wire::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE, webhook_headers};
use soketi_handler_kit::wire::{Event, Payload, SIGNATURE_HEX_LEN};

use super::request::Request;
use crate::config::{App, Webhook};

/// Events written once, as they stand in a payload (`JSON.stringify`'s text): one string, and
/// where each event ends in it.
#[derive(Clone, Debug, Default)]
pub(crate) struct WrittenEvents {
    text: String,
    ends: Vec<usize>,
}

impl WrittenEvents {
    /// `events`, written.
    pub(crate) fn of(events: &[Event]) -> Self {
        let mut written = WrittenEvents::default();
        for event in events {
            written.push(event);
        }
        written
    }

    /// Writes `event` after the others; returns its length.
    pub(crate) fn push(&mut self, event: &Event) -> usize {
        let start = self.text.len();
        event.write_json(&mut self.text);
        self.ends.push(self.text.len());
        self.text.len() - start
    }

    /// The text of event number `i` (in the order they were written).
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        &self.text[start..self.ends[i]]
    }

    /// Every event's text, in order.
    fn all(&self) -> Vec<&str> {
        (0..self.ends.len()).map(|i| self.get(i)).collect()
    }
}

/// Signs the payloads of one app stamped `time_ms`.
pub(crate) struct Signer<'a> {
    app: &'a App,
    time_ms: u64,
    /// The kit's payload with no event, cut where the events go: `{"time_ms":…,"events":[`.
    open: String,
    /// And the rest of it: `]}`.
    close: String,
}

impl<'a> Signer<'a> {
    pub(crate) fn new(app: &'a App, time_ms: u64) -> Self {
        let mut open = Payload::new(time_ms, Vec::new()).to_json();
        // The events go between the brackets of the empty array, comma separated as the kit
        // (and `JSON.stringify`) writes them; the golden and property tests compare the
        // result with `Payload::to_json`.
        let at = open.rfind("[]").map_or(open.len(), |i| i + 1);
        let close = open.split_off(at);
        Signer {
            app,
            time_ms,
            open,
            close,
        }
    }

    /// The payload of the events written in `texts`, and its signature (hex) with the app's
    /// secret.
    fn sign(&self, texts: &[&str]) -> (String, String) {
        let size = texts.iter().map(|t| t.len() + 1).sum::<usize>();
        let mut payload = String::with_capacity(self.open.len() + size + self.close.len());
        payload.push_str(&self.open);
        for (i, text) in texts.iter().enumerate() {
            if i > 0 {
                payload.push(',');
            }
            payload.push_str(text);
        }
        payload.push_str(&self.close);
        let signature = self.app.secret.sign(payload.as_bytes()).to_string();
        (payload, signature)
    }

    /// The length of a request to `webhook` but for its events and the commas between them:
    /// the payload's text around them, the headers, the envelope. (A signature is always
    /// [`SIGNATURE_HEX_LEN`] characters long, so any stands for the one to come.)
    pub(crate) fn overhead(&self, webhook: &Webhook, user_agent: &str) -> usize {
        let signature = "0".repeat(SIGNATURE_HEX_LEN);
        let headers = webhook_headers(user_agent, &webhook.headers, &self.app.key, &signature);
        let empty = format!("{}{}", self.open, self.close);
        webhook.target.body(&empty, &headers).len()
    }

    /// The request to webhook number `index` (`webhook`) for `events`, written in `texts`.
    pub(crate) fn request(
        &self,
        index: usize,
        webhook: &Webhook,
        events: Vec<Event>,
        texts: &[&str],
        user_agent: &str,
    ) -> Request {
        let (payload, signature) = self.sign(texts);
        let headers = webhook_headers(user_agent, &webhook.headers, &self.app.key, &signature);
        Request::from_parts(
            &self.app.id,
            &self.app.key,
            index,
            webhook.target.clone(),
            self.time_ms,
            events,
            payload,
            headers,
        )
    }
}

impl Request {
    /// The request soketi would send to webhook number `webhook` of `app` for exactly these
    /// `events` (no filtering, no splitting), stamped `time_ms`, with `user_agent` (see
    /// [`user_agent`](soketi_handler_kit::wire::headers::user_agent)). `None` when the app has
    /// no such webhook.
    ///
    /// ```
    /// use soketi_handler_kit::wire::{headers::user_agent, Event, EventKind};
    /// use soketi_lambda_sender::config::{App, Webhook};
    /// use soketi_lambda_sender::route::Request;
    /// let app = App::new("1", "app1key", "app1secret")
    ///     .webhook(Webhook::lambda("my-function").region("us-east-1").event_types([EventKind::ChannelOccupied]));
    /// let request = Request::build(&app, 0, vec![Event::channel_occupied("public-chan")],
    ///     1795877256368, &user_agent(26548)).unwrap();
    /// let recorded = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"),
    ///     "/../handler-kit/tests/vectors/soketi-1.6.1/001.json"))?;
    /// assert_eq!(request.body, recorded);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(
        app: &App,
        webhook: usize,
        events: Vec<Event>,
        time_ms: u64,
        user_agent: &str,
    ) -> Option<Self> {
        let config = app.webhooks.get(webhook)?;
        let written = WrittenEvents::of(&events);
        let signer = Signer::new(app, time_ms);
        Some(signer.request(webhook, config, events, &written.all(), user_agent))
    }

    /// This request for `events` stamped `time_ms`, signed with `app`'s secret: the same
    /// target and headers but for `X-Pusher-Key` and `X-Pusher-Signature`, which are those of
    /// the new payload. (A request split in halves, a dead letter re-signed.)
    pub(crate) fn signed_again(&self, app: &App, events: &[Event], time_ms: u64) -> Request {
        let written = WrittenEvents::of(events);
        let (payload, signature) = Signer::new(app, time_ms).sign(&written.all());
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if name.eq_ignore_ascii_case(X_PUSHER_KEY) {
                    &app.key
                } else if name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE) {
                    &signature
                } else {
                    value
                };
                (name.clone(), value.clone())
            })
            .collect();
        Request::from_parts(
            &self.app_id,
            &app.key,
            self.webhook,
            self.target.clone(),
            time_ms,
            events.to_vec(),
            payload,
            headers,
        )
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::headers::user_agent;
    use soketi_handler_kit::wire::{ClientData, ClientEvent, EventKind};

    use super::*;

    #[test]
    fn the_payload_is_the_kits_with_each_event_written_once() {
        let app = App::new("1", "k", "s");
        let events = vec![
            Event::channel_occupied("a"),
            Event::member_added("presence-b", 7u64),
            ClientEvent::new("private-c", "client-x")
                .with_data(ClientData::string("[] \"]}\""))
                .into(),
        ];
        let written = WrittenEvents::of(&events);
        for time_ms in [0, 1, u64::MAX] {
            let signer = Signer::new(&app, time_ms);
            for n in 0..=events.len() {
                let (payload, signature) = signer.sign(&written.all()[..n]);
                let kit = Payload::new(time_ms, events[..n].to_vec()).sign("k", &app.secret);
                assert_eq!(payload, kit.json());
                assert_eq!(signature, kit.signature().to_string());
            }
        }
    }

    #[test]
    fn the_overhead_is_a_request_without_its_events() {
        let app = App::new("1", "k", "s")
            .webhook(
                Webhook::lambda("f")
                    .header("X-A", "é\n")
                    .event_types(EventKind::ALL),
            )
            .webhook(Webhook::http("http://127.0.0.1:1/").event_types(EventKind::ALL));
        let signer = Signer::new(&app, 1_700_000_000_000);
        let ua = user_agent(1);
        for (index, webhook) in app.webhooks.iter().enumerate() {
            let event = Event::cache_miss("c");
            let one = signer.request(
                index,
                webhook,
                vec![event.clone()],
                &[&event.to_json()],
                &ua,
            );
            assert_eq!(
                signer.overhead(webhook, &ua) + event.to_json().len(),
                one.body.len()
            );
        }
    }
}
