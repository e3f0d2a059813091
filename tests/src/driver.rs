//! What `tests/interop/driver.mjs` says soketi must send, and the events of a payload, both as
//! [`Ev`]s to compare.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use soketi_handler_kit::wire::ReceivedPayload;

/// One webhook event, compared as soketi's JSON texts: `user_id` and `data` are raw JSON.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ev {
    pub name: String,
    pub channel: String,
    pub user_id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub socket_id: Option<String>,
}

/// The events the driver says soketi must send (its output file).
pub fn expected_events(path: &std::path::Path) -> Vec<Ev> {
    let text = std::fs::read_to_string(path).expect("driver output");
    let doc: Value = serde_json::from_str(&text).expect("driver output is JSON");
    let string = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    doc["expected"]
        .as_array()
        .expect("expected list")
        .iter()
        .map(|e| Ev {
            name: string(e, "name").unwrap(),
            channel: string(e, "channel").unwrap(),
            // Strings and small integers print alike in serde_json and JSON.stringify.
            user_id: e.get("user_id").map(Value::to_string),
            event: string(e, "event"),
            data: string(e, "data"),
            socket_id: string(e, "socket_id"),
        })
        .collect()
}

/// The events of a payload, read from its raw bytes.
pub fn payload_events(json: &str) -> Vec<Ev> {
    let payload = ReceivedPayload::parse(json).expect("payload");
    payload
        .raw_events()
        .iter()
        .map(|raw| {
            let fields: BTreeMap<String, Box<RawValue>> =
                serde_json::from_str(raw.get()).expect("event object");
            let text = |k: &str| {
                fields
                    .get(k)
                    .map(|v| serde_json::from_str::<String>(v.get()).expect("a string field"))
            };
            let raw_text = |k: &str| fields.get(k).map(|v| v.get().to_string());
            Ev {
                name: text("name").unwrap(),
                channel: text("channel").unwrap(),
                user_id: raw_text("user_id"),
                event: text("event"),
                data: raw_text("data"),
                socket_id: text("socket_id"),
            }
        })
        .collect()
}

pub fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort();
    items
}
