//! Callbacks that run once per event (feature `idempotency`), with the in-memory store: a
//! redelivery is skipped and counted, a failed callback runs again on the retry, two
//! concurrent deliveries run a callback once, a claim is its owner's (a delivery whose lease
//! ended neither completes nor releases the claim of the one that took over, so a third
//! delivery does not run beside the second), keys are namespaced, a failing store fails the
//! event (fail-closed), queue jobs' events are keyed by their job whatever payload carries them. The DynamoDB store is held to the same in `tests/tests/aws_moto.rs`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::summary;
use soketi_handler_kit::idempotency::{
    Claim, IdempotencyKey, IdempotencyStore, MemoryStore, Owner, Settled, StoreError, StoreFuture,
};
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ChannelOccupied, Event};
use soketi_handler_kit::{Context, Error, FailureCause, Keyring, Summary, Verifier, Webhooks};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn body(channels: &[&str]) -> Vec<u8> {
    let mut envelope = SignedEnvelope::new("app1key", "s3cret");
    for channel in channels {
        envelope = envelope.event(Event::channel_occupied(*channel));
    }
    envelope.to_bytes()
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

/// Counts runs per channel; fails the channels named `fail-*` while `failing` is set.
#[derive(Clone, Default)]
struct Runs {
    count: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

fn webhooks(runs: &Runs) -> Webhooks {
    let runs = runs.clone();
    Webhooks::new(Verifier::new(Keyring::new().app("app1key", "s3cret"))).on_channel_occupied(
        move |ev: ChannelOccupied, _cx: Context| {
            let runs = runs.clone();
            async move {
                runs.count.fetch_add(1, Ordering::SeqCst);
                if ev.channel.starts_with("fail-") && runs.failing.load(Ordering::SeqCst) {
                    return Err("downstream unavailable".into());
                }
                Ok(())
            }
        },
    )
}

#[test]
fn a_redelivered_payload_runs_no_callback_again_and_is_counted_as_skipped() {
    block_on(async {
        let runs = Runs::default();
        let hooks = webhooks(&runs).idempotent(MemoryStore::new());
        let payload = body(&["a", "b"]);
        let first = summary(&hooks, &payload, "r1").await.expect("handled");
        assert_eq!((first.handled(), first.skipped()), (2, 0));
        let again = summary(&hooks, &payload, "r2").await.expect("skipped");
        assert_eq!((again.handled(), again.skipped()), (0, 2));
        assert_eq!(runs.count.load(Ordering::SeqCst), 2);
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["skipped"], 2, "{json}");
        // Another payload (another signature) is not confused with it.
        let other = summary(&hooks, &body(&["a"]), "r3").await.expect("handled");
        assert_eq!(other.handled(), 1);
        // Without idempotency, no "skipped" field is written.
        let plain = summary(&webhooks(&Runs::default()), &payload, "r4")
            .await
            .unwrap();
        assert!(
            serde_json::to_value(&plain)
                .unwrap()
                .get("skipped")
                .is_none()
        );
    });
}

#[test]
fn a_failed_callback_runs_again_on_the_retry_and_the_others_do_not() {
    block_on(async {
        let runs = Runs::default();
        runs.failing.store(true, Ordering::SeqCst);
        let hooks = webhooks(&runs).idempotent(MemoryStore::new());
        let payload = body(&["ok", "fail-1"]);
        let error = summary(&hooks, &payload, "r1")
            .await
            .expect_err("fail-1 failed");
        let Error::HandlerFailed(failures) = error else {
            panic!("{error}")
        };
        assert_eq!(failures.failures().len(), 1);
        assert_eq!(failures.failures()[0].index(), 1);
        assert_eq!(runs.count.load(Ordering::SeqCst), 2);
        // The retry: event 0 was recorded and is skipped; event 1 was released and runs again.
        runs.failing.store(false, Ordering::SeqCst);
        let retry = summary(&hooks, &payload, "r2").await.expect("retried");
        assert_eq!((retry.handled(), retry.skipped()), (1, 1));
        assert_eq!(runs.count.load(Ordering::SeqCst), 3);
        let last = summary(&hooks, &payload, "r3").await.expect("all done");
        assert_eq!((last.handled(), last.skipped()), (0, 2));
        assert_eq!(runs.count.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn of_two_concurrent_deliveries_one_runs_the_callback_and_the_other_fails_to_be_retried() {
    block_on(async {
        let runs = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let (counter, gate) = (runs.clone(), release.clone());
        let hooks = Webhooks::new(Verifier::new(Keyring::new().app("app1key", "s3cret")))
            .on_channel_occupied(move |_ev: ChannelOccupied, _cx: Context| {
                let (counter, gate) = (counter.clone(), gate.clone());
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    // Held open until the second delivery has finished.
                    gate.notified().await;
                    Ok(())
                }
            })
            .idempotent(MemoryStore::new());
        let payload = body(&["room"]);
        let (first, second) = tokio::join!(summary(&hooks, &payload, "first"), async {
            let second = summary(&hooks, &payload, "second").await;
            release.notify_one();
            second
        });
        assert_eq!(first.expect("the first delivery ran it").handled(), 1);
        assert_in_progress(&second, "the second delivery, while the first runs,");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Its retry finds the event done.
        let retry = summary(&hooks, &payload, "second-retry")
            .await
            .expect("skipped");
        assert_eq!(retry.skipped(), 1);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// A store that cannot be reached.
struct Down;

impl IdempotencyStore for Down {
    fn claim<'a>(
        &'a self,
        _key: &'a IdempotencyKey,
        _owner: &'a Owner,
        _: Duration,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async { Err(StoreError::new("the table is unreachable")) })
    }
    fn complete<'a>(
        &'a self,
        _key: &'a IdempotencyKey,
        _owner: &'a Owner,
        _: Duration,
    ) -> StoreFuture<'a, Settled> {
        Box::pin(async { Err(StoreError::new("the table is unreachable")) })
    }
    fn release<'a>(
        &'a self,
        _key: &'a IdempotencyKey,
        _owner: &'a Owner,
    ) -> StoreFuture<'a, Settled> {
        Box::pin(async { Err(StoreError::new("the table is unreachable")) })
    }
    fn describe(&self) -> String {
        "a store that is down".into()
    }
}

#[test]
fn a_store_error_fails_the_event_without_running_its_callbacks() {
    block_on(async {
        let runs = Runs::default();
        let hooks = webhooks(&runs).idempotent(Down);
        let error = summary(&hooks, &body(&["a"]), "r1")
            .await
            .expect_err("fail-closed");
        assert!(
            error.to_string().contains("the table is unreachable"),
            "{error}"
        );
        let Error::HandlerFailed(failures) = error else {
            panic!()
        };
        assert!(matches!(
            failures.failures()[0].cause(),
            FailureCause::Store(_)
        ));
        assert_eq!(runs.count.load(Ordering::SeqCst), 0);
    });
}

/// A store shared by several routers (one table, several functions).
struct Shared(Arc<MemoryStore>);

impl IdempotencyStore for Shared {
    fn claim<'a>(
        &'a self,
        k: &'a IdempotencyKey,
        o: &'a Owner,
        l: Duration,
    ) -> StoreFuture<'a, Claim> {
        self.0.claim(k, o, l)
    }
    fn complete<'a>(
        &'a self,
        k: &'a IdempotencyKey,
        o: &'a Owner,
        t: Duration,
    ) -> StoreFuture<'a, Settled> {
        self.0.complete(k, o, t)
    }
    fn release<'a>(&'a self, k: &'a IdempotencyKey, o: &'a Owner) -> StoreFuture<'a, Settled> {
        self.0.release(k, o)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

