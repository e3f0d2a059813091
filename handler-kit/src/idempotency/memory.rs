//! [`MemoryStore`]: idempotency records in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Claim, IdempotencyKey, IdempotencyStore, StoreFuture};

/// Idempotency records in memory, for tests (and a long-running server with one process):
/// nothing is shared between Lambda instances, and nothing survives the process. Use
/// [`DynamoDbStore`](super::DynamoDbStore) (feature `idempotency-dynamodb`) under Lambda.
///
/// ```
/// use soketi_handler_kit::idempotency::MemoryStore;
/// use soketi_handler_kit::{Keyring, Verifier, Webhooks};
/// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret")))
///     .idempotent(MemoryStore::new());
/// # let _ = webhooks;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<IdempotencyKey, Record>>,
}

#[derive(Debug, Clone, Copy)]
enum Record {
    InProgress { until: Instant },
    Done { until: Instant },
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many records it holds (expired ones included until they are replaced).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IdempotencyKey, Record>> {
        // A panic while holding this lock leaves the map consistent (each change is one insert
        // or remove): keep using it.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(&'a self, key: &'a IdempotencyKey, lease: Duration) -> StoreFuture<'a, Claim> {
        let now = Instant::now();
        let mut records = self.lock();
        let claim = match records.get(key) {
            Some(Record::Done { until }) if *until > now => Claim::Done,
            Some(Record::InProgress { until }) if *until > now => Claim::InProgress,
            _ => {
                records.insert(key.clone(), Record::InProgress { until: now + lease });
                Claim::Run
            }
        };
        Box::pin(std::future::ready(Ok(claim)))
    }

    fn complete<'a>(&'a self, key: &'a IdempotencyKey, ttl: Duration) -> StoreFuture<'a, ()> {
        let until = Instant::now() + ttl;
        self.lock().insert(key.clone(), Record::Done { until });
        Box::pin(std::future::ready(Ok(())))
    }

    fn release<'a>(&'a self, key: &'a IdempotencyKey) -> StoreFuture<'a, ()> {
        let mut records = self.lock();
        if let Some(Record::InProgress { .. }) = records.get(key) {
            records.remove(key);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn describe(&self) -> String {
        "in-memory store".to_owned()
    }
}
