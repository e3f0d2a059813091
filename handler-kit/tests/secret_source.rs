//! A keyring from a secret source (feature `secret-source`), with a source whose secrets the
//! test changes: read at start (a failure fails the start), re-read on a mismatch within a
//! small token bucket, never for an app key the keyring does not know, re-read when old,
//! never shown in Debug output; the cache itself holds any parse of a secret's text. The AWS
//! sources themselves are tested against moto in `tests/tests/aws_moto.rs`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use soketi_handler_kit::secrets::{
    CachedSecret, FetchFuture, RefreshPolicy, SecretError, SecretErrorKind, SecretSource,
    SecretText,
};
use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::Event;
use soketi_handler_kit::{ErrorKind, Verifier, Webhooks};

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
            text.map(SecretText::new).ok_or_else(|| {
                SecretError::new(SecretErrorKind::NotFound, "the test store", "it is empty")
            })
        })
    }
    fn describe(&self) -> String {
        "the test store".into()
    }
}

fn body(secret: &str) -> Vec<u8> {
    body_for("app1key", secret)
}

fn body_for(key: &str, secret: &str) -> Vec<u8> {
    SignedEnvelope::new(key, secret)
        .event(Event::channel_occupied("c"))
        .to_bytes()
}

/// Tries `body` (as a Lambda invocation).
async fn handle(
    webhooks: &Webhooks,
    body: Vec<u8>,
) -> Result<soketi_handler_kit::Summary, soketi_handler_kit::Error> {
    common::summary(webhooks, &body, "r").await
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
        handle(&hooks, body("old")).await.expect("old verifies");
        assert_eq!(store.reads(), 1, "no re-read while the secret matches");
        store.put(Some(r#"{"app1key": ["new", "old"]}"#));
        handle(&hooks, body("new")).await.expect("new verifies");
        assert_eq!(store.reads(), 2, "one re-read on the mismatch");
        handle(&hooks, body("old"))
            .await
            .expect("old still verifies");
        handle(&hooks, body("new")).await.expect("new verifies");
        assert_eq!(store.reads(), 2);
    });
}

#[test]
fn mismatches_re_read_within_a_small_token_bucket() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": "s3cret"}"#);
        let hooks = webhooks(
            &store,
            RefreshPolicy::new()
                .on_mismatch(Duration::from_secs(3600))
                .mismatch_burst(3),
        )
        .await;
        // Two forged webhooks spend two reads...
        for i in 0..2 {
            let error = handle(&hooks, body(&format!("forged-{i}"))).await;
            assert_eq!(
                error.expect_err("forged").kind(),
                ErrorKind::InvalidSignature
            );
        }
        assert_eq!(
            store.reads(),
            3,
            "each mismatch re-reads while the bucket holds reads"
        );
        // ...and leave one for the rotation that follows them.
        store.put(Some(r#"{"app1key": ["new", "s3cret"]}"#));
        handle(&hooks, body("new"))
            .await
            .expect("the rotated secret is picked up");
        assert_eq!(store.reads(), 4);
        // The bucket is empty now: more forged webhooks do not hammer the store.
        for i in 0..20 {
            assert!(
                handle(&hooks, body(&format!("forged-again-{i}")))
                    .await
                    .is_err()
            );
        }
        assert_eq!(
            store.reads(),
            4,
            "no read beyond the bucket within the interval"
        );
        // A rotation inside the interval is not seen on a mismatch once the bucket is empty.
        store.put(Some(r#"{"app1key": "newer"}"#));
        assert!(handle(&hooks, body("newer")).await.is_err());
        assert_eq!(store.reads(), 4);
    });
}

/// Requests naming an app key the keyring does not know are rejected without reading the
/// store: only a signature that does not match a known app's secrets looks like a rotation.
#[test]
fn a_flood_of_unknown_app_keys_triggers_no_re_read() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": "s3cret"}"#);
        let hooks = webhooks(&store, RefreshPolicy::new().on_mismatch(Duration::ZERO)).await;
        assert_eq!(store.reads(), 1);
        for i in 0..1000 {
            let error = handle(&hooks, body_for(&format!("made-up-{i}"), "s3cret")).await;
            assert_eq!(error.expect_err("unknown").kind(), ErrorKind::UnknownAppKey);
        }
        assert_eq!(
            store.reads(),
            1,
            "no read for an app key the keyring does not know"
        );
        // A known key whose signature does not match does re-read (here, on every mismatch).
        assert!(handle(&hooks, body("forged")).await.is_err());
        assert_eq!(store.reads(), 2);
    });
}

/// The cache is not tied to keyrings: it holds any parse of a secret's text (what another
/// reader of the same store shares), and a text that does not parse fails the start, naming
/// the source, and is kept out on a re-read.
#[test]
fn the_cache_holds_any_parse_of_the_secret_text() {
    block_on(async {
        let store = Store::holding("41");
        let parse = |texts: &SecretText| texts.current().trim().parse::<u32>();
        let number = CachedSecret::start(store.clone(), RefreshPolicy::new(), parse)
            .await
            .expect("a number");
        assert_eq!(*number.get(), 41);
        store.put(Some("42"));
        assert!(!number.refresh_if_old().await, "not old yet");
        assert!(number.refresh_on_mismatch().await);
        assert_eq!(*number.get(), 42);
        store.put(Some("not a number"));
        assert!(
            !number.refresh_on_mismatch().await,
            "a bad text is not taken"
        );
        assert_eq!(*number.get(), 42);
        let error = CachedSecret::start(Store::holding("x"), RefreshPolicy::new(), parse)
            .await
            .expect_err("not a number");
        assert_eq!(error.kind(), SecretErrorKind::Malformed);
        assert!(error.to_string().contains("the test store"), "{error}");
        assert!(!format!("{number:?}").contains("42"), "{number:?}");
    });
}

#[test]
fn an_old_keyring_is_read_again_so_a_removed_secret_stops_verifying() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": ["new", "old"]}"#);
        let hooks = webhooks(&store, RefreshPolicy::new().every(Duration::ZERO)).await;
        handle(&hooks, body("old")).await.expect("old verifies");
        store.put(Some(r#"{"app1key": "new"}"#));
        let error = handle(&hooks, body("old")).await.expect_err("old removed");
        assert_eq!(error.kind(), ErrorKind::InvalidSignature);
        handle(&hooks, body("new")).await.expect("new verifies");
    });
}

#[test]
fn a_failed_re_read_keeps_the_cached_keyring() {
    block_on(async {
        let store = Store::holding(r#"{"app1key": "s3cret"}"#);
        let hooks = webhooks(&store, RefreshPolicy::new().every(Duration::ZERO)).await;
        store.put(None);
        handle(&hooks, body("s3cret"))
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
            hooks.verifier().keyring()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("the test store"), "{shown}");
    });
}
