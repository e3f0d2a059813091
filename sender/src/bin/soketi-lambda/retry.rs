//! The delivery flags that `send` and `worker` share: `--max-attempts`, `--timeout-ms`,
//! `--max-elapsed-ms`, checked together so that no flag is silently cut short by another.

use std::time::Duration;

use soketi_lambda_sender::deliver::RetryPolicy;

use crate::error::CliError;

/// The retry policy the three flags ask for. `--max-elapsed-ms` bounds every attempt, so an
/// explicit one shorter than `--timeout-ms` is a usage error (the attempt timeout could never be
/// reached); left out, it is `default_max_elapsed_ms` or `--timeout-ms`, whichever is longer.
pub fn retry_policy(
    max_attempts: u32,
    timeout_ms: u64,
    max_elapsed_ms: Option<u64>,
    default_max_elapsed_ms: u64,
) -> Result<RetryPolicy, CliError> {
    let timeout_ms = timeout_ms.max(1);
    let max_elapsed_ms = match max_elapsed_ms {
        Some(bound) if bound < timeout_ms => {
            return Err(CliError::usage(format!(
                "--timeout-ms {timeout_ms} is longer than --max-elapsed-ms {bound}, which bounds \
                 every attempt: raise --max-elapsed-ms to at least {timeout_ms} (or leave it out)"
            )));
        }
        Some(bound) => bound,
        None => default_max_elapsed_ms.max(timeout_ms),
    };
    Ok(RetryPolicy::default()
        .max_attempts(max_attempts)
        .attempt_timeout(Duration::from_millis(timeout_ms))
        .max_elapsed(Duration::from_millis(max_elapsed_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_attempt_timeout_raises_the_default_total_bound_instead_of_being_cut_short() {
        let policy = retry_policy(5, 120_000, None, 60_000).expect("valid");
        assert_eq!(policy.attempt_timeout, Duration::from_secs(120));
        assert_eq!(policy.max_elapsed, Duration::from_secs(120));

        let policy = retry_policy(5, 30_000, None, 60_000).expect("valid");
        assert_eq!(
            policy.max_elapsed,
            Duration::from_secs(60),
            "the default otherwise"
        );

        let policy = retry_policy(5, 30_000, Some(90_000), 60_000).expect("valid");
        assert_eq!(policy.max_elapsed, Duration::from_secs(90), "as given");
    }

    #[test]
    fn an_explicit_total_bound_shorter_than_one_attempt_is_a_usage_error() {
        match retry_policy(5, 120_000, Some(60_000), 60_000) {
            Err(CliError::Usage(message)) => assert!(
                message.contains("--max-elapsed-ms") && message.contains("120000"),
                "{message}"
            ),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }
}
