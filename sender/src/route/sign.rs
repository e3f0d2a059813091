//! The one place where requests are built and signed, from (app, webhook, events, `time_ms`):
//! planned ([`plan`](super::plan)), split after a refusal
//! ([`split_request`](super::split_request)), re-signed on replay, or printed by
//! `soketi-lambda sign` ([`Request::build`]).
//!
//! Each event's text is written once ([`WrittenEvents`]), as it stands in a payload: those
//! bytes give both its size (to split a webhook's events under a limit) and the payload's
//! text. Events from soketi's queue jobs are not written again at all: their texts are the
//! bytes as they stood in the job (a lone surrogate, a number's format, key order kept), each
//! with its job's identity, which the payload carries in the kit's `job_events` member. What
//! goes around them comes from the kit's [`wire`](soketi_handler_kit::wire): the payload's text
//! with no event (cut where its empty array is), the member, the signature, the headers in
//! soketi's order, the Lambda envelope.

use soketi_handler_kit::wire::headers::{X_PUSHER_KEY, X_PUSHER_SIGNATURE, webhook_headers};
use soketi_handler_kit::wire::{
    Event, JOB_EVENTS_MEMBER_LEN, JobEventId, Payload, ReceivedPayload, SIGNATURE_HEX_LEN,
    write_job_events,
};

use super::request::Request;
use crate::config::{App, Webhook};

/// Events as they stand in a payload (`JSON.stringify`'s text, or a queue job's exact bytes):
/// one string, where each event ends in it, and, for events of queue jobs, each one's job.
#[derive(Clone, Debug, Default)]
pub(crate) struct WrittenEvents {
    text: String,
    ends: Vec<usize>,
    /// One per event when the events come from queue jobs; empty otherwise.
    jobs: Vec<JobEventId>,
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

    /// The events of a payload this crate signed (a request's), as they stand in it, with
    /// their jobs when it names them; `None` if it does not read as a payload.
    pub(crate) fn of_payload(payload: &str) -> Option<Self> {
        let payload = ReceivedPayload::parse(payload).ok()?;
        let mut written = WrittenEvents::default();
        let jobs = payload.job_events();
        for (i, text) in payload.event_texts().enumerate() {
            written.push_text(text, jobs.and_then(|jobs| jobs.get(i)).copied());
        }
        Some(written)
    }

    /// Writes `event` after the others; returns its length.
    pub(crate) fn push(&mut self, event: &Event) -> usize {
        let start = self.text.len();
        event.write_json(&mut self.text);
        self.ends.push(self.text.len());
        self.text.len() - start
    }

