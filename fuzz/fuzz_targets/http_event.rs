//! Any bytes as the Lambda event of an HTTP request (Function URL, API Gateway, ALB): through
//! the dispatcher `run` serves, a response with a status, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_handler_kit::InvocationResponse;
use soketi_handler_kit_fuzz::{run_ready, webhooks};

fuzz_target!(|event: &[u8]| {
    if let Ok(InvocationResponse::Http(response)) =
        run_ready(webhooks().verify_and_receive(event, "fuzz"))
    {
        assert!((200..600).contains(&response.status_code()));
    }
});
