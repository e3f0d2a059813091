//! Every request recorded from the real soketi 1.6.1 verifies and yields the events the
//! manifest lists; any single flipped payload byte, another app's secret, or a dropped
//! signature is rejected with the right typed error.

mod common;

use common::{Vector, manifest};
use soketi_handler_kit::wire::{Envelope, Event, Headers, UserId};
use soketi_handler_kit::{ErrorKind, Keyring, Rejection, Verified, Verifier};

fn verifier() -> Verifier {
    Verifier::new(
        Keyring::new()
            .app("app1key", "app1secret")
            .app("app2key", "app2secret"),
    )
}

fn verify<'a>(
    verifier: &Verifier,
    vector: &Vector,
    body: &'a [u8],
) -> Result<Verified<'a>, Rejection> {
    if vector.is_lambda() {
        verifier.verify_lambda_body(body)
    } else {
        let headers = Headers::from_pairs(
            vector
                .http_headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        verifier.verify_http(body, &headers)
    }
}

/// The byte range of the payload inside the recorded request.
fn payload_range(vector: &Vector, body: &[u8]) -> std::ops::Range<usize> {
    if vector.is_lambda() {
        let envelope = Envelope::parse(body).expect("recorded envelope");
        let payload = envelope.payload_json();
        let start = payload.as_ptr() as usize - body.as_ptr() as usize;
        start..start + payload.len()
    } else {
        0..body.len()
    }
}

#[test]
fn every_recorded_request_verifies_with_the_listed_events() {
    let verifier = verifier();
    for vector in manifest().files {
        let body = vector.bytes();
        let verified =
            verify(&verifier, &vector, &body).unwrap_or_else(|e| panic!("{}: {e}", vector.file));
        assert_eq!(
            verified.app_key(),
            Some(vector.app_key.as_str()),
            "{}",
            vector.file
        );
        let names: Vec<String> = verified
            .payload()
            .events()
            .map(|ev| {
                ev.unwrap_or_else(|e| panic!("{}: {e}", vector.file))
                    .name()
                    .to_owned()
            })
            .collect();
        assert_eq!(names, vector.events, "{}", vector.file);
    }
}

#[test]
fn every_recorded_request_verifies_in_single_secret_mode_too() {
    for vector in manifest().files {
        let verifier = Verifier::new(Keyring::single_secret(&vector.app_secret));
        let body = vector.bytes();
        assert!(verify(&verifier, &vector, &body).is_ok(), "{}", vector.file);
    }
}

#[test]
fn any_flipped_payload_byte_is_rejected() {
    let verifier = verifier();
    for vector in manifest().files {
        let body = vector.bytes();
        for i in payload_range(&vector, &body) {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut tampered = body.clone();
                tampered[i] ^= flip;
                let error = match verify(&verifier, &vector, &tampered) {
                    Ok(_) => panic!("{} byte {i} ^ {flip:#x}: accepted", vector.file),
                    Err(e) => e,
                };
                // A Lambda envelope is parsed before the signature is checked, so a flip that
                // breaks its JSON is a malformed envelope; every other flip breaks the HMAC.
                let expected = if vector.is_lambda() && Envelope::parse(&tampered).is_err() {
                    ErrorKind::MalformedEnvelope
                } else {
                    ErrorKind::InvalidSignature
                };
                assert_eq!(
                    error.kind(),
                    expected,
                    "{} byte {i} ^ {flip:#x}: {error}",
                    vector.file
                );
            }
        }
    }
}

#[test]
fn another_apps_secret_is_rejected() {
    for vector in manifest().files {
        let other = if vector.app_key == "app1key" {
            "app2secret"
        } else {
            "app1secret"
        };
        let verifier = Verifier::new(Keyring::new().app(vector.app_key.clone(), other));
        let body = vector.bytes();
        let error = verify(&verifier, &vector, &body).expect_err(&vector.file);
        assert_eq!(error.kind(), ErrorKind::InvalidSignature, "{}", vector.file);
        // And in single-secret mode.
        let single = Verifier::new(Keyring::single_secret(other));
        let error = verify(&single, &vector, &body).expect_err(&vector.file);
        assert_eq!(error.kind(), ErrorKind::InvalidSignature, "{}", vector.file);
    }
}

