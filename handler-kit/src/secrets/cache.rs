//! [`CachedSecret<T>`]: a secret's texts parsed into `T`, read at start and swapped when read
//! again. The read path loads it without a lock (`arc_swap`); deciding whether to read again
//! is an atomic time stamp for the periodic read and an atomic token bucket for the mismatch
//! reads, so concurrent callers start at most one periodic read, and mismatches at most as
//! many reads as the bucket holds.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::{RefreshPolicy, SecretError, SecretErrorKind, SecretSource, SecretText};

type Parse<T> = Box<dyn Fn(&SecretText) -> Result<T, String> + Send + Sync>;

/// A secret's texts, parsed into `T` and kept current: read from a [`SecretSource`] at start
/// (a source that cannot be read, or whose text does not parse, fails the start), read again
/// when older than [`RefreshPolicy::every`], and on demand after a mismatch within the
/// policy's token bucket. A failed read keeps the cached value (logged). The kit's keyring is
/// one `CachedSecret<Keyring>`; any other reading of a secret's text shares the same code.
///
/// ```
/// use soketi_handler_kit::secrets::{CachedSecret, FetchFuture, RefreshPolicy, SecretSource, SecretText};
///
/// struct Fixed;
/// impl SecretSource for Fixed {
///     fn fetch(&self) -> FetchFuture<'_> {
///         Box::pin(async { Ok(SecretText::new("42")) })
///     }
///     fn describe(&self) -> String {
///         "a fixed secret".into()
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let number = CachedSecret::start(Fixed, RefreshPolicy::new(), |texts: &SecretText| {
///     texts.current().parse::<u32>()
/// })
/// .await?;
/// number.refresh_if_old().await;
/// assert_eq!(*number.get(), 42);
/// # Ok::<(), soketi_handler_kit::secrets::SecretError>(())
/// # }).unwrap();
/// ```
pub struct CachedSecret<T> {
    current: ArcSwap<T>,
    source: Box<dyn SecretSource>,
    parse: Parse<T>,
    policy: RefreshPolicy,
    /// The origin of the time stamps below (milliseconds since it).
    epoch: Instant,
    /// When the secret was last read (successfully or not) because it was old.
    read_at: AtomicU64,
    /// The mismatch token bucket, as the time at which it is full again (milliseconds since
    /// `epoch`): a read is allowed while that time is at most `burst - 1` intervals ahead.
    full_at: AtomicU64,
}

impl<T: Send + Sync + 'static> CachedSecret<T> {
    /// Reads `source` once and parses its texts with `parse`: the start fails when either
    /// fails. A parse error becomes a [`SecretErrorKind::Malformed`] error naming the source;
    /// it must not quote the text.
    pub async fn start<E: fmt::Display>(
        source: impl SecretSource,
        policy: RefreshPolicy,
        parse: impl Fn(&SecretText) -> Result<T, E> + Send + Sync + 'static,
    ) -> Result<Self, SecretError> {
        let parse: Parse<T> = Box::new(move |texts| parse(texts).map_err(|e| e.to_string()));
        let source: Box<dyn SecretSource> = Box::new(source);
        let value = read(&*source, &parse).await?;
        tracing::debug!(source = %source.describe(), "secret read");
        Ok(CachedSecret {
            current: ArcSwap::from_pointee(value),
            source,
            parse,
            policy,
            epoch: Instant::now(),
            read_at: AtomicU64::new(0),
            full_at: AtomicU64::new(0),
        })
    }

    /// The value now.
    pub fn get(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// The value now, without touching its reference count (the verification path).
    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<T>> {
        self.current.load()
    }

    /// Reads the secret again if the cached value is older than the policy allows; of
    /// concurrent callers, one reads. True when a new value was read.
    pub async fn refresh_if_old(&self) -> bool {
        if !self.claim_periodic(self.policy.every) {
            return false;
        }
        self.read_again("the cached secret is due for a re-read")
            .await
    }

    /// After a signature mismatch: reads the secret again if the token bucket holds a read.
    /// True when a new value was read (then check again with it).
    pub async fn refresh_on_mismatch(&self) -> bool {
        if !self.take_mismatch_token() {
            return false;
        }
        // A mismatch read also counts as the periodic one.
        self.read_at.store(self.now(), Ordering::Release);
        self.read_again("a signature did not match the cached secret")
            .await
    }

    /// What is read, for messages (the source's description).
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX / 2)
    }

    /// Claims the periodic read when the last one is at least `interval` old: only one of
    /// concurrent callers wins.
    fn claim_periodic(&self, interval: Duration) -> bool {
        let now = self.now();
        let last = self.read_at.load(Ordering::Acquire);
        now.saturating_sub(last) >= millis(interval)
            && self
                .read_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Takes a token of the mismatch bucket (the generic cell rate algorithm: one atomic time
    /// stamp, no lock, no timer).
    fn take_mismatch_token(&self) -> bool {
        let interval = millis(self.policy.on_mismatch);
        let tolerance =
            interval.saturating_mul(u64::from(self.policy.mismatch_burst.saturating_sub(1)));
        loop {
            let now = self.now();
            let full_at = self.full_at.load(Ordering::Acquire);
            let from = full_at.max(now);
            if from - now > tolerance {
                return false;
            }
            if self
                .full_at
                .compare_exchange(
                    full_at,
                    from.saturating_add(interval),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                return true;
            }
        }
    }

    async fn read_again(&self, why: &str) -> bool {
        match read(&*self.source, &self.parse).await {
            Ok(value) => {
                tracing::debug!(source = %self.source.describe(), "secret read again: {why}");
                self.current.store(Arc::new(value));
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2)
}

/// Reads `source` and parses its texts.
async fn read<T>(source: &dyn SecretSource, parse: &Parse<T>) -> Result<T, SecretError> {
    let texts = source.fetch().await?;
    parse(&texts)
        .map_err(|reason| SecretError::new(SecretErrorKind::Malformed, source.describe(), reason))
}

/// The source and the policy; never the value (it may hold secrets).
impl<T> fmt::Debug for CachedSecret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSecret")
            .field("source", &self.source.describe())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
