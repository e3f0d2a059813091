//! Which queue job each event of a payload came from: the payload member `job_events`, written
//! and read here only.
//!
//! A consumer of soketi's webhook queue (the sender's delivery function or worker) delivers
//! the events of a job again after a failure, and may deliver the consecutive jobs of a message
//! group as one payload ("coalescing"), so the same event can arrive in payloads of different
//! shapes: alone, or beside other jobs, as batch boundaries fall. So that a receiver still
//! recognises an event it has handled, each event's identity travels with it inside the
//! signed payload, after `events`:
//!
//! ```text
//! {"time_ms":…,"events":[e0,e1,e2],"job_events":["<signature A>#0","<signature A>#1","<signature B>#0"]}
//! ```
//!
//! One string per event, in the order of `events`: the `originalPusherSignature` of the job it
//! came from (64 lowercase hex digits), `#`, and the event's index (decimal, from 0) in that
//! job's `events`. A job delivered alone carries it too, so an event has the same identity
//! alone or coalesced. It is part of the signed bytes: only a holder of the app secret can
//! write it, and no unsigned header says anything about it.
//!
//! Receivers that do not know the member ignore it (soketi's format has no rule against other
//! members; the kit's reader skips unknown ones; a `JSON.stringify` of the parsed payload
//! prints it back byte for byte, so Node receivers that re-serialize still verify). The kit's
//! idempotency ([`Webhooks::idempotent`](crate::Webhooks)) uses these ids as its keys when the
//! member is present. A payload whose `job_events` is not one well-formed id per event is
//! malformed (it is signed: only a broken sender writes one).

use std::fmt;

use super::names::JOB_EVENTS;
use super::signature::{SIGNATURE_HEX_LEN, Signature};

/// The identity of one event of a queue job: the job's `originalPusherSignature` and the
/// event's index in the job. Its text form is `<signature>#<index>`.
///
/// ```
/// use soketi_handler_kit::wire::{JobEventId, Secret};
/// let job = Secret::new("s").sign(br#"{"time_ms":1,"events":[]}"#);
/// let id = JobEventId::new(job, 2);
/// assert_eq!(id.to_string(), format!("{job}#2"));
/// assert_eq!(id.json_len(), id.to_string().len() + 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobEventId {
    job: Signature,
    index: usize,
}

impl JobEventId {
    /// Event number `index` of the job signed `job`.
    pub fn new(job: Signature, index: usize) -> Self {
        JobEventId { job, index }
    }

    /// The job's `originalPusherSignature`.
    pub fn job(&self) -> &Signature {
        &self.job
    }

    /// The event's index in its job's `events`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The length of its JSON string in the member, quotes included.
    pub fn json_len(&self) -> usize {
        SIGNATURE_HEX_LEN + 1 + decimal_len(self.index) + 2
    }

    /// Reads `<64 lowercase hex digits>#<decimal index>`.
    fn parse(text: &str) -> Option<Self> {
        let (job, index) = text.split_once('#')?;
        let job = Signature::from_hex(job).ok()?;
        let canonical = index == "0" || !index.starts_with('0');
        if index.is_empty() || !canonical || !index.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(JobEventId {
            job,
            index: index.parse().ok()?,
        })
    }
}

impl fmt::Display for JobEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.job, self.index)
    }
}

fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// The length of the member around its ids: `,"job_events":[]` (each id adds its
/// [`JobEventId::json_len`], and a comma between two).
pub const JOB_EVENTS_MEMBER_LEN: usize = JOB_EVENTS.len() + 6;

/// Appends the member `,"job_events":[…]` for `ids` to a payload being written, after its
/// `events` array and before its closing brace, as `JSON.stringify` prints it.
///
/// ```
/// use soketi_handler_kit::wire::{JobEventId, ReceivedPayload, Secret, write_job_events};
/// let job = Secret::new("s").sign(b"the job's payload");
/// let ids = [JobEventId::new(job, 0), JobEventId::new(job, 1)];
/// let mut payload = r#"{"time_ms":1,"events":[{"name":"x"},{"name":"y"}]"#.to_owned();
/// write_job_events(&mut payload, &ids);
/// payload.push('}');
/// assert_eq!(ReceivedPayload::parse(&payload)?.job_events(), Some(&ids[..]));
/// # Ok::<(), soketi_handler_kit::wire::PayloadError>(())
/// ```
pub fn write_job_events(out: &mut String, ids: &[JobEventId]) {
    use fmt::Write as _;
    out.reserve(JOB_EVENTS_MEMBER_LEN + ids.iter().map(|id| id.json_len() + 1).sum::<usize>());
    out.push_str(",\"");
    out.push_str(JOB_EVENTS);
    out.push_str("\":[");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "\"{id}\"");
    }
    out.push(']');
}

