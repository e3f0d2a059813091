//! No secret ever appears in what the kit prints: every log line at every level while
//! verifying good and bad webhooks, and the `Debug` and `Display` of every value that holds or
//! meets a secret. Each rejection is logged once: an HTTP one by the kit (its answer is no
//! function error), an envelope's by lambda_runtime, from the error the kit returns.

use std::io::Write;
use std::sync::{Arc, Mutex};

use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{Envelope, Event, Secret};
use soketi_handler_kit::{Context, Keyring, Webhooks};

const SECRET: &str = "s3cr3t-marker-current";
const PREVIOUS: &str = "s3cr3t-marker-previous";
const OTHER: &str = "s3cr3t-marker-other-app";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SECRET, PREVIOUS, OTHER, "s3cr3t"] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[tokio::test]
async fn logs_and_debug_output_never_show_a_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = |name: &str| match name {
        "SOKETI_APP_SECRETS" => Some(format!(
            r#"{{"app1key":["{SECRET}","{PREVIOUS}"],"app2key":"{OTHER}"}}"#
        )),
        _ => None,
    };
    let verifier = Webhooks::from_lookup(env)
        .await
        .expect("configured")
        .verifier()
        .clone();
    let webhooks = Webhooks::new(verifier.clone())
        .on_channel_occupied(|_ev, _cx: Context| async { Err("the callback failed".into()) })
        .on_member_added(|_ev, _cx: Context| async { panic!("a callback panicked") });

    let good = SignedEnvelope::new("app1key", SECRET)
        .event(Event::channel_occupied("c"))
        .event(Event::member_added("presence-c", "u"))
        .to_bytes();
    let previous = SignedEnvelope::new("app1key", PREVIOUS)
        .event(Event::cache_miss("c"))
        .to_bytes();
    let wrong_app = SignedEnvelope::new("app2key", SECRET)
        .event(Event::cache_miss("c"))
        .to_bytes();
    let unknown_app = SignedEnvelope::new("nobody", SECRET)
        .event(Event::cache_miss("c"))
        .to_bytes();
    let mut outputs = Vec::new();
    for (name, body) in [
        ("good", &good),
        ("previous", &previous),
        ("wrong app", &wrong_app),
        ("unknown app", &unknown_app),
    ] {
        match webhooks.verify_and_receive(body, "req").await {
            Ok(response) => outputs.push((
                name,
                format!(
                    "{response:?} {}",
                    serde_json::to_string(&response).unwrap_or_default()
                ),
            )),
            Err(error) => outputs.push((name, format!("{error:?} {error}"))),
        }
        if let Ok(envelope) = Envelope::parse(body) {
            outputs.push((name, format!("{envelope:?} {:?}", envelope.headers())));
        }
    }
    outputs.push(("verifier", format!("{verifier:?}")));
    outputs.push(("keyring", format!("{:?}", verifier.keyring())));
    outputs.push(("webhooks", format!("{webhooks:?}")));
    outputs.push(("secret", format!("{:?}", Secret::new(SECRET))));
    outputs.push((
        "single secret",
        format!("{:?}", Keyring::single_secret(SECRET).also_secret(PREVIOUS)),
    ));
    // A secret given where the apps object belongs, and one in an app-key position.
    for apps in [
        format!(r#""{SECRET}""#),
        format!(r#"{{"app1key":["{SECRET}",5]}}"#),
    ] {
        let error = Keyring::from_app_secrets_json(&apps).expect_err("misshapen");
        outputs.push(("config error", format!("{error:?} {error}")));
    }

    for (what, text) in &outputs {
        assert_no_secret(what, text);
    }
    let logs = String::from_utf8(captured.0.lock().expect("log").clone()).expect("UTF-8 logs");
    assert!(
        !logs.contains("webhook rejected"),
        "a rejected envelope is the function error lambda_runtime logs, not logged twice: {logs}"
    );
    #[cfg(feature = "http")]
    {
        let forged = SignedEnvelope::new("app2key", SECRET)
            .event(Event::cache_miss("c"))
            .to_function_url_event();
        let response = webhooks
            .verify_and_receive(&forged, "http-req")
            .await
            .expect("answered");
        outputs.push(("http answer", format!("{response:?}")));
        let logs = String::from_utf8(captured.0.lock().expect("log").clone()).expect("UTF-8");
        assert_eq!(
            logs.matches("webhook request rejected").count(),
            1,
            "an HTTP rejection is logged once, by the kit: {logs}"
        );
        assert_no_secret("the HTTP answer", &format!("{response:?}"));
    }
    assert!(
        logs.contains("callback panicked"),
        "the failures were logged: {logs}"
    );
    assert_no_secret("the log", &logs);
}