#[test]
fn a_dropped_signature_header_is_rejected() {
    let verifier = verifier();
    for mut vector in manifest().files {
        let mut body = vector.bytes();
        if vector.is_lambda() {
            let text = String::from_utf8(body).expect("utf-8");
            let start = text
                .find(",\"X-Pusher-Signature\":")
                .expect("signature header");
            let end = start + text[start + 1..].find('"').expect("name") + 1;
            let end = end + text[end..].find("\"}").expect("end of value") + 1;
            body = format!("{}{}", &text[..start], &text[end..]).into_bytes();
            assert!(
                Envelope::parse(&body).is_ok(),
                "{}: still an envelope",
                vector.file
            );
        } else {
            vector
                .http_headers
                .retain(|(n, _)| n != "X-Pusher-Signature");
        }
        let error = verify(&verifier, &vector, &body).expect_err(&vector.file);
        assert_eq!(error.kind(), ErrorKind::MissingSignature, "{}", vector.file);
    }
}

fn first_event(file: &str) -> Event {
    let vector = manifest()
        .files
        .into_iter()
        .find(|v| v.file == file)
        .expect("vector in manifest");
    let body = vector.bytes();
    let verifier = verifier();
    let verified = verify(&verifier, &vector, &body).expect("verifies");
    verified
        .payload()
        .events()
        .next()
        .expect("an event")
        .expect("decodes")
}

#[test]
fn recorded_events_carry_their_fields() {
    match first_event("011.json") {
        Event::MemberAdded(ev) => {
            assert_eq!(ev.channel, "presence-numeric");
            assert_eq!(ev.user_id, UserId::from(42u64));
        }
        other => panic!("{other:?}"),
    }
    match first_event("023.json") {
        Event::ClientEvent(ev) => {
            #[derive(serde::Deserialize)]
            struct Text {
                text: String,
            }
            // Pusher form: the data is a JSON-encoded string.
            assert!(ev.data.as_ref().is_some_and(|d| d.is_string()));
            let text = ev.data_as::<Text>().expect("JSON string data").text;
            assert!(text.starts_with("Zoë 😀 \"dq\""), "{text}");
            assert!(
                text.contains("nul\u{0}") && text.contains("</script>"),
                "{text}"
            );
            assert_eq!(ev.socket_id.as_deref(), Some("1949476375.8273916586"));
            assert_eq!(ev.user_id, None);
        }
        other => panic!("{other:?}"),
    }
    match first_event("027.json") {
        Event::ClientEvent(ev) => {
            assert_eq!(ev.event, "client-nodata");
            assert!(ev.data.is_none());
        }
        other => panic!("{other:?}"),
    }
    match first_event("029.json") {
        Event::ClientEvent(ev) => {
            assert_eq!(ev.user_id, Some(UserId::from("user-2")));
            assert_eq!(
                ev.data.as_ref().map(|d| d.as_json()),
                Some("{\"who\":\"user-2\",\"text\":\"héllo 😀 \\\"q\\\" </script>\u{2028}\"}")
            );
        }
        other => panic!("{other:?}"),
    }
}

/// In single-secret mode any `X-Pusher-Key` is accepted, and the header is not signed: the kit
/// does not present it as the app.
#[test]
fn single_secret_mode_names_no_app() {
    for vector in manifest().files {
        let verifier = Verifier::new(Keyring::single_secret(&vector.app_secret));
        let body = vector.bytes();
        let verified = verify(&verifier, &vector, &body).expect("verifies");
        assert_eq!(verified.app_key(), None, "{}", vector.file);
        assert_eq!(
            verified.claimed_app_key(),
            Some(vector.app_key.as_str()),
            "{}",
            vector.file
        );
    }
}
