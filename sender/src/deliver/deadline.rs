//! [`Deadline`]: the time by which work must be over — a Lambda invocation's deadline, the end
//! of the visibility timeout a worker holds — less a margin for what comes after it.

use std::time::{Duration, Instant, SystemTime};

/// The default margin kept before a deadline: time to report what became of each job (send
/// rejections to a dead-letter queue, answer Lambda) once deliveries stop.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// When work must be over. Nothing is started that might not finish before the deadline less
/// its margin: a delivery attempt starts only if its whole timeout fits in the time left (see
/// [`Deadline::allows`]), and every attempt's timeout is bounded by that time anyway.
///
/// ```
/// use std::time::Duration;
/// use soketi_lambda_sender::deliver::Deadline;
/// let soon = Deadline::after(Duration::from_secs(10)).margin(Duration::from_secs(2));
/// assert!(soon.allows(Duration::from_secs(7)));
/// assert!(!soon.allows(Duration::from_secs(9)), "9 s do not fit in 10 s less 2");
/// assert!(Deadline::none().allows(Duration::from_secs(3600)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    at: Option<Instant>,
    margin: Duration,
}

impl Default for Deadline {
    fn default() -> Self {
        Deadline::none()
    }
}

impl Deadline {
    /// No deadline: only the retry policy bounds the work.
    pub fn none() -> Self {
        Deadline {
            at: None,
            margin: DEFAULT_DEADLINE_MARGIN,
        }
    }

    /// The work must be over at `at`, less [`DEFAULT_DEADLINE_MARGIN`].
    pub fn at(at: Instant) -> Self {
        Deadline {
            at: Some(at),
            margin: DEFAULT_DEADLINE_MARGIN,
        }
    }

    /// The work must be over `time` from now, less the margin.
    pub fn after(time: Duration) -> Self {
        Deadline::at(Instant::now() + time)
    }

    /// The work must be over at the wall-clock time `at` (a Lambda invocation's deadline), less
    /// the margin; a time already past leaves no time.
    pub fn at_system_time(at: SystemTime) -> Self {
        let left = at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        Deadline::after(left)
    }

    /// Sets the margin kept before the deadline.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The time left for work: until the deadline less the margin (zero once it passed);
    /// `None` without a deadline.
    pub fn left(&self) -> Option<Duration> {
        self.at.map(|at| {
            at.saturating_duration_since(Instant::now())
                .saturating_sub(self.margin)
        })
    }

    /// Whether work that may take `time` can start now and still be over in time.
    pub fn allows(&self, time: Duration) -> bool {
        self.left().is_none_or(|left| time <= left)
    }

    /// `timeout`, cut to the time left.
    pub fn bound(&self, timeout: Duration) -> Duration {
        self.left().map_or(timeout, |left| timeout.min(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_leaves_no_time() {
        let past = Deadline::at_system_time(SystemTime::now() - Duration::from_secs(5));
        assert_eq!(past.left(), Some(Duration::ZERO));
        assert!(past.allows(Duration::ZERO));
        assert!(!past.allows(Duration::from_millis(1)));
        assert_eq!(past.bound(Duration::from_secs(3)), Duration::ZERO);
        let far = Deadline::at_system_time(SystemTime::now() + Duration::from_secs(60));
        let left = far.left().expect("a deadline");
        assert!(left > Duration::from_secs(58) && left <= Duration::from_secs(59));
        assert_eq!(far.bound(Duration::from_secs(3)), Duration::from_secs(3));
        assert_eq!(Deadline::none().left(), None);
    }
}
