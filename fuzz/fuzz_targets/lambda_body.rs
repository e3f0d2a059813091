//! Any bytes as a Lambda invocation body: a result or a typed error, never a panic; what
//! verifies decodes to events whose JSON reads back and prints the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_handler_kit::ErrorKind;
use soketi_handler_kit_fuzz::{run_ready, webhooks};

fuzz_target!(|body: &[u8]| {
    let webhooks = webhooks();
    if let Err(error) = run_ready(webhooks.verify_and_receive(body, "fuzz")) {
        // A failure of the round-trip check inside the callback is a bug, not an input error.
        if error.kind() == ErrorKind::HandlerFailed {
            assert!(!error.to_string().contains("reads back as"), "{error}");
        }
        assert!(!error.to_string().is_empty());
    }
});
