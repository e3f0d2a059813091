//! Properties of the receive path, over generated inputs: what is signed verifies and reads
//! back as the same events; any change to the signed bytes is rejected; any body at all ends
//! in a result or a typed error.

use proptest::prelude::*;
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::testing::strategy::event;
use soketi_handler_kit::wire::Event;
use soketi_handler_kit::{Keyring, Verifier};

const KEY: &str = "app1key";
const SECRET: &str = "app1secret";

fn verifier() -> Verifier {
    Verifier::new(Keyring::new().app(KEY, SECRET))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Any events, signed as soketi signs them, verify and decode to the same events.
    #[test]
    fn signed_events_read_back_the_same(events in prop::collection::vec(event(), 0..12), time_ms in any::<u64>()) {
        let body = SignedEnvelope::new(KEY, SECRET).time_ms(time_ms).events(events.clone()).to_bytes();
        let verified = verifier().verify_lambda_body(&body).expect("verifies");
        prop_assert_eq!(verified.payload().time_ms(), time_ms);
        let read: Vec<Event> = verified.payload().events().collect::<Result<_, _>>().expect("decodes");
        prop_assert_eq!(read, events);
    }

    /// Any single byte changed, inserted or removed in the payload is rejected. The one edit
    /// that leaves the signed text whole is JSON whitespace inserted before its first byte:
    /// that lies between the envelope's tokens, so the payload read must be exactly the text
    /// signed.
    #[test]
    fn any_edit_of_the_payload_is_rejected(
        events in prop::collection::vec(event(), 1..4),
        at in any::<prop::sample::Index>(),
        op in 0..3u8,
        byte in any::<u8>(),
    ) {
        let signed = SignedEnvelope::new(KEY, SECRET).time_ms(1).events(events);
        let body = signed.to_bytes();
        let payload = signed.signed().json().to_owned();
        let start = body.windows(payload.len()).position(|w| w == payload.as_bytes()).expect("payload in body");
        let i = start + at.index(payload.len());
        let mut edited = body.clone();
        match op {
            0 if edited[i] != byte => edited[i] = byte,
            0 => edited[i] ^= 0x01,
            1 => edited.insert(i, byte),
            _ => { edited.remove(i); }
        }
        let outside_the_signed_text = op == 1 && i == start && matches!(byte, b' ' | b'\t' | b'\n' | b'\r');
        match verifier().verify_lambda_body(&edited) {
            Ok(verified) => {
                prop_assert!(outside_the_signed_text, "accepted an edit of the signed text");
                prop_assert_eq!(verified.payload().as_json(), payload.as_str());
            }
            Err(_) => prop_assert!(!outside_the_signed_text, "rejected whitespace between the envelope's tokens"),
        }
    }

    /// Any bytes at all, as a body, end in a result or a typed error.
    #[test]
    fn any_body_ends_in_a_result_or_a_typed_error(body in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Err(rejection) = verifier().verify_lambda_body(&body) {
            prop_assert!(!rejection.to_string().is_empty());
            let _ = rejection.kind();
        }
    }
}

/// Inputs the fuzzers (`scripts/fuzz`) once failed on, kept in `tests/fuzz-regressions/` and
/// named after their target: each must now pass that target's check.
#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("the regressions folder") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let bytes = std::fs::read(&path).expect("readable");
        if name.starts_with("event_json-") {
            let text = String::from_utf8(bytes).expect("UTF-8");
            let event = Event::from_json(&text).expect("decodes");
            let json = event.to_json();
            let again = Event::from_json(&json).expect("reads back");
            assert_eq!(again.to_json(), json, "{name}");
            checked += 1;
        } else if name.starts_with("signed_payload-") {
            // Signed text that is not one JSON value: wrapped in an envelope, what follows its
            // first value reads as members of the envelope, so the payload found is not the
            // text signed, and the webhook must be rejected.
            let text = String::from_utf8(bytes).expect("UTF-8");
            let text = text.trim_matches([' ', '\t', '\n', '\r']);
            let body = soketi_handler_kit::wire::SignedPayload::new(
                text.to_owned(),
                KEY,
                &soketi_handler_kit::wire::Secret::new(SECRET),
            )
            .lambda_body::<&str, &str>(&soketi_handler_kit::wire::headers::user_agent(1), &[]);
            let one_value = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            match verifier().verify_lambda_body(body.as_bytes()) {
                Err(rejection) => assert!(
                    !one_value
                        || rejection.kind() != soketi_handler_kit::ErrorKind::InvalidSignature,
                    "{name}: {rejection}"
                ),
                Ok(_) => assert!(one_value, "{name}: accepted a payload that is not JSON"),
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no regression input found");
}
