//! [`MemoryStore`]: idempotency records in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Claim, IdempotencyKey, IdempotencyStore, Owner, Settled, StoreFuture};

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

#[derive(Debug, Clone)]
enum Record {
    InProgress { until: Instant, owner: Owner },
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
    fn claim<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, Claim> {
        let now = Instant::now();
        let mut records = self.lock();
        let claim = match records.get(key) {
            Some(Record::Done { until }) if *until > now => Claim::Done,
            Some(Record::InProgress { until, .. }) if *until > now => Claim::InProgress,
            _ => {
                let record = Record::InProgress {
                    until: now + lease,
                    owner: owner.clone(),
                };
                records.insert(key.clone(), record);
                Claim::Run
            }
        };
        Box::pin(std::future::ready(Ok(claim)))
    }

    fn complete<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
        ttl: Duration,
    ) -> StoreFuture<'a, Settled> {
        let mut records = self.lock();
        let settled = if held_by(records.get(key), owner) {
            let until = Instant::now() + ttl;
            records.insert(key.clone(), Record::Done { until });
            Settled::Recorded
        } else {
            Settled::NotOwner
        };
        Box::pin(std::future::ready(Ok(settled)))
    }

    fn release<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
    ) -> StoreFuture<'a, Settled> {
        let mut records = self.lock();
        let settled = if held_by(records.get(key), owner) {
            records.remove(key);
            Settled::Recorded
        } else {
            Settled::NotOwner
        };
        Box::pin(std::future::ready(Ok(settled)))
    }

    fn describe(&self) -> String {
        "in-memory store".to_owned()
    }
}

/// Whether `record` is an "in progress" claim of `owner` (its lease may have ended: nobody
/// took it over).
fn held_by(record: Option<&Record>, owner: &Owner) -> bool {
    matches!(record, Some(Record::InProgress { owner: holder, .. }) if holder == owner)
}