#[test]
fn events_without_callbacks_are_not_recorded() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let hooks = Webhooks::new(Verifier::new(Keyring::new().app("app1key", "s3cret")))
            .idempotent(Shared(store.clone()));
        let summary = summary(&hooks, &body(&["a"]), "r1").await.expect("ignored");
        assert_eq!((summary.ignored(), summary.skipped()), (1, 0));
        assert!(store.is_empty());
    });
}

/// Two functions sharing a table, each in its namespace, both run the same payload; the same
/// function does not.
#[test]
fn namespaces_keep_functions_sharing_a_table_apart() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (runs_a, runs_b) = (Runs::default(), Runs::default());
        let a = webhooks(&runs_a)
            .idempotent(Shared(store.clone()))
            .idempotency_namespace("function-a");
        let b = webhooks(&runs_b)
            .idempotency_namespace("function-b")
            .idempotent(Shared(store.clone()));
        let payload = body(&["room"]);
        assert_eq!(summary(&a, &payload, "a1").await.unwrap().handled(), 1);
        assert_eq!(summary(&b, &payload, "b1").await.unwrap().handled(), 1);
        assert_eq!(summary(&a, &payload, "a2").await.unwrap().skipped(), 1);
        assert_eq!(store.len(), 2);
        // Under Lambda the default namespace is the function's name.
        let c = webhooks(&Runs::default()).idempotent(Shared(store.clone()));
        let mut context = lambda_runtime::Context::default();
        context.env_config = Arc::new(lambda_runtime::Config {
            function_name: "function-c".into(),
            ..lambda_runtime::Config::default()
        });
        let first = c
            .verify_and_receive(&payload, context.clone())
            .await
            .unwrap();
        assert_eq!(first.summary().map(|s| s.handled()), Some(1));
        let again = c.verify_and_receive(&payload, context).await.unwrap();
        assert_eq!(again.summary().map(|s| s.skipped()), Some(1));
        assert_eq!(store.len(), 3);
    });
}