/// Reads the member's value (`json`, already checked as JSON by the scanner) for a payload of
/// `events` events; the error says what is wrong.
pub(crate) fn read_job_events(json: &str, events: usize) -> Result<Vec<JobEventId>, String> {
    // Owned: a string with an escape in it cannot be borrowed from the text.
    let texts: Vec<String> = serde_json::from_str(json).map_err(|_| {
        format!("`{JOB_EVENTS}` must be an array of strings `<job signature>#<event index>`")
    })?;
    if texts.len() != events {
        return Err(format!(
            "`{JOB_EVENTS}` must hold one id per event: {} id(s) for {events} event(s)",
            texts.len()
        ));
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            JobEventId::parse(text).ok_or_else(|| {
                format!(
                    "`{JOB_EVENTS}[{i}]` must be `<64 lowercase hex digits>#<event index>`, \
                     found {}",
                    crate::untrusted::Untrusted(text)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Secret;

    fn job(n: u8) -> Signature {
        Secret::new("s").sign(&[n])
    }

    #[test]
    fn written_ids_read_back_and_their_length_is_known() {
        let ids: Vec<JobEventId> = (0..12)
            .map(|i| JobEventId::new(job(i as u8 % 3), i * 997))
            .collect();
        let mut member = String::new();
        write_job_events(&mut member, &ids);
        let expected_len =
            JOB_EVENTS_MEMBER_LEN + ids.iter().map(JobEventId::json_len).sum::<usize>() + 11;
        assert_eq!(member.len(), expected_len);
        let value = member
            .strip_prefix(",\"job_events\":")
            .expect("the member's name");
        assert_eq!(read_job_events(value, ids.len()), Ok(ids));
        let mut none = String::new();
        write_job_events(&mut none, &[]);
        assert_eq!(none, ",\"job_events\":[]");
        assert_eq!(none.len(), JOB_EVENTS_MEMBER_LEN);
    }

    #[test]
    fn the_payload_reader_takes_the_member_once_wherever_it_stands() {
        use crate::wire::ReceivedPayload;
        let sig = job(1);
        let after =
            format!(r#"{{"time_ms":1,"events":[{{"name":"x"}}],"job_events":["{sig}#3"]}}"#);
        let before =
            format!(r#"{{"job_events":["{sig}#3"],"time_ms":1,"events":[{{"name":"x"}}]}}"#);
        for text in [&after, &before] {
            let payload = ReceivedPayload::parse(text).expect(text);
            assert_eq!(payload.job_events(), Some(&[JobEventId::new(sig, 3)][..]));
        }
        let plain = ReceivedPayload::parse(r#"{"time_ms":1,"events":[]}"#).expect("plain");
        assert_eq!(plain.job_events(), None);
        let twice = r#"{"time_ms":1,"events":[],"job_events":[],"job_\u0065vents":[]}"#;
        let error = ReceivedPayload::parse(twice).expect_err("duplicate");
        assert!(
            error.to_string().contains("duplicate field `job_events`"),
            "{error}"
        );
    }

    #[test]
    fn malformed_ids_say_what_is_wrong() {
        let sig = job(1).to_string();
        let cases = [
            ("{}".to_owned(), 0, "an array of strings"),
            ("[1]".to_owned(), 1, "an array of strings"),
            (format!("[\"{sig}#0\"]"), 2, "1 id(s) for 2 event(s)"),
            (format!("[\"{sig}\"]"), 1, "job_events[0]"),
            (format!("[\"{sig}#\"]"), 1, "job_events[0]"),
            (format!("[\"{sig}#01\"]"), 1, "job_events[0]"),
            (format!("[\"{sig}#-1\"]"), 1, "job_events[0]"),
            (
                format!("[\"{}#1\"]", sig.to_uppercase()),
                1,
                "job_events[0]",
            ),
            (
                format!("[\"{sig}#99999999999999999999999\"]"),
                1,
                "job_events[0]",
            ),
            ("[\"evil\\nline\"]".to_owned(), 1, "evil\\nline"),
        ];
        for (json, events, needle) in cases {
            let error = read_job_events(&json, events).expect_err(&json);
            assert!(error.contains(needle), "{json}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
        assert_eq!(
            read_job_events(&format!("[\"{sig}#0\" , \"{sig}\\u002310\"]"), 2),
            Ok(vec![
                JobEventId::new(job(1), 0),
                JobEventId::new(job(1), 10)
            ])
        );
    }
}
