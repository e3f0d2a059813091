//! Any bytes as a payload, correctly signed: the fuzzer gets past the HMAC and explores what
//! happens after it (payload shape, event decoding, dispatch).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_handler_kit::ErrorKind;
use soketi_handler_kit::wire::headers::user_agent;
use soketi_handler_kit::wire::{Secret, SignedPayload};
use soketi_handler_kit_fuzz::{KEY, SECRET, run_ready, webhooks};

fuzz_target!(|payload: &[u8]| {
    // The envelope carries the payload as JSON text: only UTF-8 payloads can be sent.
    let Ok(payload) = std::str::from_utf8(payload) else {
        return;
    };
    // Whitespace around a value belongs to the envelope, not to the payload's bytes (soketi
    // writes none): a payload that starts or ends with it cannot travel in an envelope.
    let payload = payload.trim_matches([' ', '\t', '\n', '\r']);
    let body = SignedPayload::new(payload.to_owned(), KEY, &Secret::new(SECRET))
        .lambda_body::<&str, &str>(&user_agent(1), &[]);
    match run_ready(webhooks().verify_and_receive(body.as_bytes(), "fuzz")) {
        Ok(_) => {}
        Err(error) => {
            // Signed with the right secret: never a signature or key problem, unless the text
            // is not one JSON value. Then the envelope built around it reads differently (text
            // after a first value becomes members of the envelope), the payload the kit finds
            // is not the text that was signed, and it must be rejected.
            if matches!(
                error.kind(),
                ErrorKind::InvalidSignature
                    | ErrorKind::UnknownAppKey
                    | ErrorKind::MissingSignature
            ) {
                assert!(
                    serde_json::from_str::<serde::de::IgnoredAny>(payload).is_err(),
                    "{error}"
                );
            }
            assert!(!error.to_string().contains("reads back as"), "{error}");
        }
    }
});
