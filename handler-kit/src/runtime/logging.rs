//! The function's log (feature `runtime`): [`init_tracing`], which reads Lambda's log settings
//! as lambda_runtime's own default subscriber does, with tracing-subscriber's `Targets` filter
//! instead of its `EnvFilter`. `EnvFilter` brings a regex engine along for span and field-value
//! filters, a large part of a deployed bootstrap that a webhook function's log does not need.

use std::io::Write as _;
use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the Lambda log subscriber unless one is already set. [`run`](crate::run) calls it;
/// call it yourself to log before `run`.
///
/// It follows the function's log settings, as lambda_runtime's default subscriber does: JSON
/// lines with `AWS_LAMBDA_LOG_FORMAT=JSON` (text otherwise), on standard output, without
/// timestamps (Lambda adds them). The filter: the directives of `RUST_LOG` when it has any
/// (`info`, `warn,soketi_handler_kit=debug`, `my_function=trace`: a level, a target and a
/// level, or a target alone for all of it); without one, every target at the level
/// `AWS_LAMBDA_LOG_LEVEL` (or else `RUST_LOG`) names, `INFO` if neither names a level. A
/// directive it cannot read is ignored, with a line on standard error saying why; span and
/// field-value filters (`target[span{field=value}]=level`) are among those.
pub fn init_tracing() {
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let var = |name| std::env::var(name).ok();
    let filter = log_filter(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("RUST_LOG").as_deref(),
    );
    let json =
        var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|format| format.eq_ignore_ascii_case("json"));
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let subscriber = tracing_subscriber::registry().with(filter);
    // Set by another thread since the check above: that subscriber stays, as it would have
    // a moment earlier.
    let _ = if json {
        subscriber.with(lines.json()).try_init()
    } else {
        subscriber.with(lines).try_init()
    };
}

/// The log filter from `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG` (see [`init_tracing`]). Invalid
/// directives of `RUST_LOG` are reported on standard error and left out.
fn log_filter(lambda_log_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let directives: Vec<&str> = rust_log
        .unwrap_or_default()
        .split(',')
        .filter(|directive| !directive.is_empty())
        .filter(|directive| match Targets::from_str(directive) {
            Ok(_) => true,
            Err(error) => {
                // Not eprintln!: a closed standard error must not panic the function.
                let _ = writeln!(
                    std::io::stderr(),
                    "ignoring `{directive}` in RUST_LOG: {error}"
                );
                false
            }
        })
        .collect();
    // Each directive parsed alone above, so together they parse too.
    if !directives.is_empty()
        && let Ok(targets) = Targets::from_str(&directives.join(","))
    {
        return targets;
    }
    let level = lambda_log_level
        .or(rust_log)
        .and_then(|level| LevelFilter::from_str(level).ok())
        .unwrap_or(LevelFilter::INFO);
    Targets::new().with_default(level)
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::filter::Targets;

    use super::log_filter;

    /// The most verbose level `filter` lets through for `target` (`None`: nothing).
    fn most_verbose(filter: &Targets, target: &str) -> Option<Level> {
        [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .into_iter()
        .find(|level| filter.would_enable(target, level))
    }

    /// `log_filter(lambda_log_level, rust_log)`'s level for `target`.
    fn level(
        lambda_log_level: Option<&str>,
        rust_log: Option<&str>,
        target: &str,
    ) -> Option<Level> {
        most_verbose(&log_filter(lambda_log_level, rust_log), target)
    }

    #[test]
    fn info_for_every_target_without_settings() {
        assert_eq!(level(None, None, "example_function"), Some(Level::INFO));
    }

    #[test]
    fn the_lambda_log_level_when_rust_log_has_no_directive() {
        assert_eq!(level(Some("DEBUG"), None, "aws_config"), Some(Level::DEBUG));
        assert_eq!(
            level(Some("ERROR"), Some(""), "soketi_handler_kit"),
            Some(Level::ERROR)
        );
    }

    #[test]
    fn an_unknown_lambda_log_level_is_info() {
        // Lambda's FATAL has no tracing level; nor has a typo.
        assert_eq!(level(Some("FATAL"), None, "x"), Some(Level::INFO));
    }

    #[test]
    fn rust_log_directives_per_target() {
        let rust_log = Some("warn,soketi_handler_kit=debug");
        assert_eq!(
            level(None, rust_log, "soketi_handler_kit::router"),
            Some(Level::DEBUG)
        );
        assert_eq!(
            level(None, rust_log, "soketi_handler_kit"),
            Some(Level::DEBUG)
        );
        assert_eq!(level(None, rust_log, "hyper"), Some(Level::WARN));
    }

    #[test]
    fn rust_log_directives_win_over_the_lambda_log_level() {
        // As lambda_runtime's own subscriber: the level is only the default when RUST_LOG
        // gives no directive.
        assert_eq!(level(Some("DEBUG"), Some("error"), "x"), Some(Level::ERROR));
    }

    #[test]
    fn unreadable_directives_are_left_out() {
        let rust_log = Some("a=loud,b[{x=1}]=debug");
        assert_eq!(level(None, rust_log, "a"), Some(Level::INFO));
        assert_eq!(level(None, rust_log, "b"), Some(Level::INFO));
        assert_eq!(level(None, rust_log, "x"), Some(Level::INFO));
        assert_eq!(level(None, Some("a=loud,debug"), "x"), Some(Level::DEBUG));
    }
}
