//! A table of bad and extreme invocation bodies: each ends in a typed error or a correct
//! result, never a panic, and a rejected body runs no callback.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use soketi_handler_kit::wire::headers::user_agent;
use soketi_handler_kit::wire::{Secret, SignedPayload};
use soketi_handler_kit::{Context, ErrorKind, Keyring, Summary, Verifier, Webhooks};

const KEY: &str = "app1key";
const SECRET: &str = "app1secret";

/// A body whose payload is `payload` verbatim, correctly signed.
fn signed(payload: &str) -> Vec<u8> {
    SignedPayload::new(payload.to_owned(), KEY, &Secret::new(SECRET))
        .lambda_body::<&str, &str>(&user_agent(1), &[])
        .into_bytes()
}

/// A body with the given payload and a raw `headers` object.
fn with_headers(payload: &str, headers: &str) -> Vec<u8> {
    format!(r#"{{"payload":{payload},"headers":{headers}}}"#).into_bytes()
}

fn good_signature(payload: &str) -> String {
    Secret::new(SECRET).sign(payload.as_bytes()).to_string()
}

const P: &str = r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}"#;

enum Expect {
    Rejected(ErrorKind),
    Ok(fn(&Summary)),
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use ErrorKind::*;
    use Expect::*;
    let sig = good_signature(P);
    let deep = format!(
        r#"{{"time_ms":1,"events":[{{"name":"client_event","channel":"c","event":"client-x","data":{}{}}}]}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let big_data = "x".repeat(6 * 1024 * 1024);
    let big = format!(
        r#"{{"time_ms":1,"events":[{{"name":"client_event","channel":"c","event":"client-x","data":"{big_data}"}}]}}"#
    );
    vec![
        ("not JSON", b"hello".to_vec(), Rejected(MalformedEnvelope)),
        ("empty body", Vec::new(), Rejected(MalformedEnvelope)),
        ("invalid UTF-8", b"{\"payload\":\"\xff\"}".to_vec(), Rejected(MalformedEnvelope)),
        ("an array", b"[]".to_vec(), Rejected(MalformedEnvelope)),
        ("no payload", br#"{"headers":{}}"#.to_vec(), Rejected(MalformedEnvelope)),
        ("no headers", format!(r#"{{"payload":{P}}}"#).into_bytes(), Rejected(MalformedEnvelope)),
        ("headers not an object", with_headers(P, "[]"), Rejected(MalformedEnvelope)),
        (
            "payload is a string",
            with_headers(&serde_json::to_string(P).unwrap_or_default(), &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}"}}"#)),
            Rejected(MalformedEnvelope),
        ),
        ("payload is an array", with_headers("[1]", "{}"), Rejected(MalformedEnvelope)),
        (
            "payload given twice",
            format!(r#"{{"payload":{P},"payload":{P},"headers":{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}"}}}}"#).into_bytes(),
            Rejected(MalformedEnvelope),
        ),
        // A member spelled with escapes is the same member to serde_json and `JSON.parse`
        // (which keep the last one): given twice, it is refused, never skipped as unknown.
        (
            "payload given twice, the second escaped",
            format!(r#"{{"payload":{P},"p\u0061yload":{{"time_ms":2,"events":[]}},"headers":{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}"}}}}"#).into_bytes(),
            Rejected(MalformedEnvelope),
        ),
        (
            "headers given twice, the second escaped",
            format!(r#"{{"payload":{P},"headers":{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}"}},"h\u0065aders":{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{}"}}}}"#, "0".repeat(64)).into_bytes(),
            Rejected(MalformedEnvelope),
        ),
        (
            "signed, time_ms given twice, the second escaped",
            signed(r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}],"tim\u0065_ms":2}"#),
            Rejected(MalformedPayload),
        ),
        (
            "signed, events given twice, the second escaped",
            signed(r#"{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}],"\u0065vents":[]}"#),
            Rejected(MalformedPayload),
        ),
        (
            "signature header twice, different case",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}","x-pusher-signature":"{sig}"}}"#)),
            Rejected(MalformedEnvelope),
        ),
        (
            "signature header twice, same case",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}","X-Pusher-Signature":"{sig}"}}"#)),
            Rejected(MalformedEnvelope),
        ),
        (
            "key header twice",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-PUSHER-KEY":"app2key","X-Pusher-Signature":"{sig}"}}"#)),
            Rejected(MalformedEnvelope),
        ),
        (
            "signature not a string",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":12}}"#)),
            Rejected(MalformedEnvelope),
        ),
        ("no signature", with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}"}}"#)), Rejected(MissingSignature)),
        (
            "signature too short",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{}"}}"#, &sig[..63])),
            Rejected(MalformedSignature),
        ),
        (
            "signature too long",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{sig}0"}}"#)),
            Rejected(MalformedSignature),
        ),
        (
            "signature not hex",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{}z"}}"#, &sig[..63])),
            Rejected(MalformedSignature),
        ),
        (
            "signature in uppercase",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{}"}}"#, sig.to_uppercase())),
            Rejected(MalformedSignature),
        ),
        (
            "empty signature",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":""}}"#)),
            Rejected(MalformedSignature),
        ),
        (
            "unknown app key",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"nobody","X-Pusher-Signature":"{sig}"}}"#)),
            Rejected(UnknownAppKey),
        ),
        (
            "no app key",
            with_headers(P, &format!(r#"{{"X-Pusher-Signature":"{sig}"}}"#)),
            Rejected(MissingAppKey),
        ),
        (
            "wrong signature",
            with_headers(P, &format!(r#"{{"X-Pusher-Key":"{KEY}","X-Pusher-Signature":"{}"}}"#, "0".repeat(64))),
            Rejected(InvalidSignature),
        ),
        (
            "lowercase header names and a numeric custom header",
            with_headers(P, &format!(r#"{{"x-custom":5,"x-pusher-key":"{KEY}","x-pusher-signature":"{sig}"}}"#)),
            Ok(|s| assert_eq!(s.handled(), 1)),
        ),
        ("signed, but no time_ms", signed(r#"{"events":[]}"#), Rejected(MalformedPayload)),
        ("signed, time_ms not an integer", signed(r#"{"time_ms":1.5,"events":[]}"#), Rejected(MalformedPayload)),
        ("signed, events not an array", signed(r#"{"time_ms":1,"events":{}}"#), Rejected(MalformedPayload)),
        (
            "signed, empty events",
            signed(r#"{"time_ms":1,"events":[]}"#),
            Ok(|s| {
                assert!(s.events().is_empty());
                assert_eq!(s.handled(), 0);
            }),
        ),
        (
            "signed, unknown event names",
            signed(r#"{"time_ms":1,"events":[{"name":"from_the_future","x":1},{"name":"channel_occupied","channel":"c"}]}"#),
            Ok(|s| {
                assert_eq!(s.events(), ["from_the_future", "channel_occupied"]);
                assert_eq!((s.handled(), s.ignored()), (1, 1));
            }),
        ),
        (
            "signed, an event that is not an object",
            signed(r#"{"time_ms":1,"events":[7,{"name":"channel_occupied","channel":"c"}]}"#),
            Rejected(HandlerFailed),
        ),
        (
            "signed, a known event missing a field",
            signed(r#"{"time_ms":1,"events":[{"name":"member_added","channel":"p"}]}"#),
            Rejected(HandlerFailed),
        ),
        (
            "signed, lone surrogates in data and ids",
            signed(r#"{"time_ms":1,"events":[{"name":"client_event","channel":"c","event":"client-\ud800","data":"\udfff","user_id":"\ud83d"}]}"#),
            Ok(|s| assert_eq!(s.handled(), 0)),
        ),
        ("signed, 6 MB of client data", signed(&big), Ok(|s| assert_eq!(s.events(), ["client_event"]))),
        (
            // Data is kept raw, never parsed into a tree, so depth costs nothing and a validly
            // signed payload is not rejected for what its data holds.
            "signed, 10,000-deep nesting in client data",
            signed(&deep),
            Ok(|s| assert_eq!((s.events().len(), s.ignored()), (1, 1))),
        ),
    ]
}

#[tokio::test]
async fn bad_inputs_end_in_typed_errors_or_correct_results() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let webhooks = Webhooks::new(Verifier::new(Keyring::new().app(KEY, SECRET)))
        .on_channel_occupied(move |_ev, _cx: Context| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
    for (name, body, expect) in cases() {
        let before = calls.load(Ordering::SeqCst);
        let result = common::summary(&webhooks, &body, "req").await;
        match (expect, result) {
            (Expect::Rejected(kind), Err(error)) => {
                assert_eq!(error.kind(), kind, "{name}: {error}");
                assert!(!error.to_string().is_empty(), "{name}");
                if kind != ErrorKind::HandlerFailed {
                    assert_eq!(
                        calls.load(Ordering::SeqCst),
                        before,
                        "{name}: a callback ran"
                    );
                }
            }
            (Expect::Ok(check), Ok(summary)) => check(&summary),
            (Expect::Rejected(kind), Ok(summary)) => {
                panic!("{name}: expected {kind}, got {summary:?}")
            }
            (Expect::Ok(_), Err(error)) => panic!("{name}: expected success, got {error}"),
        }
    }
}

/// A key header is not covered by the signature: whatever it holds, the message that quotes it
/// stays one short line.
#[test]
fn request_text_in_messages_is_bounded_and_escaped() {
    let verifier = Verifier::new(Keyring::new().app(KEY, SECRET));
    let sig = good_signature(P);
    let forged_key = format!("x\nERROR forged log line{}", "k".repeat(1 << 20));
    let body = with_headers(
        P,
        &format!(
            r#"{{"X-Pusher-Key":{},"X-Pusher-Signature":"{sig}"}}"#,
            serde_json::to_string(&forged_key).unwrap_or_default()
        ),
    );
    let error = verifier.verify_lambda_body(&body).expect_err("unknown key");
    assert_eq!(error.kind(), ErrorKind::UnknownAppKey);
    let message = error.to_string();
    assert!(message.len() < 300, "{} bytes", message.len());
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("x\\nERROR forged"), "{message}");
}