    /// Adds an event's `text` as it stands (a queue job's bytes), of `job` when it comes from
    /// one. Either every event has a job or none has.
    pub(crate) fn push_text(&mut self, text: &str, job: Option<JobEventId>) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
        self.jobs.extend(job);
    }

    /// The text of event number `i` (in the order they were written).
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends[i - 1],
        };
        &self.text[start..self.ends[i]]
    }

    /// The job event number `i` came from, when the events come from queue jobs.
    pub(crate) fn job(&self, i: usize) -> Option<&JobEventId> {
        self.jobs.get(i)
    }

    /// Whether the events come from queue jobs (their payloads name them).
    pub(crate) fn has_jobs(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// The bytes event number `i` adds to a payload beside others: its text and, for a job's
    /// event, its id in `job_events`, each with the comma before it (the first event of a
    /// payload has no comma: [`WrittenEvents::commas`] fewer bytes).
    pub(crate) fn size(&self, i: usize) -> usize {
        let id = self.job(i).map_or(0, |id| id.json_len() + 1);
        self.get(i).len() + 1 + id
    }

    /// The commas in [`WrittenEvents::size`]: 2 for a job's event (one in `events`, one in
    /// `job_events`), else 1.
    pub(crate) fn commas(&self) -> usize {
        1 + usize::from(self.has_jobs())
    }

    /// How many events there are.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Every event's number, in order.
    fn all(&self) -> Vec<usize> {
        (0..self.len()).collect()
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

    /// The payload of events `which` of `written`, and its signature (hex) with the app's
    /// secret. Events of queue jobs bring the `job_events` member, after `events`.
    fn sign(&self, written: &WrittenEvents, which: &[usize]) -> (String, String) {
        let size = which.iter().map(|&i| written.size(i)).sum::<usize>();
        let mut payload = String::with_capacity(
            self.open.len() + size + self.close.len() + JOB_EVENTS_MEMBER_LEN,
        );
        payload.push_str(&self.open);
        for (n, &i) in which.iter().enumerate() {
            if n > 0 {
                payload.push(',');
            }
            payload.push_str(written.get(i));
        }
        // `close` is `]}`: the member goes between the two.
        let (bracket, brace) = self.close.split_at(1);
        payload.push_str(bracket);
        if written.has_jobs() {
            let jobs: Vec<JobEventId> = which
                .iter()
                .filter_map(|&i| written.job(i).copied())
                .collect();
            write_job_events(&mut payload, &jobs);
        }
        payload.push_str(brace);
        let signature = self.app.secret.sign(payload.as_bytes()).to_string();
        (payload, signature)
    }

    /// The length of a request to `webhook` but for its events (and their ids) and the
    /// commas before them: the payload's text around them (with an empty `job_events` member
    /// when `jobs`), the headers, the envelope; a request's length is this plus
    /// [`WrittenEvents::size`] of each event, less [`WrittenEvents::commas`]. (A signature is always
    /// [`SIGNATURE_HEX_LEN`] characters long, so any stands for the one to come.)
    pub(crate) fn overhead(&self, webhook: &Webhook, user_agent: &str, jobs: bool) -> usize {
        let signature = "0".repeat(SIGNATURE_HEX_LEN);
        let headers = webhook_headers(user_agent, &webhook.headers, &self.app.key, &signature);
        let member = if jobs { JOB_EVENTS_MEMBER_LEN } else { 0 };
        let empty = format!("{}{}", self.open, self.close);
        webhook.target.body(&empty, &headers).len() + member
    }

    /// The request to webhook number `index` (`webhook`) for `events`, which are events
    /// `which` of `written`.
    pub(crate) fn request(
        &self,
        index: usize,
        webhook: &Webhook,
        events: Vec<Event>,
        written: &WrittenEvents,
        which: &[usize],
        user_agent: &str,
    ) -> Request {
        let (payload, signature) = self.sign(written, which);
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
        Some(signer.request(
            webhook,
            config,
            events,
            &written,
            &written.all(),
            user_agent,
        ))
    }

    /// This request for its events `from..to` stamped `time_ms`, signed with `app`'s secret:
    /// the same target and headers but for `X-Pusher-Key` and `X-Pusher-Signature`, which are
    /// those of the new payload. The events' texts (and jobs) are taken from this request's
    /// payload as they stand, never written again. (A request split in halves, a dead letter
    /// re-signed.)
    pub(crate) fn signed_again(&self, app: &App, from: usize, to: usize, time_ms: u64) -> Request {
        let events = self.events.get(from..to).unwrap_or_default().to_vec();
        let written = WrittenEvents::of_payload(&self.payload)
            .filter(|written| written.len() == self.events.len())
            .unwrap_or_else(|| WrittenEvents::of(&self.events));
        let which: Vec<usize> = (from..to.min(written.len())).collect();
        let (payload, signature) = Signer::new(app, time_ms).sign(&written, &which);
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
            events,
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
                let (payload, signature) = signer.sign(&written, &written.all()[..n]);
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
            let written = WrittenEvents::of(std::slice::from_ref(&event));
            let one = signer.request(index, webhook, vec![event.clone()], &written, &[0], &ua);
            assert_eq!(
                signer.overhead(webhook, &ua, false) + written.size(0) - written.commas(),
                one.body.len()
            );
            let mut of_jobs = WrittenEvents::default();
            let job = app.secret.sign(b"a job");
            for i in 0..3 {
                of_jobs.push_text(&event.to_json(), Some(JobEventId::new(job, i)));
            }
            let three = signer.request(
                index,
                webhook,
                vec![event.clone(); 3],
                &of_jobs,
                &[0, 1, 2],
                &ua,
            );
            let sizes: usize = (0..3).map(|i| of_jobs.size(i)).sum();
            assert_eq!(
                signer.overhead(webhook, &ua, true) + sizes - of_jobs.commas(),
                three.body.len()
            );
        }
    }
}
