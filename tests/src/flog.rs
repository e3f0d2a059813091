//! The example function's log, read back: with `AWS_LAMBDA_LOG_FORMAT=JSON` lambda_runtime
//! writes one JSON object per line, e.g.
//! `{"level":"INFO","fields":{"message":"c is now occupied.","webhook":"channel_occupied","channel":"c"},"span":{"requestId":"…",…}}`.
//! The function logs one such line per dispatched event, with the structured fields `webhook`
//! (the event name), `channel`, `user_id`, `client_event` and `data` (the raw JSON text of the
//! client data) where they apply.

use serde_json::Value;

/// One dispatched event as the function logged it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dispatched {
    pub webhook: String,
    pub channel: Option<String>,
    /// As text whether the function logged a string or a number.
    pub user_id: Option<String>,
    pub client_event: Option<String>,
    /// The raw JSON text of client data; `None` when the event had none.
    pub data: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        // The example function logs absent values as empty strings.
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The dispatch lines (those with a `webhook` field) of a list of JSON log lines, in order.
pub fn dispatched(lines: &[Value]) -> Vec<Dispatched> {
    lines
        .iter()
        .filter_map(|line| {
            let fields = line.get("fields")?;
            let webhook = fields.get("webhook")?.as_str()?.to_string();
            Some(Dispatched {
                webhook,
                channel: text(fields.get("channel")),
                user_id: text(fields.get("user_id")),
                client_event: text(fields.get("client_event")),
                data: text(fields.get("data")),
                message: text(fields.get("message")).unwrap_or_default(),
                request_id: text(line.get("span").and_then(|s| s.get("requestId"))),
            })
        })
        .collect()
}
