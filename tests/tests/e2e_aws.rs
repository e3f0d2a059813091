//! End to end with the AWS stores: the example function under `cargo lambda watch`, its AWS
//! SDK pointed at a moto server these tests start (`AWS_ENDPOINT_URL`, fake credentials).
//!
//! - a Secrets Manager secret rotated while the function runs: after each `PutSecretValue`
//!   (the new value becomes `AWSCURRENT`, the old one `AWSPREVIOUS`), webhooks signed with
//!   either verify; after the next one, the secret that left `AWSPREVIOUS` is rejected;
//! - an SSM SecureString read at start, and the same Event invocation delivered twice with
//!   `SOKETI_IDEMPOTENCY_TABLE` set: the callbacks run once, the second is counted skipped.
//!
//! Concurrent deliveries racing on the table are in `aws_moto.rs` (in-process, so that they
//! truly overlap).

use soketi_e2e_tests::flog;
use soketi_e2e_tests::lambda::summary_events;
use soketi_e2e_tests::moto::{Moto, create_idempotency_table, unique};
use soketi_e2e_tests::watch::Watch;
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::Event;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Starts the function with moto's endpoint and `vars`.
fn watch(name: &str, vars: &[(&str, String)]) -> Watch {
    let mut env = Moto::shared().function_env();
    env.extend(vars.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Watch::start(name, &env)
}

fn body(secret: &str, channel: &str) -> Vec<u8> {
    SignedEnvelope::new("app1key", secret)
        .event(Event::channel_occupied(channel))
        .to_bytes()
}

#[test]
fn a_secrets_manager_rotation_is_picked_up_while_the_function_runs() {
    let rt = runtime();
    let aws = rt.block_on(Moto::shared().sdk_config());
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let name = unique("soketi-rotating");
    let arn = rt
        .block_on(
            secrets
                .create_secret()
                .name(&name)
                .secret_string("v1")
                .send(),
        )
        .expect("create secret")
        .arn()
        .expect("an ARN")
        .to_owned();
    // Re-read only on a mismatch (every time, here), never because of age: what is shown is
    // the mismatch path picking the rotation up.
    let watch = watch(
        "rotation",
        &[
            ("SOKETI_SECRET_ARN", arn.clone()),
            ("SOKETI_APP_KEY", "app1key".into()),
            ("SOKETI_SECRET_REFRESH_SECONDS", "3600".into()),
            ("SOKETI_SECRET_MISMATCH_REFRESH_SECONDS", "0".into()),
        ],
    );
    let verifies = |secret: &str, channel: &str| {
        let outcome = watch.invoke("RequestResponse", &body(secret, channel));
        match outcome.function_error.as_deref() {
            None => {
                assert_eq!(summary_events(&outcome.summary()), ["channel_occupied"]);
                true
            }
            Some("InvalidSignature") => false,
            Some(other) => panic!("{other}: {outcome:?}\n{}", watch.log_tail(20)),
        }
    };
    let rotate = |value: &str| {
        rt.block_on(
            secrets
                .put_secret_value()
                .secret_id(&arn)
                .secret_string(value)
                .send(),
        )
        .expect("put secret value");
    };
    assert!(verifies("v1", "rot-1"), "{}", watch.log_tail(20));
    assert!(!verifies("v2", "rot-2"), "not yet rotated");
    rotate("v2");
    assert!(verifies("v2", "rot-3"), "the new AWSCURRENT verifies");
    assert!(verifies("v1", "rot-4"), "AWSPREVIOUS still verifies");
    rotate("v3");
    assert!(verifies("v3", "rot-5"), "the next AWSCURRENT verifies");
    assert!(verifies("v2", "rot-6"), "the new AWSPREVIOUS verifies");
    assert!(
        !verifies("v1", "rot-7"),
        "v1 is no version any more: rejected"
    );
    let log = watch.log_tail(200);
    assert!(
        !log.contains("v1\"") && !log.contains("v2\"") && !log.contains("v3\""),
        "a secret reached the log:\n{log}"
    );
}

#[test]
fn an_event_invocation_delivered_twice_runs_its_callbacks_once() {
    let rt = runtime();
    let aws = rt.block_on(Moto::shared().sdk_config());
    let parameter = format!("/{}", unique("soketi/e2e"));
    rt.block_on(
        aws_sdk_ssm::Client::new(&aws)
            .put_parameter()
            .name(&parameter)
            .value("ssm-secret")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send(),
    )
    .expect("put parameter");
    let table = unique("soketi-idempotency");
    rt.block_on(create_idempotency_table(&aws, &table));
    let watch = watch(
        "idempotency",
        &[
            ("SOKETI_SECRET_PARAMETER", parameter),
            ("SOKETI_IDEMPOTENCY_TABLE", table),
        ],
    );
    let channel = unique("once");
    let payload = SignedEnvelope::new("app1key", "ssm-secret")
        .event(Event::channel_occupied(&channel))
        .event(Event::channel_vacated(&channel))
        .to_bytes();
    let first = watch.invoke("Event", &payload).summary();
    assert_eq!(first["handled"], 2, "{first}");
    let second = watch.invoke("Event", &payload).summary();
    assert_eq!(
        (&second["handled"], &second["skipped"]),
        (&0.into(), &2.into()),
        "{second}"
    );
    let ran: Vec<String> = flog::dispatched(&watch.function_log())
        .into_iter()
        .filter(|d| d.channel.as_deref() == Some(channel.as_str()))
        .map(|d| d.webhook)
        .collect();
    assert_eq!(
        ran,
        ["channel_occupied", "channel_vacated"],
        "each callback ran once"
    );
    // A webhook signed with another secret is still rejected.
    let forged = watch.invoke("Event", &body("not-the-secret", &channel));
    assert_eq!(forged.error_type(), "InvalidSignature");
}
