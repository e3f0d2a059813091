//! Interop (issue 9): webhooks in the shape Pusher Channels sends, signed by the official
//! `pusher` npm package's own signer (`tests/interop/pusher_webhook.mjs`), POSTed to the example
//! function's Function URL under `cargo lambda watch`: each is answered 200 with its events, and
//! the callbacks log the fields Pusher sent (client data as the JSON string Pusher uses).

use std::time::Duration;

use serde_json::Value;
use soketi_e2e_tests::flog;
use soketi_e2e_tests::function_url;
use soketi_e2e_tests::soketi::run_node_script;
use soketi_e2e_tests::tools::run_dir;
use soketi_e2e_tests::watch::Watch;

#[test]
fn pusher_shaped_webhooks_signed_by_the_pusher_package_are_accepted() {
    let watch = Watch::shared();
    let prefix = "pusher-shape-";
    let out = run_dir().join("pusher-webhook.json");
    let args = serde_json::json!({
        "url": function_url::url(watch, "webhooks"),
        "key": "app1key",
        "secret": "app1secret",
        "prefix": prefix,
    });
    run_node_script(
        "pusher-webhook",
        "pusher_webhook.mjs",
        &[args.to_string(), out.display().to_string()],
        Duration::from_secs(120),
    );
    let results: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("results")).expect("JSON");
    assert_eq!(results.len(), 5, "{results:#?}");
    for result in &results {
        assert_eq!(result["status"], 200, "{result:#}\n{}", watch.log_tail(10));
        let summary: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
        assert_eq!(summary["events"], result["events"], "{result:#}");
        assert_eq!(summary["app_key"], "app1key");
    }
    let logged: Vec<flog::Dispatched> = flog::dispatched(&watch.function_log())
        .into_iter()
        .filter(|d| d.channel.as_deref().is_some_and(|c| c.contains(prefix)))
        .collect();
    let room = format!("presence-{prefix}room");
    let line = |webhook: &str| {
        logged
            .iter()
            .find(|d| d.webhook == webhook && d.channel.as_deref() == Some(room.as_str()))
            .unwrap_or_else(|| panic!("no {webhook} line on {room}: {logged:#?}"))
    };
    assert_eq!(line("member_added").user_id.as_deref(), Some("user-1"));
    let client = line("client_event");
    assert_eq!(client.client_event.as_deref(), Some("client-message"));
    // The data exactly as Pusher sent it: a JSON-encoded string, cut out of the signed body.
    let sent = results[2]["sent"].as_str().unwrap();
    let start = sent.find("\"data\":").unwrap() + "\"data\":".len();
    let end = sent.find(",\"socket_id\"").unwrap();
    assert_eq!(client.data.as_deref(), Some(&sent[start..end]));
    line("member_removed");
    line("channel_vacated");
    // Handled: occupied, added, client event, removed, vacated (no callbacks for the others).
    assert_eq!(logged.len(), 5, "{logged:#?}");
}
