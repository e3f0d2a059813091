//! What the commands that deliver (`send`, `worker`) set up alike: the logs, the async
//! runtime, the apps of soketi's apps file, the sender (its retry policy is
//! [`retry`](crate::retry)'s).

use std::path::Path;

use soketi_lambda_sender::config::{App, parse_apps_file};
use soketi_lambda_sender::deliver::RetryPolicy;
use soketi_lambda_sender::{Sender, SenderBuilder};

use crate::error::CliError;
use crate::io::read_text;

/// The log filter without `RUST_LOG`: the tool's warnings, but not the AWS SDK's own chatter
/// (a missing region or credentials make `aws_config` print long provider-chain warnings
/// before the tool's own message says what to set). `RUST_LOG=warn` shows them again.
pub const DEFAULT_LOG_FILTER: &str = "warn,aws_config=error,aws_smithy_runtime=error,aws_smithy_runtime_api=error,aws_sdk_lambda=error,aws_sdk_sqs=error";

/// Logs on standard error: [`DEFAULT_LOG_FILTER`] unless `RUST_LOG` says otherwise.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed standard error loses log lines, never the exit code (tracing would report
        // the failed write with eprintln!, which panics).
        .log_internal_errors(false)
        .try_init();
}

/// The async runtime the sender runs on (two worker threads).
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))
}

/// The apps of soketi's apps file at `path`; an error names the file and the field.
pub fn read_apps(path: &Path) -> Result<Vec<App>, CliError> {
    parse_apps_file(&read_text(path)?)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// A sender of `apps` retrying under `policy`, its Lambda invocations sent to `endpoint_url`
/// when given.
pub fn sender(apps: Vec<App>, policy: RetryPolicy, endpoint_url: Option<&str>) -> SenderBuilder {
    let builder = Sender::builder().apps(apps).retry_policy(policy);
    match endpoint_url {
        Some(endpoint) => builder.endpoint_override(endpoint),
        None => builder,
    }
}
