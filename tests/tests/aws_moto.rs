//! The kit's AWS stores against their real APIs, served by a moto server these tests start:
//! start-up with a Secrets Manager secret (a plain secret, a JSON map of apps) and with an SSM
//! SecureString; a missing secret fails the start with a clear message; the DynamoDB
//! idempotency store under two concurrent deliveries of one payload, a redelivery, a failed
//! callback, a crashed run's lease, claims completed and released only by their owner, three
//! concurrent deliveries with an expiring lease, and namespaces.
//!
//! The same under `cargo lambda watch` (rotation while the function runs, an Event invocation
//! delivered twice) is in `e2e_aws.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use soketi_e2e_tests::moto::{Moto, create_idempotency_table, unique};
use soketi_handler_kit::idempotency::{
    Claim, DynamoDbStore, IdempotencyKey, IdempotencyStore, Owner,
};
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ChannelOccupied, Event, Secret};
use soketi_handler_kit::{
    ConfigError, Context, Error, ErrorKind, FailureCause, Summary, Verifier, Webhooks,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn body(key: &str, secret: &str, channel: &str) -> Vec<u8> {
    SignedEnvelope::new(key, secret)
        .event(Event::channel_occupied(channel))
        .to_bytes()
}

fn verifies(verifier: &Verifier, key: &str, secret: &str) -> bool {
    verifier.verify_lambda_body(&body(key, secret, "c")).is_ok()
}

/// The verifier the variables `vars` configure, its stores read through `aws` (moto).
async fn configured(
    vars: &[(&str, &str)],
    aws: &aws_config::SdkConfig,
) -> Result<Verifier, ConfigError> {
    let webhooks = Webhooks::from_lookup_aws(env(vars), aws).await?;
    Ok(webhooks.verifier().clone())
}

/// A soketi envelope through the router; its summary.
async fn summary(webhooks: &Webhooks, body: &[u8], id: &str) -> Result<Summary, Error> {
    let response = webhooks.verify_and_receive(body, id).await?;
    Ok(response.into_summary().expect("an envelope's summary"))
}

#[test]
fn the_app_secret_is_read_at_start_from_secrets_manager_or_ssm() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&aws);
        let ssm = aws_sdk_ssm::Client::new(&aws);

        // A plain secret, for SOKETI_APP_KEY.
        let plain = secrets
            .create_secret()
            .name(unique("soketi-plain"))
            .secret_string("plain-secret")
            .send()
            .await
            .expect("create secret");
        let arn = plain.arn().expect("an ARN");
        let verifier = configured(
            &[("SOKETI_SECRET_ARN", arn), ("SOKETI_APP_KEY", "app1key")],
            &aws,
        )
        .await
        .expect("the secret is read");
        assert!(verifies(&verifier, "app1key", "plain-secret"));
        assert!(!verifies(&verifier, "other", "plain-secret"));
        assert!(!verifies(&verifier, "app1key", "wrong"));

        // A JSON map of apps, found by name as well as by ARN.
        let name = unique("soketi-apps");
        secrets
            .create_secret()
            .name(&name)
            .secret_string(r#"{"app1key": "one", "app2key": ["two-new", "two-old"]}"#)
            .send()
            .await
            .expect("create secret");
        let verifier = configured(&[("SOKETI_SECRET_ARN", &name)], &aws)
            .await
            .expect("the secret is read");
        assert!(verifies(&verifier, "app1key", "one"));
        assert!(verifies(&verifier, "app2key", "two-old"));
        assert!(!verifies(&verifier, "app1key", "two-new"));
        let shown = format!("{verifier:?}");
        assert!(
            !shown.contains("two-new") && !shown.contains("\"one\""),
            "{shown}"
        );

        // An SSM SecureString, decrypted.
        let parameter = format!("/{}", unique("soketi/secret"));
        ssm.put_parameter()
            .name(&parameter)
            .value("ssm-secret")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("put parameter");
        let verifier = configured(&[("SOKETI_SECRET_PARAMETER", &parameter)], &aws)
            .await
            .expect("the parameter is read");
        assert!(verifies(&verifier, "any-key", "ssm-secret"));
        assert!(!verifies(&verifier, "any-key", "wrong"));
    });
}

