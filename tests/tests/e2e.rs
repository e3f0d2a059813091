//! End to end (issue 4, item 4): the example function under the real Lambda emulator of
//! `cargo lambda watch`, fed by the sender library (endpoint override) and by the recorded
//! requests of the real soketi 1.6.1.
//!
//! One `cargo lambda watch` serves every test of this binary (`Watch::shared`), with the apps
//! `app1key`/`app1secret` and `app2key`/`app2secret` in `SOKETI_APPS`. Tests run concurrently
//! and tell their log lines apart by channel names of their own.

use soketi_e2e_tests::flog;
use soketi_e2e_tests::lambda::summary_events;
use soketi_e2e_tests::vectors;
use soketi_e2e_tests::watch::Watch;

/// Every recorded soketi request (Lambda invocations as they were; HTTP POSTs wrapped into an
/// envelope with their recorded headers) is verified by the running function, and its summary
/// lists the recorded events in order.
#[test]
fn every_recorded_soketi_request_is_verified_by_the_running_function() {
    let watch = Watch::shared();
    let all = vectors::all();
    assert!(all.iter().any(|v| v.transport == "lambda-invoke"));
    assert!(all.iter().any(|v| v.transport == "http-post"));
    let mut failures = Vec::new();
    for vector in &all {
        let invocation_type = vector
            .invocation_type
            .as_deref()
            .unwrap_or("RequestResponse");
        let outcome = watch.invoke(invocation_type, &vector.lambda_body());
        if outcome.status != 200 || outcome.function_error.is_some() {
            failures.push(format!("{} ({}): {outcome:?}", vector.file, vector.step));
            continue;
        }
        let summary = outcome.summary();
        if summary_events(&summary) != vector.events
            || summary["app_key"] != vector.app_key.as_str()
            || summary["handled"].as_u64().is_none()
        {
            failures.push(format!(
                "{}: summary {summary} does not match the recorded events {:?} of {}",
                vector.file, vector.events, vector.app_key
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} recorded soketi requests were not verified:\n{}\n{}",
        failures.len(),
        all.len(),
        failures.join("\n"),
        watch.log_tail(20)
    );
}

/// The hostile client event of the recordings (emoji, quotes, `</script>`, ... in object
/// data) is dispatched with its data exactly as soketi sent it.
#[test]
fn recorded_client_data_reaches_the_callback_verbatim() {
    let watch = Watch::shared();
    let vector = vectors::all()
        .into_iter()
        .find(|v| v.file == "029.json")
        .expect("029.json is in the manifest");
    let body = vector.lambda_body();
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(envelope["payload"]["events"][0]["channel"], "presence-room");
    let outcome = watch.invoke("RequestResponse", &body);
    let request_id = outcome.summary();
    assert_eq!(summary_events(&request_id), ["client_event"]);
    // The raw data text, cut out of the recorded bytes (not re-serialized).
    let text = String::from_utf8(body).unwrap();
    let start = text.find("\"data\":").unwrap() + "\"data\":".len();
    let end = text.find(",\"socket_id\"").unwrap();
    let raw_data = &text[start..end];
    let logged = flog::dispatched(&watch.function_log());
    assert!(
        logged.iter().any(|d| d.webhook == "client_event"
            && d.channel.as_deref() == Some("presence-room")
            && d.client_event.as_deref() == Some("client-typing")
            && d.user_id.as_deref() == Some("user-2")
            && d.data.as_deref() == Some(raw_data)),
        "no client_event log line with data {raw_data}; dispatch lines: {logged:#?}"
    );
}