/// A payload of queue jobs (`job_events`): `events` = (job, index in the job, channel), signed.
fn job_payload(events: &[(u8, usize, &str)]) -> Vec<u8> {
    use soketi_handler_kit::wire::{
        JobEventId, Secret, headers, write_job_events, write_lambda_body,
    };
    let job = |n: u8| Secret::new("s3cret").sign(format!("job {n}").as_bytes());
    let texts: Vec<String> = events
        .iter()
        .map(|(_, _, channel)| Event::channel_occupied(*channel).to_json())
        .collect();
    let ids: Vec<JobEventId> = events
        .iter()
        .map(|(n, index, _)| JobEventId::new(job(*n), *index))
        .collect();
    let mut payload = format!(r#"{{"time_ms":1,"events":[{}]"#, texts.join(","));
    write_job_events(&mut payload, &ids);
    payload.push('}');
    let signature = Secret::new("s3cret").sign(payload.as_bytes()).to_string();
    let headers =
        headers::webhook_headers::<&str, &str>(&headers::user_agent(1), &[], "app1key", &signature);
    write_lambda_body(&payload, &headers).into_bytes()
}

/// Queue jobs delivered again with other batch boundaries (alone, then coalesced with the next
/// job, then the next one alone): each event runs once, keyed by its job and its index there,
/// whatever payload carries it.
#[test]
fn an_event_of_a_queue_job_runs_once_whatever_payload_carries_it() {
    block_on(async {
        let runs = Runs::default();
        let hooks = webhooks(&runs).idempotent(MemoryStore::new());
        // Job 1 holds a0, a1; job 2 holds b0.
        let first = job_payload(&[(1, 0, "a0"), (1, 1, "a1")]);
        let coalesced = job_payload(&[(1, 0, "a0"), (1, 1, "a1"), (2, 0, "b0")]);
        let alone = job_payload(&[(2, 0, "b0")]);
        let s = summary(&hooks, &first, "r1").await.expect("handled");
        assert_eq!((s.handled(), s.skipped()), (2, 0));
        let s = summary(&hooks, &coalesced, "r2").await.expect("handled");
        assert_eq!((s.handled(), s.skipped()), (1, 2), "only b0 is new");
        let s = summary(&hooks, &alone, "r3").await.expect("skipped");
        assert_eq!((s.handled(), s.skipped()), (0, 1));
        assert_eq!(runs.count.load(Ordering::SeqCst), 3, "a0, a1, b0 once each");
        // The same events without `job_events` are keyed by their payload: they run again,
        // which is what the member is for.
        let s = summary(&hooks, &body(&["a0", "a1", "b0"]), "r4")
            .await
            .expect("handled");
        assert_eq!(s.handled(), 3);
    });
}

/// A payload whose `job_events` does not name one job per event is refused once verified:
/// only a broken sender signs one.
#[test]
fn a_payload_with_malformed_job_events_is_refused() {
    block_on(async {
        let hooks = webhooks(&Runs::default()).idempotent(MemoryStore::new());
        let good = String::from_utf8(job_payload(&[(1, 0, "a0")])).unwrap();
        let envelope = soketi_handler_kit::wire::Envelope::parse(good.as_bytes()).unwrap();
        let payload = envelope.payload_json();
        let short = payload.replace(
            r#""events":[{"#,
            r#""events":[{"name":"cache_miss","channel":"x"},{"#,
        );
        let signature = soketi_handler_kit::wire::Secret::new("s3cret").sign(short.as_bytes());
        let body = good.replace(payload, &short).replace(
            &envelope
                .headers()
                .get("X-Pusher-Signature")
                .unwrap()
                .unwrap()
                .to_string(),
            &signature.to_string(),
        );
        let error = summary(&hooks, body.as_bytes(), "r1").await.unwrap_err();
        assert_eq!(error.kind().as_str(), "MalformedPayload", "{error}");
        assert!(
            error.to_string().contains("1 id(s) for 2 event(s)"),
            "{error}"
        );
    });
}

/// The store's own rules: a claim is its owner's until its lease ends; only the owner
/// completes or releases it; a lease that ended is taken over under a new owner.
#[test]
fn the_memory_store_keeps_the_store_contract() {
    block_on(async {
        soketi_handler_kit::testing::check_idempotency_store(&MemoryStore::new())
            .await
            .expect("the contract holds");
        // And the check has teeth: a store that releases any claim breaks it.
        let careless = Careless::default();
        let error = soketi_handler_kit::testing::check_idempotency_store(&careless)
            .await
            .expect_err("a careless store");
        assert!(error.contains("the late owner"), "{error}");
    });
}

/// Completes and releases claims whoever holds them, as stores did before owner tokens.
#[derive(Default)]
struct Careless {
    store: MemoryStore,
    holder: std::sync::Mutex<Option<Owner>>,
}

impl Careless {
    fn holder(&self) -> Option<Owner> {
        self.holder.lock().unwrap().clone()
    }
}

impl IdempotencyStore for Careless {
    fn claim<'a>(
        &'a self,
        k: &'a IdempotencyKey,
        o: &'a Owner,
        l: Duration,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let claim = self.store.claim(k, o, l).await?;
            if claim == Claim::Run {
                *self.holder.lock().unwrap() = Some(o.clone());
            }
            Ok(claim)
        })
    }
    fn complete<'a>(
        &'a self,
        k: &'a IdempotencyKey,
        _o: &'a Owner,
        t: Duration,
    ) -> StoreFuture<'a, Settled> {
        Box::pin(async move {
            match self.holder() {
                Some(holder) => self.store.complete(k, &holder, t).await,
                None => Ok(Settled::NotOwner),
            }
        })
    }
    fn release<'a>(&'a self, k: &'a IdempotencyKey, _o: &'a Owner) -> StoreFuture<'a, Settled> {
        Box::pin(async move {
            match self.holder() {
                Some(holder) => self.store.release(k, &holder).await,
                None => Ok(Settled::NotOwner),
            }
        })
    }
    fn describe(&self) -> String {
        "a store ignoring owners".into()
    }
}

