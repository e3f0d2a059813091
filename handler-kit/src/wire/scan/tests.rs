//! The reader held to serde_json, and its edge cases.

use proptest::prelude::*;
use serde::de::IgnoredAny;

use super::*;

/// JSON values of a bounded depth (serde_json stops at 128 levels; the scanner does not).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::vec(("\\PC{0,6}", inner), 0..6)
                .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Characters that matter to a JSON reader, for mutations.
const ALPHABET: &[char] = &[
    '{', '}', '[', ']', '"', ',', ':', '\\', ' ', '\n', '\t', '\u{1}', '0', '1', '9', '-', '+',
    '.', 'e', 'E', 't', 'r', 'u', 'f', 'a', 'l', 's', 'n', 'x', '/', 'b', 'é', '😀',
];

/// Valid JSON text, then up to four edits at random places.
fn mutated_json() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0..3u8,
        prop::sample::select(ALPHABET),
    );
    (json_value(), prop::collection::vec(edit, 0..5)).prop_map(|(value, edits)| {
        let mut chars: Vec<char> = value.to_string().chars().collect();
        for (at, op, c) in edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => chars.insert(i, c),
                1 if i < chars.len() => {
                    chars.remove(i);
                }
                _ if i < chars.len() => chars[i] = c,
                _ => chars.push(c),
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// The scanner accepts exactly the texts serde_json accepts (as one JSON value).
    #[test]
    fn accepts_exactly_what_serde_json_accepts(text in mutated_json()) {
        let ours = event(&text).is_ok();
        let theirs = serde_json::from_str::<IgnoredAny>(&text).is_ok();
        prop_assert_eq!(ours, theirs, "{:?}", text);
    }

    /// Spans of a payload's events are exactly the elements serde_json finds.
    #[test]
    fn event_spans_are_the_array_elements(values in prop::collection::vec(json_value(), 0..8)) {
        let events: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let text = format!(r#"{{"time_ms":5,"events":[{}]}}"#, events.join(" , "));
        let outline = payload(&text, usize::MAX).expect("valid payload");
        prop_assert!(outline.shape_error.is_none());
        let found: Vec<&str> = outline.events.iter().map(|e| e.span.of(&text)).collect();
        prop_assert_eq!(found, events.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

#[test]
fn invalid_utf8_and_control_characters_are_rejected() {
    assert!(text(b"{\"a\":\"\xff\"}").is_err());
    assert!(event("\"a\u{1}b\"").is_err());
    assert!(event("\"a\\u00e9b\"").is_ok());
    // Whitespace outside strings is fine; inside, it must be escaped.
    assert!(event("{ \"a\" :\n[1,\t2] }").is_ok());
    assert!(event("\"a\tb\"").is_err());
}

#[test]
fn deep_nesting_costs_no_stack() {
    let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    assert!(event(&deep).is_ok());
    assert!(event(&deep[1..]).is_err());
}

#[test]
fn duplicate_envelope_and_payload_keys_are_caught() {
    let twice = r#"{"payload":{"time_ms":1,"events":[]},"headers":{},"payload":{}}"#;
    assert!(envelope(twice, 10).is_err());
    let time_twice = r#"{"time_ms":1,"events":[],"time_ms":2}"#;
    let outline = payload(time_twice, 10).expect("valid JSON");
    assert_eq!(
        outline.shape_error.as_deref(),
        Some("duplicate field `time_ms`")
    );
}

/// A key spelled with escapes is the same key: a second one is a duplicate, never an unknown
/// member skipped while serde_json or `JSON.parse` would read it instead of the first.
#[test]
fn escaped_duplicate_keys_are_duplicates() {
    let payload_twice = r#"{"payload":{"time_ms":1,"events":[]},"headers":{},"p\u0061yload":{}}"#;
    let error = envelope(payload_twice, 10).expect_err("payload twice");
    assert!(
        error.what().contains("duplicate field `payload`"),
        "{error}"
    );
    let headers_twice = r#"{"payload":{"time_ms":1,"events":[]},"headers":{},"h\u0065aders":{}}"#;
    let error = envelope(headers_twice, 10).expect_err("headers twice");
    assert!(
        error.what().contains("duplicate field `headers`"),
        "{error}"
    );
    for (text, field) in [
        (r#"{"time_ms":1,"events":[],"time\u005fms":2}"#, "time_ms"),
        (r#"{"time_ms":1,"events":[],"\u0065vents":[]}"#, "events"),
    ] {
        let outline = payload(text, 10).expect("valid JSON");
        let expected = format!("duplicate field `{field}`");
        assert_eq!(outline.shape_error.as_deref(), Some(&*expected), "{text}");
    }
    // An escaped spelling alone is the member itself.
    let escaped = r#"{"p\u0061yload":{"time_ms":1,"events":[]},"\u0068eaders":{}}"#;
    assert!(envelope(escaped, 10).is_ok());
}

#[test]
fn event_fields_are_found_by_their_exact_name_escapes_decoded() {
    for field in Field::ALL {
        assert_eq!(Key::Plain(field.as_str().as_bytes()).field(), Some(field));
    }
    assert_eq!(Key::Escaped(r#""n\u0061me""#).field(), Some(Field::Name));
    assert_eq!(Key::Plain(b"Name").field(), None);
}

#[test]
fn events_beyond_the_maximum_are_counted_not_recorded() {
    let text = r#"{"time_ms":1,"events":[{},{},{}]}"#;
    let outline = payload(text, 2).expect("valid JSON");
    assert_eq!(outline.events.len(), 2);
    assert!(outline.shape_error.is_some_and(|e| e.contains("3 events")));
}

/// Strings are searched sixteen bytes at a time: a quote, an escape, a control character or a
/// non-ASCII character at every offset of a block, and texts that end at every offset, read as
/// serde_json reads them.
#[test]
fn strings_are_read_alike_at_every_offset_of_a_block() {
    let stops = [
        "\"", "\\\"", "\\\\", "\\u00e9", "\u{1}", "\n", "é", "😀", "\\x",
    ];
    for len in 0..40 {
        for at in 0..=len {
            for stop in stops {
                let inner: String = (0..len).map(|i| if i == at { stop } else { "a" }).collect();
                for text in [
                    format!("\"{inner}\""),
                    format!("[\"{inner}\",1]"),
                    format!("\"{inner}"),
                ] {
                    let ours = event(&text).is_ok();
                    let theirs = serde_json::from_str::<IgnoredAny>(&text).is_ok();
                    assert_eq!(ours, theirs, "{text:?}");
                }
            }
        }
    }
}

/// Objects and arrays alternate beyond the levels kept in place (256), and each closes as what
/// it opened as.
#[test]
fn deep_objects_and_arrays_close_as_they_opened() {
    let depth = 700;
    let open: String = (0..depth)
        .map(|i| if i % 3 == 0 { "{\"k\":" } else { "[" })
        .collect();
    let close: String = (0..depth)
        .rev()
        .map(|i| if i % 3 == 0 { "}" } else { "]" })
        .collect();
    assert!(event(&format!("{open}1{close}")).is_ok());
    // One closer swapped deep inside, then one near the top: both are errors.
    for swap in [5, depth - 3] {
        let mut wrong: Vec<char> = close.chars().collect();
        let i = depth - 1 - swap;
        wrong[i] = if wrong[i] == '}' { ']' } else { '}' };
        let wrong: String = wrong.into_iter().collect();
        assert!(event(&format!("{open}1{wrong}")).is_err(), "swap at {swap}");
    }
}

/// The two headers the verifier reads are decoded only when they hold an escape, and read
/// alike either way; other headers are found by any case of their name.
#[test]
fn escaped_and_plain_header_values_read_as_their_text() {
    use crate::wire::Envelope;
    let body = br#"{"payload":{"time_ms":1,"events":[]},"headers":{"X-Pusher-Key":"app\u0031key","x-pusher-signature":"ab","User-Agent":"a\"b","Accept":"json"}}"#;
    let envelope = Envelope::parse(body).expect("an envelope");
    let headers = envelope.headers();
    let get = |name: &str| headers.get(name).expect(name).map(|v| v.into_owned());
    assert_eq!(get("X-Pusher-Key").as_deref(), Some("app1key"));
    assert_eq!(get("X-Pusher-Signature").as_deref(), Some("ab"));
    assert_eq!(get("user-agent").as_deref(), Some("a\"b"));
    assert_eq!(get("ACCEPT").as_deref(), Some("json"));
    assert_eq!(get("Content-Type"), None);
}
