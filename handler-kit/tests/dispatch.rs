//! Dispatch: order, context, failures aggregated without stopping other events, hooks, the
//! Lambda context reaching callbacks, configuration from the environment and the opt-in
//! maximum age.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::summary;
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};
use soketi_handler_kit::{
    CallbackResult, Context, Error, ErrorKind, FailureCause, Invocation, Keyring, Verifier,
    Webhooks,
};

type Log = Arc<Mutex<Vec<String>>>;

fn webhooks(log: &Log) -> Webhooks {
    let (a, b, c, d, e, f) = (
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
        log.clone(),
    );
    Webhooks::new(Verifier::new(Keyring::new().app("k", "s")))
        .on_any(move |ev: Event, cx: Context| {
            let log = a.clone();
            async move {
                log.lock()
                    .expect("log")
                    .push(format!("any#{} {}", cx.event_index(), ev.name()));
                Ok(())
            }
        })
        .on_channel_occupied(move |ev, cx: Context| {
            let log = b.clone();
            async move {
                log.lock().expect("log").push(format!(
                    "occupied {} key={:?} time={} req={} {}/{}",
                    ev.channel,
                    cx.app_key(),
                    cx.time_ms(),
                    cx.request_id(),
                    cx.event_index(),
                    cx.event_count()
                ));
                Ok(())
            }
        })
        .on_member_added(move |ev, _cx| {
            let log = c.clone();
            async move {
                log.lock()
                    .expect("log")
                    .push(format!("added {}", ev.user_id));
                if ev.user_id.to_string() == "bad" {
                    return Err("member store unavailable".into());
                }
                Ok(())
            }
        })
        .on_client_event(move |ev: ClientEvent, _cx| {
            let log = d.clone();
            async move {
                let n: u32 = ev.data_as()?;
                log.lock().expect("log").push(format!("client {n}"));
                Ok(())
            }
        })
        .on_unknown(move |ev, _cx| {
            let log = e.clone();
            async move {
                log.lock()
                    .expect("log")
                    .push(format!("unknown {} {}", ev.name, ev.as_json()));
                Ok(())
            }
        })
        .on_error(move |failure, cx| {
            assert!(!failure.name().is_empty());
            f.lock()
                .expect("log")
                .push(format!("error#{}", cx.event_index()));
        })
}

#[tokio::test]
async fn events_run_in_payload_order_with_their_context() {
    let log = Log::default();
    let body = SignedEnvelope::new("k", "s")
        .time_ms(1234)
        .event(Event::member_added("p", "u1"))
        .event(Event::channel_occupied("c"))
        .event(ClientEvent::new("c", "client-n").with_data(ClientData::string("7")))
        .event(
            soketi_handler_kit::wire::UnknownEvent::from_json(r#"{"name":"later","v":2}"#)
                .expect("json"),
        )
        .event(Event::channel_vacated("c"))
        .to_bytes();
    let summary = summary(&webhooks(&log), &body, "req-9")
        .await
        .expect("handled");
    assert_eq!(
        *log.lock().expect("log"),
        [
            "any#0 member_added",
            "added u1",
            "any#1 channel_occupied",
            "occupied c key=Some(\"k\") time=1234 req=req-9 1/5",
            "any#2 client_event",
            "client 7",
            "any#3 later",
            r#"unknown later {"name":"later","v":2}"#,
            "any#4 channel_vacated",
        ]
    );
    assert_eq!(summary.handled(), 5, "on_any counts as handling");
    assert_eq!(summary.app_key(), Some("k"));
    assert_eq!(summary.time_ms(), 1234);
}

#[tokio::test]
async fn failures_do_not_stop_the_other_events_and_are_reported_together() {
    let log = Log::default();
    let body = SignedEnvelope::new("k", "s")
        .event(Event::member_added("p", "bad"))
        .event(Event::channel_occupied("c"))
        .event(ClientEvent::new("c", "client-n").with_data(ClientData::string("not a number")))
        .event(Event::member_added("p", "good"))
        .to_bytes();
    let error = summary(&webhooks(&log), &body, "r")
        .await
        .expect_err("two events fail");
    assert_eq!(error.kind(), ErrorKind::HandlerFailed);
    let message = error.to_string();
    assert!(
        message.starts_with("2 of 4 webhook events failed"),
        "{message}"
    );
    assert!(
        message.contains("#0 member_added: callback failed: member store unavailable"),
        "{message}"
    );
    assert!(message.contains("#2 client_event"), "{message}");
    let log = log.lock().expect("log");
    assert!(
        log.contains(&"added good".to_owned()),
        "later events still ran: {log:?}"
    );
    assert!(
        log.contains(&"error#0".to_owned()) && log.contains(&"error#2".to_owned()),
        "{log:?}"
    );
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "HandlerFailed");
}