#[test]
fn a_missing_secret_fails_the_start_naming_it() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf";
        let error = configured(&[("SOKETI_SECRET_ARN", arn)], &aws)
            .await
            .expect_err("no such secret");
        assert_eq!(error.source_name(), "SOKETI_SECRET_ARN");
        let message = error.to_string();
        assert!(
            message.contains(arn) && message.contains("does not exist"),
            "{message}"
        );
        let error = configured(&[("SOKETI_SECRET_PARAMETER", "/no/such/parameter")], &aws)
            .await
            .expect_err("no such parameter");
        assert_eq!(error.source_name(), "SOKETI_SECRET_PARAMETER");
        assert!(
            error.to_string().contains("/no/such/parameter")
                && error.to_string().contains("does not exist"),
            "{error}"
        );
    });
}

/// Asserts that a delivery failed because another one holds its event (`InProgress`).
fn assert_in_progress(outcome: &Result<Summary, Error>, what: &str) {
    let Err(Error::HandlerFailed(failures)) = outcome else {
        panic!("{what} must be told the event is in progress: {outcome:?}")
    };
    assert!(
        matches!(failures.failures()[0].cause(), FailureCause::InProgress),
        "{failures}"
    );
}

/// A router counting the runs of its callback, whose callback waits at `gate` until released
/// and fails while `failing` is set.
struct Counted {
    webhooks: Webhooks,
    runs: Arc<AtomicUsize>,
    gate: Arc<tokio::sync::Notify>,
    failing: Arc<AtomicBool>,
}

fn counted(store: DynamoDbStore, gated: bool) -> Counted {
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Notify::new());
    let failing = Arc::new(AtomicBool::new(false));
    let (r, g, f) = (runs.clone(), gate.clone(), failing.clone());
    let webhooks = Webhooks::new(Verifier::new(
        soketi_handler_kit::Keyring::new().app("app1key", "s3cret"),
    ))
    .on_channel_occupied(move |_ev: ChannelOccupied, _cx: Context| {
        let (r, g, f) = (r.clone(), g.clone(), f.clone());
        async move {
            r.fetch_add(1, Ordering::SeqCst);
            if gated {
                g.notified().await;
            }
            if f.load(Ordering::SeqCst) {
                return Err("downstream unavailable".into());
            }
            Ok(())
        }
    })
    .idempotent(store);
    Counted {
        webhooks,
        runs,
        gate,
        failing,
    }
}

#[test]
fn two_concurrent_deliveries_of_one_payload_run_the_callback_once() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let table = unique("idempotency");
        create_idempotency_table(&aws, &table).await;
        let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &table);
        let c = counted(store, true);
        let payload = body("app1key", "s3cret", "concurrent");
        // Both deliveries race for the claim; the winner's callback is held open until the
        // other delivery has finished, so they truly overlap.
        let deliver = |id: &'static str| {
            let (webhooks, gate, payload) = (c.webhooks.clone(), c.gate.clone(), payload.clone());
            tokio::spawn(async move {
                let outcome = summary(&webhooks, &payload, id).await;
                gate.notify_one();
                outcome
            })
        };
        let (a, b) = (deliver("a"), deliver("b"));
        let outcomes = [a.await.unwrap(), b.await.unwrap()];
        assert_eq!(c.runs.load(Ordering::SeqCst), 1, "{outcomes:?}");
        let handled: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert_eq!(handled.len(), 1, "{outcomes:?}");
        assert_eq!(handled[0].handled(), 1);
        let failed = outcomes.iter().find(|o| o.is_err()).expect("one failed");
        assert_in_progress(failed, "the loser");
        // The loser's retry finds the event done.
        c.gate.notify_one();
        let retry = summary(&c.webhooks, &payload, "b-retry")
            .await
            .expect("skipped");
        assert_eq!((retry.handled(), retry.skipped()), (0, 1));
        assert_eq!(c.runs.load(Ordering::SeqCst), 1);

        // The record: done, with the TTL attribute a day ahead.
        let item = aws_sdk_dynamodb::Client::new(&aws)
            .get_item()
            .table_name(&table)
            .key(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::S(format!(
                    "{}#0",
                    Secret::new("s3cret").sign(
                        soketi_handler_kit::wire::Envelope::parse(&payload)
                            .unwrap()
                            .payload_json()
                            .as_bytes()
                    )
                )),
            )
            .send()
            .await
            .expect("get item");
        let item = item.item().expect("the event is recorded");
        assert_eq!(item["state"].as_s().unwrap(), "done");
        let expires: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            expires > now + 23 * 3600 && expires <= now + 24 * 3600 + 60,
            "expires_at {expires}, now {now}"
        );
    });
}

