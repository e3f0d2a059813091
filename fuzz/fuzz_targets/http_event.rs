//! Any bytes as the Lambda event of an HTTP request (Function URL, API Gateway, ALB): a
//! response with a status, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_handler_kit::http::{HttpWebhooks, is_http_event};
use soketi_handler_kit_fuzz::{run_ready, webhooks};

fuzz_target!(|event: &[u8]| {
    let http = HttpWebhooks::new(webhooks());
    if is_http_event(event) {
        let response = run_ready(http.handle_event(event, "fuzz"));
        assert!((200..600).contains(&response.status_code()));
    }
});
