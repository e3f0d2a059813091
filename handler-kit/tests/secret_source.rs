//! A keyring from a secret source (feature `secret-source`), with a source whose secrets the
//! test changes: read at start (a failure fails the start), re-read on a mismatch at most once
//! per interval, re-read when old, never shown in Debug output. The AWS sources themselves are
//! tested against moto in `tests/tests/aws_moto.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use soketi_handler_kit::secrets::{
    FetchFuture, RefreshPolicy, SecretError, SecretErrorKind, SecretSource,
    keyring_from_secret_text,
};
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::Event;
use soketi_handler_kit::{ErrorKind, Keyring, Verifier, Webhooks};

/// A store holding a secret text (or nothing), counting reads. Its texts are JSON maps of app
/// key to secrets, as a multi-app secret is stored.
#[derive(Clone, Default)]
struct Store {
    text: Arc<Mutex<Option<String>>>,
    reads: Arc<AtomicUsize>,
}

impl Store {
    fn holding(text: &str) -> Store {
        let store = Store::default();
        store.put(Some(text));
        store
    }
    fn put(&self, text: Option<&str>) {
        *self.text.lock().unwrap() = text.map(str::to_owned);
    }
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl SecretSource for Store {
    fn fetch(&self) -> FetchFuture<'_> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let text = self.text.lock().unwrap().clone();
        Box::pin(async move {
            let text = text.ok_or_else(|| {
                SecretError::new(SecretErrorKind::NotFound, "the test store", "it is empty")
            })?;
            keyring_from_secret_text(&text, None).map_err(|e| {
                SecretError::new(SecretErrorKind::Malformed, "the test store", e.to_string())
            })
        })
    }
    fn describe(&self) -> String {
        "the test store".into()
    }
}

fn body(secret: &str) -> Vec<u8> {
    SignedEnvelope::new("app1key", secret)
        .event(Event::channel_occupied("c"))
        .to_bytes()
}

async fn webhooks(store: &Store, policy: RefreshPolicy) -> Webhooks {
    let verifier = Verifier::from_source(store.clone(), policy)
        .await
        .expect("the store is readable");
    Webhooks::new(verifier).on_any(|_ev: Event, _cx| async { Ok(()) })
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn an_unreadable_secret_fails_the_start_with_its_name_and_kind() {
    block_on(async {
        let error = Verifier::from_source(Store::default(), RefreshPolicy::new())
            .await
            .expect_err("nothing to read");
        assert_eq!(error.kind(), SecretErrorKind::NotFound);
        assert!(error.to_string().contains("the test store"), "{error}");
        let blank = Verifier::from_source(Store::holding("  "), RefreshPolicy::new()).await;
        assert_eq!(blank.expect_err("blank").kind(), SecretErrorKind::Malformed);
    });
}

#[test]
fn a_rotated_secret_is_picked_up_by_the_first_webhook_it_signs() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": "old"}"#);
        let hooks = webhooks(&store, RefreshPolicy::new()).await;
        assert_eq!(store.reads(), 1);
        hooks
            .handle(&body("old"), "r1")
            .await
            .expect("old verifies");
        assert_eq!(store.reads(), 1, "no re-read while the secret matches");
        store.put(Some(r#"{"app1key": ["new", "old"]}"#));
        hooks
            .handle(&body("new"), "r2")
            .await
            .expect("new verifies");
        assert_eq!(store.reads(), 2, "one re-read on the mismatch");
        hooks
            .handle(&body("old"), "r3")
            .await
            .expect("old still verifies");
        hooks
            .handle(&body("new"), "r4")
            .await
            .expect("new verifies");
        assert_eq!(store.reads(), 2);
    });
}

#[test]
fn mismatches_re_read_at_most_once_per_interval() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": "s3cret"}"#);
        let hooks = webhooks(
            &store,
            RefreshPolicy::new().on_mismatch(Duration::from_secs(3600)),
        )
        .await;
        let first = hooks
            .handle(&body("forged-1"), "r1")
            .await
            .expect_err("forged");
        assert_eq!(first.kind(), ErrorKind::InvalidSignature);
        assert_eq!(store.reads(), 2, "the first mismatch re-reads");
        for i in 0..5 {
            let error = hooks.handle(&body(&format!("forged-{i}")), "r").await;
            assert_eq!(
                error.expect_err("forged").kind(),
                ErrorKind::InvalidSignature
            );
        }
        assert_eq!(store.reads(), 2, "forged webhooks do not hammer the store");
        // A rotation inside the interval is not seen on a mismatch...
        store.put(Some(r#"{"app1key": "new"}"#));
        assert!(hooks.handle(&body("new"), "r").await.is_err());
        assert_eq!(store.reads(), 2);
    });
}

#[test]
fn an_old_keyring_is_read_again_so_a_removed_secret_stops_verifying() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": ["new", "old"]}"#);
        let hooks = webhooks(&store, RefreshPolicy::new().every(Duration::ZERO)).await;
        hooks
            .handle(&body("old"), "r1")
            .await
            .expect("old verifies");
        store.put(Some(r#"{"app1key": "new"}"#));
        let error = hooks
            .handle(&body("old"), "r2")
            .await
            .expect_err("old removed");
        assert_eq!(error.kind(), ErrorKind::InvalidSignature);
        hooks
            .handle(&body("new"), "r3")
            .await
            .expect("new verifies");
    });
}

#[test]
fn a_failed_re_read_keeps_the_cached_keyring() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": "s3cret"}"#);
        let hooks = webhooks(&store, RefreshPolicy::new().every(Duration::ZERO)).await;
        store.put(None);
        hooks
            .handle(&body("s3cret"), "r1")
            .await
            .expect("the cached secret still verifies");
        assert!(store.reads() >= 2, "it tried");
    });
}

#[test]
fn debug_output_of_a_live_verifier_shows_no_secret() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": ["hunter2-new", "hunter2-old"]}"#);
        let hooks = webhooks(&store, RefreshPolicy::new()).await;
        let shown = format!(
            "{hooks:?} {:?} {:?}",
            hooks.verifier(),
            hooks.verifier().current_keyring()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("the test store"), "{shown}");
        let _: &Keyring = hooks.verifier().keyring();
    });
}