#[test]
fn a_failed_callback_is_released_and_a_crashed_runs_lease_ends() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let table = unique("idempotency");
        create_idempotency_table(&aws, &table).await;
        let client = aws_sdk_dynamodb::Client::new(&aws);
        let c = counted(DynamoDbStore::new(client.clone(), &table), false);
        let payload = body("app1key", "s3cret", "retried");
        c.failing.store(true, Ordering::SeqCst);
        let error = summary(&c.webhooks, &payload, "r1")
            .await
            .expect_err("failed");
        assert_eq!(error.kind(), ErrorKind::HandlerFailed);
        c.failing.store(false, Ordering::SeqCst);
        let retry = summary(&c.webhooks, &payload, "r2")
            .await
            .expect("ran again");
        assert_eq!(retry.handled(), 1);
        let again = summary(&c.webhooks, &payload, "r3").await.expect("skipped");
        assert_eq!(again.skipped(), 1);
        assert_eq!(c.runs.load(Ordering::SeqCst), 2);

        // The store's own rules, as the kit's contract states them.
        let store = DynamoDbStore::new(client, &table);
        soketi_handler_kit::testing::check_idempotency_store(&store)
            .await
            .expect("DynamoDbStore keeps the store contract");
    });
}

/// The owner token is what DynamoDB conditions on: a claim taken over keeps the new owner's
/// token in its record, whatever the late owner tried.
#[test]
fn a_claim_taken_over_keeps_its_new_owners_token() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let table = unique("idempotency");
        create_idempotency_table(&aws, &table).await;
        let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &table);
        let key = IdempotencyKey::new(Some("fn"), &Secret::new("k").sign(b"owned"), 3);
        let (late, taker) = (Owner::random().unwrap(), Owner::random().unwrap());
        let minute = Duration::from_secs(60);
        store.claim(&key, &late, Duration::ZERO).await.unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(store.claim(&key, &taker, minute).await.unwrap(), Claim::Run);
        store.complete(&key, &late, minute).await.unwrap();
        store.release(&key, &late).await.unwrap();
        let item = aws_sdk_dynamodb::Client::new(&aws)
            .get_item()
            .table_name(&table)
            .key(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::S(key.as_str().to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get item");
        let item = item.item().expect("the claim is recorded");
        assert!(key.as_str().starts_with("fn#"), "{key}");
        assert_eq!(item["state"].as_s().unwrap(), "in_progress");
        assert_eq!(item["owner"].as_s().unwrap(), taker.as_str());
    });
}