/// What a custom runtime gets: the summary, or a function error with its stable kind and a
/// message saying what was wrong.
#[tokio::test]
async fn an_envelope_answers_the_summary_or_a_typed_function_error() {
    let log = Log::default();
    let webhooks = webhooks(&log);
    let body = SignedEnvelope::new("k", "s")
        .time_ms(5)
        .event(Event::channel_occupied("c"))
        .to_bytes();
    let response = webhooks
        .verify_and_receive(&body, "req-1")
        .await
        .expect("handled");
    assert_eq!(
        serde_json::to_value(&response).expect("summary JSON"),
        serde_json::json!({"app_key":"k","time_ms":5,"events":["channel_occupied"],"handled":1,"ignored":0})
    );
    let forged = SignedEnvelope::new("k", "wrong")
        .event(Event::channel_occupied("c"))
        .to_bytes();
    let error = webhooks
        .verify_and_receive(&forged, "req-2")
        .await
        .expect_err("rejected");
    assert_eq!(
        format!("{error:?}"),
        error.to_string(),
        "Debug says what Display says"
    );
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "InvalidSignature");
    assert!(
        diagnostic.error_message.contains("does not match"),
        "{}",
        diagnostic.error_message
    );
}

/// A Lambda context given to `verify_and_receive` (what `run` does, and a custom runtime) is
/// what the callbacks see: deadline, request id, ARN.
#[tokio::test]
async fn callbacks_see_the_lambda_context_they_were_invoked_with() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let webhooks = Webhooks::new(Verifier::new(Keyring::new().app("k", "s"))).on_any(
        move |_ev: Event, cx: Context| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().expect("seen").push((
                    cx.deadline(),
                    cx.request_id().to_owned(),
                    cx.invoked_function_arn().map(str::to_owned),
                ));
                Ok(())
            }
        },
    );
    let body = SignedEnvelope::new("k", "s")
        .event(Event::channel_occupied("c"))
        .to_bytes();
    let mut context = lambda_runtime::Context::default();
    context.request_id = "lambda-req".into();
    context.deadline = 1_900_000_000_123;
    context.invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:f".into();
    webhooks
        .verify_and_receive(&body, context)
        .await
        .expect("handled");
    webhooks
        .verify_and_receive(&body, "outside-lambda")
        .await
        .expect("handled");
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(1_900_000_000_123);
    assert_eq!(
        *seen.lock().expect("seen"),
        [
            (
                Some(deadline),
                "lambda-req".to_owned(),
                Some("arn:aws:lambda:eu-central-1:123456789012:function:f".to_owned())
            ),
            (None, "outside-lambda".to_owned(), None),
        ]
    );
    let _: Invocation = "typed".into();
}

