//! The cached keyring of a [`SecretSource`]: read at start, swapped when read again. The
//! verification path loads it without a lock (`arc_swap`); deciding whether to read again is
//! two atomic timestamps, so concurrent verifications start at most one read each time.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;

use super::{RefreshPolicy, SecretError, SecretSource};
use crate::keyring::Keyring;

/// No read of that kind has been attempted yet.
const NEVER: u64 = u64::MAX;

/// A keyring kept current from a [`SecretSource`].
pub(crate) struct LiveKeyring {
    current: ArcSwap<Keyring>,
    source: Box<dyn SecretSource>,
    policy: RefreshPolicy,
    /// The origin of the timestamps below (milliseconds since it).
    epoch: Instant,
    /// When the keyring was last read (successfully or not) because it was old.
    read_at: AtomicU64,
    /// When it was last read because a signature did not match.
    mismatch_read_at: AtomicU64,
}

impl LiveKeyring {
    /// Reads the source once: the start fails when it cannot be read.
    pub(crate) async fn start(
        source: Box<dyn SecretSource>,
        policy: RefreshPolicy,
    ) -> Result<LiveKeyring, SecretError> {
        let keyring = source.fetch().await?;
        let live = LiveKeyring {
            current: ArcSwap::from_pointee(keyring),
            source,
            policy,
            epoch: Instant::now(),
            read_at: AtomicU64::new(0),
            mismatch_read_at: AtomicU64::new(NEVER),
        };
        tracing::debug!(source = %live.source.describe(), "app secret read");
        Ok(live)
    }

    /// The keyring to verify against now.
    pub(crate) fn current(&self) -> arc_swap::Guard<Arc<Keyring>> {
        self.current.load()
    }

    /// The keyring now, as a shared value.
    pub(crate) fn snapshot(&self) -> Arc<Keyring> {
        self.current.load_full()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Claims a read of the kind `stamp` records when the last one is at least `interval`
    /// old: only one of concurrent callers wins.
    fn claim(&self, stamp: &AtomicU64, interval: std::time::Duration) -> bool {
        let now = self.now();
        let interval = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        let last = stamp.load(Ordering::Acquire);
        let due = last == NEVER || now.saturating_sub(last) >= interval;
        due && stamp
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Reads the keyring again if it is older than the policy allows. A failed read keeps the
    /// cached keyring (logged).
    pub(crate) async fn refresh_if_old(&self) {
        if self.claim(&self.read_at, self.policy.every) {
            self.read("the cached secret is due for a re-read").await;
        }
    }

    /// After a signature did not match: reads the keyring again unless that was done less than
    /// the policy's mismatch interval ago. True when a new keyring was read (then verify again).
    pub(crate) async fn refresh_on_mismatch(&self) -> bool {
        if !self.claim(&self.mismatch_read_at, self.policy.on_mismatch) {
            return false;
        }
        // A mismatch read also counts as the periodic one.
        self.read_at.store(self.now(), Ordering::Release);
        self.read("a signature did not match the cached secret")
            .await
    }

    async fn read(&self, why: &str) -> bool {
        match self.source.fetch().await {
            Ok(keyring) => {
                tracing::debug!(source = %self.source.describe(), "app secret read again: {why}");
                self.current.store(Arc::new(keyring));
                true
            }
            Err(error) => {
                tracing::warn!(
                    kind = %error.kind(),
                    "{why}, but it could not be read again (the cached one stays in use): {error}"
                );
                false
            }
        }
    }
}

impl fmt::Debug for LiveKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveKeyring")
            .field("source", &self.source.describe())
            .field("keyring", &**self.current.load())
            .field("policy", &self.policy)
            .finish()
    }
}