/// Three deliveries of one payload through the router on one table. The first outlives its
/// (short) lease and fails; the second takes the claim over and is still running when the
/// first gives up; the third arrives then. It must be told the event is in progress (before
/// owner tokens, the first's release deleted the second's claim and the third ran beside the
/// second), and its retry finds it done.
#[test]
fn three_concurrent_deliveries_never_run_the_callback_twice_at_once() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let table = unique("idempotency");
        create_idempotency_table(&aws, &table).await;
        let store = || DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &table);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let (r, m, n) = (running.clone(), most.clone(), runs.clone());
        let base = Webhooks::new(Verifier::new(
            soketi_handler_kit::Keyring::new().app("app1key", "s3cret"),
        ))
        .on_channel_occupied(move |_ev: ChannelOccupied, cx: Context| {
            let (r, m, n) = (r.clone(), m.clone(), n.clone());
            async move {
                n.fetch_add(1, Ordering::SeqCst);
                m.fetch_max(r.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                let first = cx.request_id() == "first";
                tokio::time::sleep(Duration::from_millis(if first { 2500 } else { 3000 })).await;
                r.fetch_sub(1, Ordering::SeqCst);
                if first {
                    return Err("the first delivery timed out downstream".into());
                }
                Ok(())
            }
        });
        // The first delivery's invocation was near its deadline: a short lease (DynamoDB
        // compares milliseconds; moto's clock is this machine's).
        let short = base
            .clone()
            .idempotent(store())
            .idempotency_lease(Duration::from_millis(1000));
        let long = base
            .idempotent(store())
            .idempotency_lease(Duration::from_secs(60));
        let payload = body("app1key", "s3cret", "three");
        let deliver = |webhooks: Webhooks, id: &'static str, after_ms: u64| {
            let payload = payload.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                summary(&webhooks, &payload, id).await
            })
        };
        // first: 0..2.5 s (lease ends at 1 s); second: 1.5..4.5 s; third: at 3 s.
        let first = deliver(short, "first", 0);
        let second = deliver(long.clone(), "second", 1500);
        let third = deliver(long.clone(), "third", 3000);
        let (first, second, third) = (
            first.await.unwrap(),
            second.await.unwrap(),
            third.await.unwrap(),
        );
        assert!(matches!(first, Err(Error::HandlerFailed(_))), "{first:?}");
        assert_eq!(second.expect("the second ran it").handled(), 1);
        assert_in_progress(&third, "the third delivery");
        assert_eq!(runs.load(Ordering::SeqCst), 2, "never a third run");
        assert!(most.load(Ordering::SeqCst) <= 2);
        let retry = summary(&long, &payload, "third-retry")
            .await
            .expect("skipped");
        assert_eq!((retry.handled(), retry.skipped()), (0, 1));
    });
}

/// Two functions sharing a table, each with its namespace, both run the same payload once.
#[test]
fn namespaces_keep_functions_sharing_a_table_apart() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let table = unique("idempotency");
        create_idempotency_table(&aws, &table).await;
        let function = |namespace: &str| {
            counted(
                DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), &table),
                false,
            )
            .webhooks
            .idempotency_namespace(namespace)
        };
        let (a, b) = (function("function-a"), function("function-b"));
        let payload = body("app1key", "s3cret", "shared");
        assert_eq!(summary(&a, &payload, "a1").await.unwrap().handled(), 1);
        assert_eq!(summary(&b, &payload, "b1").await.unwrap().handled(), 1);
        assert_eq!(summary(&a, &payload, "a2").await.unwrap().skipped(), 1);
        assert_eq!(summary(&b, &payload, "b2").await.unwrap().skipped(), 1);
    });
}

#[test]
fn a_missing_table_fails_the_event_closed() {
    runtime().block_on(async {
        let aws = Moto::shared().sdk_config().await;
        let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), "no-such-table");
        let c = counted(store, false);
        let error = summary(&c.webhooks, &body("app1key", "s3cret", "x"), "r1")
            .await
            .expect_err("fail-closed");
        assert!(error.to_string().contains("no-such-table"), "{error}");
        assert_eq!(c.runs.load(Ordering::SeqCst), 0);
    });
}
