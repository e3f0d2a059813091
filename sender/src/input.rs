//! Events from JSON text: what the CLI reads from its arguments, files and standard input.
//!
//! Each event is first rewritten exactly as JavaScript's `JSON.stringify(JSON.parse(text))`
//! prints it (the kit's [`soketi_handler_kit::wire::js_json`]), then decoded from that text
//! into a wire [`Event`]. So what is sent is what soketi would have sent for the same input:
//!
//! - numbers are re-printed the JavaScript way: `1.0` → `1`, `1e21` → `1e+21`, `-0` → `0`, and
//!   an integer beyond 2^53 is rounded to the nearest double (`9007199254740993` →
//!   `9007199254740992`), as soketi's `JSON.parse` would have done before signing;
//! - integer-like object keys come first in ascending order, then the others in insertion order;
//! - a lone surrogate in client `data` (`"\ud800"`) is kept as that escape, as soketi sends it.
//!   In the other string fields (channel, event name, socket id, user id), which the wire types
//!   hold as Rust strings, it becomes U+FFFD; soketi's own channel-name rules allow ASCII only.

use soketi_handler_kit::wire::js_json::{self, JsJsonError};
use soketi_handler_kit::wire::{Event, EventDecodeError};

/// Why a text is not an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventParseError {
    /// Not JSON (as JavaScript's `JSON.parse` would refuse it).
    #[error("not JSON: {0}")]
    Json(#[from] JsJsonError),
    /// JSON, but not an event object with a string `name` and the fields its kind needs.
    #[error(transparent)]
    Event(#[from] EventDecodeError),
}

impl EventParseError {
    /// The stable name: `Json` or `Event`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventParseError::Json(_) => "Json",
            EventParseError::Event(_) => "Event",
        }
    }
}

/// Reads one event from a JSON object.
///
/// ```
/// use soketi_lambda_sender::input::parse_event;
/// let ev = parse_event(r#"{"channel":"private-c","name":"client_event","event":"client-x","data":{"b":1.0,"1":2}}"#)?;
/// assert_eq!(
///     serde_json::to_string(&ev)?,
///     r#"{"name":"client_event","channel":"private-c","event":"client-x","data":{"1":2,"b":1}}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_event(text: &str) -> Result<Event, EventParseError> {
    // Two passes, each needed: JavaScript's reading and printing, then the event read from
    // what JavaScript would have printed (which is JSON: the kit's printer writes nothing else).
    let canonical = js_json::canonicalize(text)?;
    Ok(Event::from_json(&canonical)?)
}

/// Reads events from JSON lines (blank lines are skipped). The error names the 1-based line.
///
/// ```
/// use soketi_lambda_sender::input::parse_event_lines;
/// let events = parse_event_lines("{\"name\":\"channel_occupied\",\"channel\":\"a\"}\n\n{\"name\":\"channel_vacated\",\"channel\":\"a\"}\n")?;
/// assert_eq!(events.len(), 2);
/// assert!(parse_event_lines("{\"name\":\"channel_occupied\"}").unwrap_err().to_string().starts_with("line 1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_event_lines(text: &str) -> Result<Vec<Event>, LineError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| parse_event(line).map_err(|error| LineError { line: i + 1, error }))
        .collect()
}

/// An event that could not be read from a line of JSON lines.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct LineError {
    /// The 1-based line number.
    pub line: usize,
    /// What was wrong.
    #[source]
    pub error: EventParseError,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(text: &str) -> String {
        serde_json::to_string(&parse_event(text).expect("event")).expect("serialize")
    }

    #[test]
    fn values_come_out_as_json_stringify_prints_them() {
        assert_eq!(
            sent(
                r#"{"name":"client_event","channel":"c","event":"client-x","data":{"n":9007199254740993,"f":1e21,"z":-0,"s":"\ud800\u2028/"}}"#
            ),
            "{\"name\":\"client_event\",\"channel\":\"c\",\"event\":\"client-x\",\"data\":{\"n\":9007199254740992,\"f\":1e+21,\"z\":0,\"s\":\"\\ud800\u{2028}/\"}}"
        );
        assert_eq!(
            sent(r#"{"name":"member_added","channel":"presence-n","user_id":42.0}"#),
            r#"{"name":"member_added","channel":"presence-n","user_id":42}"#
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for text in [
            "",
            "[1]",
            "{\"name\":1}",
            "{\"channel\":\"c\"}",
            "{\"name\":\"member_added\",\"channel\":\"p\",\"user_id\":true}",
            "{\"name\":\"channel_occupied\",\"channel\":\"c\"",
            &"[".repeat(10_000),
        ] {
            assert!(parse_event(text).is_err(), "{text:.40}");
        }
        // Unknown names are kept (forward compatibility), they match no webhook.
        assert!(matches!(
            parse_event(r#"{"name":"new_thing","channel":"c"}"#),
            Ok(Event::Unknown(_))
        ));
    }
}