/// The race the owner token closes, with three deliveries of one payload. The first runs past
/// its lease (its callback is slow) and fails; the second takes the expired claim over and is
/// still running when the first gives up; the third arrives then. Without owners the first
/// would delete the second's claim and the third would run beside the second. With them, the
/// third is told the event is in progress, and after the second completes it is skipped.
#[test]
fn three_concurrent_deliveries_never_run_the_callback_twice_at_once() {
    block_on(async {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let (r, m, n) = (running.clone(), most.clone(), runs.clone());
        let hooks = Webhooks::new(Verifier::new(Keyring::new().app("app1key", "s3cret")))
            .on_channel_occupied(move |_ev: ChannelOccupied, cx: Context| {
                let (r, m, n) = (r.clone(), m.clone(), n.clone());
                async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    // The first delivery is slow (past its lease) and fails; the second is
                    // slow enough for the third to arrive while it runs.
                    let first = cx.request_id() == "first";
                    tokio::time::sleep(Duration::from_millis(if first { 300 } else { 400 })).await;
                    r.fetch_sub(1, Ordering::SeqCst);
                    if first {
                        return Err("the first delivery timed out downstream".into());
                    }
                    Ok(())
                }
            });
        // One table; the first delivery's lease is short (its invocation was near its
        // deadline), the others' long.
        let store = Arc::new(MemoryStore::new());
        let with_lease = |lease| {
            hooks
                .clone()
                .idempotent(Shared(store.clone()))
                .idempotency_lease(lease)
        };
        let (short, long) = (
            with_lease(Duration::from_millis(100)),
            with_lease(Duration::from_secs(60)),
        );
        let payload = body(&["room"]);
        let first = summary(&short, &payload, "first");
        let second = async {
            // After the first's lease ended, while its callback still runs.
            tokio::time::sleep(Duration::from_millis(150)).await;
            summary(&long, &payload, "second").await
        };
        let third = async {
            // After the first gave up (and released nothing of the second's), while the
            // second still runs.
            tokio::time::sleep(Duration::from_millis(400)).await;
            summary(&long, &payload, "third").await
        };
        let (first, second, third) = tokio::join!(first, second, third);
        assert!(matches!(first, Err(Error::HandlerFailed(_))), "{first:?}");
        assert_eq!(second.expect("the second ran it").handled(), 1);
        assert_in_progress(&third, "the third delivery");
        // Two runs overlapped by design (the first outlived its lease); never three.
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(most.load(Ordering::SeqCst) <= 2);
        // The third's retry finds the event done.
        let retry = summary(&long, &payload, "third-retry")
            .await
            .expect("skipped");
        assert_eq!((retry.handled(), retry.skipped()), (0, 1));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}
