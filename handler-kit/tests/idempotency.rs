//! Callbacks that run once per event (feature `idempotency`), with the in-memory store: a
//! redelivery is skipped and counted, a failed callback runs again on the retry, two
//! concurrent deliveries run a callback once, a failing store fails the event (fail-closed).
//! The DynamoDB store is tested against moto in `tests/tests/aws_moto.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use soketi_handler_kit::idempotency::{
    Claim, IdempotencyKey, IdempotencyStore, MemoryStore, StoreError, StoreFuture,
};
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ChannelOccupied, Event};
use soketi_handler_kit::{Context, Error, FailureCause, Keyring, Verifier, Webhooks};

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
        let first = hooks.handle(&payload, "r1").await.expect("handled");
        assert_eq!((first.handled(), first.skipped()), (2, 0));
        let again = hooks.handle(&payload, "r2").await.expect("skipped");
        assert_eq!((again.handled(), again.skipped()), (0, 2));
        assert_eq!(runs.count.load(Ordering::SeqCst), 2);
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["skipped"], 2, "{json}");
        // Another payload (another signature) is not confused with it.
        let other = hooks.handle(&body(&["a"]), "r3").await.expect("handled");
        assert_eq!(other.handled(), 1);
        // Without idempotency, no "skipped" field is written.
        let plain = webhooks(&Runs::default())
            .handle(&payload, "r4")
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
        let error = hooks
            .handle(&payload, "r1")
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
        let retry = hooks.handle(&payload, "r2").await.expect("retried");
        assert_eq!((retry.handled(), retry.skipped()), (1, 1));
        assert_eq!(runs.count.load(Ordering::SeqCst), 3);
        let last = hooks.handle(&payload, "r3").await.expect("all done");
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
        let (first, second) = tokio::join!(hooks.handle(&payload, "first"), async {
            let second = hooks.handle(&payload, "second").await;
            release.notify_one();
            second
        });
        assert_eq!(first.expect("the first delivery ran it").handled(), 1);
        let Err(Error::HandlerFailed(failures)) = second else {
            panic!("the second delivery must fail while the first runs: {second:?}")
        };
        assert!(
            matches!(failures.failures()[0].cause(), FailureCause::InProgress),
            "{failures}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Its retry finds the event done.
        let retry = hooks
            .handle(&payload, "second-retry")
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
        _: std::time::Duration,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async { Err(StoreError::new("the table is unreachable")) })
    }
    fn complete<'a>(
        &'a self,
        _key: &'a IdempotencyKey,
        _: std::time::Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(StoreError::new("the table is unreachable")) })
    }
    fn release<'a>(&'a self, _key: &'a IdempotencyKey) -> StoreFuture<'a, ()> {
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
        let error = hooks
            .handle(&body(&["a"]), "r1")
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

#[test]
fn events_without_callbacks_are_not_recorded() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        struct Shared(Arc<MemoryStore>);
        impl IdempotencyStore for Shared {
            fn claim<'a>(
                &'a self,
                k: &'a IdempotencyKey,
                l: std::time::Duration,
            ) -> StoreFuture<'a, Claim> {
                self.0.claim(k, l)
            }
            fn complete<'a>(
                &'a self,
                k: &'a IdempotencyKey,
                t: std::time::Duration,
            ) -> StoreFuture<'a, ()> {
                self.0.complete(k, t)
            }
            fn release<'a>(&'a self, k: &'a IdempotencyKey) -> StoreFuture<'a, ()> {
                self.0.release(k)
            }
            fn describe(&self) -> String {
                self.0.describe()
            }
        }
        let hooks = Webhooks::new(Verifier::new(Keyring::new().app("app1key", "s3cret")))
            .idempotent(Shared(store.clone()));
        let summary = hooks.handle(&body(&["a"]), "r1").await.expect("ignored");
        assert_eq!((summary.ignored(), summary.skipped()), (1, 0));
        assert!(store.is_empty());
    });
}
