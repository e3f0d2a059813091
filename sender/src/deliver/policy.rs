//! The retry policy: how many attempts, how long to wait between them, how long in all.

use std::time::Duration;

/// How hard to try. Every bound holds together: at most `max_attempts` attempts that failed
/// for a reason other than throttling plus at most `max_throttled_attempts` throttled ones,
/// each cut at `attempt_timeout`, and no new attempt or wait once `max_elapsed` has passed
/// since the first one started.
///
/// Throttling (429, `TooManyRequestsException`, `EC2ThrottledException`) says "later", not
/// "broken": with the defaults it is retried for up to about a minute (`max_elapsed`), where
/// other transient errors give up after five attempts (about 1.5 s of waits). A
/// `Retry-After` answer (seconds or an HTTP date) is honoured: the next attempt waits at
/// least that long, but never more than `max_retry_after` (default 20 s), and not at all if
/// the wait would pass `max_elapsed` (the delivery then fails with what the server said).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts that failed for a reason other than throttling, the first included
    /// (default 5; 1 = no retry).
    pub max_attempts: u32,
    /// Throttled attempts (default 20, which the default `max_elapsed` of 60 s bounds first;
    /// 1 = no retry of throttling).
    pub max_throttled_attempts: u32,
    /// The longest wait a `Retry-After` answer may impose (default 20 s).
    pub max_retry_after: Duration,
    /// The wait before the first retry (default 100 ms); it doubles each retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts (default 5 s).
    pub max_backoff: Duration,
    /// The total time a delivery may take, waits and attempts included (default 60 s).
    pub max_elapsed: Duration,
    /// The longest one attempt may take (default 30 s). A `RequestResponse` invocation waits
    /// for the function: make this longer than the function's own timeout if it runs long.
    pub attempt_timeout: Duration,
    /// The longest a connection may take to open (default 3 s).
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_throttled_attempts: 20,
            max_retry_after: Duration::from_secs(20),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// No retry: one attempt only, throttled or not.
    pub fn no_retry() -> Self {
        RetryPolicy::default()
            .max_attempts(1)
            .max_throttled_attempts(1)
    }

    /// Sets the number of attempts that may fail for a reason other than throttling (at
    /// least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the number of attempts that may be throttled (at least 1).
    pub fn max_throttled_attempts(mut self, attempts: u32) -> Self {
        self.max_throttled_attempts = attempts.max(1);
        self
    }

    /// Sets the longest wait a `Retry-After` answer may impose.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The wait before the next attempt: the backoff of retry number `retry`, or longer if
    /// the server asked for it (`retry_after`, bounded by `max_retry_after`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use soketi_lambda_sender::deliver::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert_eq!(p.wait_before(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
    /// assert_eq!(p.wait_before(1, Some(Duration::from_secs(3600))), p.max_retry_after);
    /// assert!(p.wait_before(1, None) <= Duration::from_millis(100));
    /// ```
    pub fn wait_before(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self.backoff_before(retry);
        match retry_after {
            Some(asked) => asked.min(self.max_retry_after).max(backoff),
            None => backoff,
        }
    }

    /// Sets the first wait and the longest wait between attempts.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the total time bound.
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// Sets the per-attempt timeout.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The wait before retry number `retry` (1-based): exponential, capped, with jitter
    /// (uniform between half and all of the capped exponential value).
    ///
    /// ```
    /// use std::time::Duration;
    /// use soketi_lambda_sender::deliver::RetryPolicy;
    /// let p = RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(300));
    /// for _ in 0..100 {
    ///     let third = p.backoff_before(3); // 400 ms capped to 300 ms, jittered
    ///     assert!(third >= Duration::from_millis(150) && third <= Duration::from_millis(300));
    /// }
    /// ```
    pub fn backoff_before(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let capped = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = capped / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(fastrand::u64(0..=jitter_ms))
    }
}
