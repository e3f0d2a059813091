//! A deliberately broken verifier, to show that these tests catch one.
//!
//! It is the plausible mistake: parse the payload into typed structs (key order right), then
//! re-serialize it with `serde_json` and compute the HMAC over that. It agrees with soketi on
//! plain events and disagrees on hostile client data (`1e21`, `2^64`, a lone surrogate, object
//! keys that `JSON.stringify` orders differently, ...).
//!
//! Set `E2E_BROKEN_VERIFIER=reserialize` when running the tests: every invocation that the
//! harness forwards to the function (replayed vectors, soketi's webhooks through the recording
//! proxy) is first checked with this verifier, and answered with an `InvalidSignature` function
//! error instead of being forwarded when it fails — as a function built on such a verifier
//! would. The tests must then fail.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use soketi_handler_kit::wire::{Secret, Signature};

use crate::lambda::Invocation;

pub const ENV: &str = "E2E_BROKEN_VERIFIER";

/// True when `E2E_BROKEN_VERIFIER=reserialize`.
pub fn enabled() -> bool {
    std::env::var(ENV).is_ok_and(|v| v == "reserialize")
}

#[derive(Deserialize, Serialize)]
struct Payload {
    time_ms: u64,
    events: Vec<Event>,
}

/// Every field of every soketi event, in soketi's key order.
#[derive(Deserialize, Serialize)]
struct Event {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    socket_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subscription_count: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope {
    payload: Payload,
    headers: serde_json::Map<String, Value>,
}

/// The broken check of a Lambda invocation body against `apps` (key, secret).
pub fn check_lambda_body(body: &[u8], apps: &[(&str, &str)]) -> Result<(), String> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("cannot parse: {e}"))?;
    let header = |name: &str| {
        envelope
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    };
    let key = header("X-Pusher-Key").ok_or("no X-Pusher-Key")?;
    let signature = header("X-Pusher-Signature").ok_or("no X-Pusher-Signature")?;
    let signature = Signature::from_hex(signature).map_err(|e| e.to_string())?;
    let secret = apps
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, s)| Secret::new(s))
        .ok_or("unknown app key")?;
    let reserialized = serde_json::to_vec(&envelope.payload).map_err(|e| e.to_string())?;
    if secret.verifies(&reserialized, &signature) {
        Ok(())
    } else {
        Err(format!(
            "signature does not match the re-serialized payload {}",
            String::from_utf8_lossy(&reserialized)
        ))
    }
}

/// What a function with the broken verifier answers when the check fails.
pub fn rejection(reason: &str) -> Invocation {
    let body = serde_json::json!({
        "errorType": "InvalidSignature",
        "errorMessage": format!("({ENV}=reserialize) {reason}"),
    })
    .to_string();
    Invocation {
        status: 500,
        function_error: Some("InvalidSignature".into()),
        body,
    }
}

/// What a naive sender writes: the payload parsed into the typed structs above and printed
/// again with `serde_json` (soketi's key order, but Rust's number and key printing inside
/// client data). Fails where `serde_json` cannot even read the data (a lone surrogate).
pub fn reserialize_payload(payload_json: &str) -> Result<String, String> {
    let payload: Payload = serde_json::from_str(payload_json).map_err(|e| e.to_string())?;
    serde_json::to_string(&payload).map_err(|e| e.to_string())
}