#[test]
fn the_router_is_cheap_to_share_across_threads() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<Webhooks>();
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[tokio::test]
async fn configuration_from_the_environment() {
    let body = |key: &str, secret: &str| {
        SignedEnvelope::new(key, secret)
            .event(Event::channel_occupied("c"))
            .to_bytes()
    };
    let verifier = async |vars: &[(&str, &str)]| {
        Webhooks::from_lookup(env(vars))
            .await
            .map(|webhooks| webhooks.verifier().clone())
    };
    let accepts = async |vars: &[(&str, &str)], key: &str, secret: &str| {
        verifier(vars)
            .await
            .expect("config")
            .verify_lambda_body(&body(key, secret))
            .is_ok()
    };
    // Single secret: any key.
    assert!(accepts(&[("SOKETI_SECRET", "s")], "whatever", "s").await);
    // With an app key, other keys are refused; the previous secret still verifies.
    let rotating = [
        ("SOKETI_SECRET", "new"),
        ("SOKETI_APP_KEY", "k"),
        ("SOKETI_PREVIOUS_SECRET", "old"),
    ];
    assert!(accepts(&rotating, "k", "new").await);
    assert!(accepts(&rotating, "k", "old").await);
    assert!(!accepts(&rotating, "other", "new").await);
    assert!(!accepts(&rotating, "k", "neither").await);
    // Several apps.
    let apps = [("SOKETI_APP_SECRETS", r#"{"a":"sa","b":["sb2","sb1"]}"#)];
    assert!(accepts(&apps, "a", "sa").await);
    assert!(accepts(&apps, "b", "sb1").await);
    assert!(!accepts(&apps, "a", "sb1").await);
    // Whitespace is not a value: such a variable is not set.
    assert!(
        accepts(
            &[("SOKETI_SECRET", "s"), ("SOKETI_APP_KEY", "  ")],
            "any",
            "s"
        )
        .await
    );

    let error = async |vars: &[(&str, &str)]| verifier(vars).await.expect_err("bad config");
    // The old name of SOKETI_APP_SECRETS fails the start, saying so.
    let renamed = error(&[("SOKETI_APPS", r#"{"a":"sa"}"#)]).await;
    assert_eq!(renamed.source_name(), "SOKETI_APPS");
    assert!(
        renamed
            .to_string()
            .contains("renamed to SOKETI_APP_SECRETS"),
        "{renamed}"
    );
    let missing = error(&[]).await;
    assert_eq!(missing.source_name(), "SOKETI_SECRET");
    assert!(
        missing.to_string().contains("SOKETI_SECRET is not set"),
        "{missing}"
    );
    let both = error(&[
        ("SOKETI_APP_SECRETS", r#"{"a":"s"}"#),
        ("SOKETI_SECRET", "s"),
    ])
    .await;
    assert!(
        both.to_string()
            .contains("either SOKETI_APP_SECRETS or SOKETI_SECRET"),
        "{both}"
    );
    let bad_json = error(&[("SOKETI_APP_SECRETS", "a=s")]).await;
    assert_eq!(bad_json.source_name(), "SOKETI_APP_SECRETS");
    let empty_secret = error(&[("SOKETI_APP_SECRETS", r#"{"a":""}"#)]).await;
    assert!(
        empty_secret.to_string().contains("app `a`"),
        "{empty_secret}"
    );
    // A store or a table this build has no feature for is refused, naming the feature; a
    // store conflicts with the secret variables and with the other store.
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s";
    if !cfg!(feature = "secrets-manager") {
        let store = error(&[("SOKETI_SECRET_ARN", arn)]).await;
        assert_eq!(store.source_name(), "SOKETI_SECRET_ARN");
        assert!(
            store.to_string().contains("feature `secrets-manager`"),
            "{store}"
        );
    }
    if !cfg!(feature = "ssm") {
        let param = error(&[("SOKETI_SECRET_PARAMETER", "/soketi/secret")]).await;
        assert_eq!(param.source_name(), "SOKETI_SECRET_PARAMETER");
        assert!(param.to_string().contains("feature `ssm`"), "{param}");
    }
    if !cfg!(feature = "idempotency-dynamodb") {
        let table = error(&[("SOKETI_SECRET", "s"), ("SOKETI_IDEMPOTENCY_TABLE", "t")]).await;
        assert_eq!(table.source_name(), "SOKETI_IDEMPOTENCY_TABLE");
        assert!(
            table.to_string().contains("feature `idempotency-dynamodb`"),
            "{table}"
        );
    }
    let conflict = error(&[("SOKETI_SECRET_ARN", arn), ("SOKETI_SECRET", "s")]).await;
    assert!(
        conflict
            .to_string()
            .contains("either SOKETI_SECRET_ARN or SOKETI_SECRET"),
        "{conflict}"
    );
    let two_stores = error(&[
        ("SOKETI_SECRET_ARN", arn),
        ("SOKETI_SECRET_PARAMETER", "/soketi/secret"),
    ])
    .await;
    assert!(two_stores.to_string().contains("not both"), "{two_stores}");
    let bad_age = error(&[("SOKETI_SECRET", "s"), ("SOKETI_MAX_AGE_SECONDS", "soon")]).await;
    assert_eq!(bad_age.source_name(), "SOKETI_MAX_AGE_SECONDS");
    // Debug output never shows a secret; a start-up error's Debug is its message.
    assert_eq!(format!("{bad_age:?}"), bad_age.to_string());
    let verifier = verifier(&rotating).await.expect("config");
    let debug = format!("{verifier:?} {:?}", verifier.keyring());
    assert!(!debug.contains("new") && !debug.contains("old"), "{debug}");
}

#[tokio::test]
async fn maximum_age_is_opt_in_and_uses_the_injected_clock() {
    let body = SignedEnvelope::new("k", "s")
        .time_ms(1_000_000)
        .event(Event::channel_occupied("c"))
        .to_bytes();
    let keyring = Keyring::single_secret("s");
    // No window by default: an hours-old retry still verifies.
    let no_window = Verifier::new(keyring.clone()).clock(|| 1_000_000 + 6 * 3600 * 1000);
    assert!(no_window.verify_lambda_body(&body).is_ok());
    let windowed = |now: u64| {
        Verifier::new(keyring.clone())
            .max_age(Duration::from_secs(60))
            .clock(move || now)
            .verify_lambda_body(&body)
            .map(|_| ())
            .map_err(|e| e.kind())
    };
    assert_eq!(windowed(1_000_000 + 60_000), Ok(()));
    assert_eq!(
        windowed(1_000_000 - 5_000),
        Ok(()),
        "clock skew is not an age"
    );
    assert_eq!(windowed(1_000_000 + 60_001), Err(ErrorKind::Expired));
    // Stamped in the future: five minutes of skew pass, more do not (with a window only).
    assert_eq!(windowed(1_000_000 - 300_000), Ok(()));
    assert_eq!(windowed(1_000_000 - 300_001), Err(ErrorKind::Expired));
    assert!(
        no_window
            .clone()
            .clock(|| 0)
            .verify_lambda_body(&body)
            .is_ok()
    );
    let from_env = Webhooks::from_lookup(env(&[
        ("SOKETI_SECRET", "s"),
        ("SOKETI_MAX_AGE_SECONDS", "1"),
    ]))
    .await
    .expect("config")
    .verifier()
    .clone()
    .clock(|| 1_002_000);
    assert_eq!(
        from_env
            .verify_lambda_body(&body)
            .map(|_| ())
            .map_err(|e| e.kind()),
        Err(ErrorKind::Expired)
    );
}

#[tokio::test]
async fn a_panicking_callback_fails_its_event_and_the_others_still_run() {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&ran);
    let webhooks = Webhooks::new(Verifier::new(Keyring::new().app("k", "s")))
        .on_channel_occupied(
            |ev: soketi_handler_kit::wire::ChannelOccupied, _cx: Context| async move {
                if ev.channel == "boom" {
                    panic!("callback exploded on {}", ev.channel);
                }
                Ok(())
            },
        )
        .on_channel_vacated(move |ev, _cx: Context| {
            let log = Arc::clone(&log);
            async move {
                log.lock().expect("log").push(ev.channel);
                Ok(())
            }
        });
    let body = SignedEnvelope::new("k", "s")
        .event(Event::channel_occupied("boom"))
        .event(Event::channel_vacated("after"))
        .to_bytes();
    let error = summary(&webhooks, &body, "req")
        .await
        .expect_err("one event failed");
    assert_eq!(error.kind(), ErrorKind::HandlerFailed);
    assert_eq!(
        *ran.lock().expect("log"),
        ["after"],
        "the next event still ran"
    );
    let Error::HandlerFailed(failures) = error else {
        panic!("not HandlerFailed: {error}")
    };
    assert_eq!(failures.failures().len(), 1);
    assert_eq!(failures.failures()[0].index(), 0);
    assert!(
        matches!(failures.failures()[0].cause(), FailureCause::Panicked(message) if message.contains("exploded on boom")),
        "{failures}"
    );
}

#[tokio::test]
async fn a_callback_panicking_before_its_future_fails_its_event_alone() {
    fn explode(
        _: soketi_handler_kit::wire::ChannelOccupied,
        _: Context,
    ) -> std::future::Ready<CallbackResult> {
        panic!("exploded before any future")
    }
    let body = SignedEnvelope::new("k", "s")
        .event(Event::channel_occupied("boom"))
        .event(Event::channel_vacated("after"))
        .to_bytes();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&ran);
    let alone = Webhooks::new(Verifier::new(Keyring::new().app("k", "s")))
        .on_channel_occupied(explode)
        .on_channel_vacated(move |ev, _cx: Context| {
            let log = Arc::clone(&log);
            async move {
                log.lock().expect("log").push(ev.channel);
                Ok(())
            }
        });
    // One callback for the event, then the same after an `on_any` one (the other way in).
    let after_any = alone.clone().on_any(|_ev, _cx: Context| async { Ok(()) });
    for (webhooks, runs) in [(alone, 1), (after_any, 2)] {
        let error = summary(&webhooks, &body, "req")
            .await
            .expect_err("one event failed");
        let Error::HandlerFailed(failures) = error else {
            panic!("not HandlerFailed: {error}")
        };
        assert_eq!(failures.failures().len(), 1, "{failures}");
        assert_eq!(failures.failures()[0].index(), 0);
        assert!(
            matches!(failures.failures()[0].cause(), FailureCause::Panicked(message) if message.contains("before any future")),
            "{failures}"
        );
        assert_eq!(
            ran.lock().expect("log").len(),
            runs,
            "the next event still ran"
        );
    }
}
