//! `soketi-lambda worker`: consume soketi's SQS webhook queue and deliver every job, until
//! SIGINT or SIGTERM.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use soketi_handler_kit::secrets::{RefreshPolicy, SecretSource};
use soketi_lambda_sender::Sender;
use soketi_lambda_sender::jobs::{JobSender, parse_apps_secret};
use soketi_lambda_sender::worker::{Worker, WorkerConfig, WorkerProgress};

use crate::error::CliError;
use crate::retry::retry_policy;
use crate::setup::{init_logs, read_apps, runtime, sender};

#[derive(Args)]
pub struct WorkerArgs {
    /// The queue soketi writes its webhook jobs to (its queue.sqs.queueUrl).
    #[arg(long, value_name = "URL")]
    sqs_queue_url: String,
    /// soketi's apps (with their webhooks; `previous_secrets` accepted on jobs too).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["apps_secret_arn", "apps_parameter"], conflicts_with_all = ["apps_secret_arn", "apps_parameter"])]
    apps: Option<PathBuf>,
    /// soketi's apps JSON from a Secrets Manager secret (ARN or name): AWSCURRENT, with
    /// AWSPREVIOUS's secrets accepted on jobs; read again every 5 minutes and when a job names
    /// an unknown key or signature. No secret on the command line or in a file.
    #[arg(long, value_name = "ARN", conflicts_with = "apps_parameter")]
    apps_secret_arn: Option<String>,
    /// soketi's apps JSON from an SSM SecureString parameter, read decrypted (as
    /// --apps-secret-arn).
    #[arg(long, value_name = "NAME")]
    apps_parameter: Option<String>,
    /// Pollers, each with one batch in flight at most.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Messages per receive (1 to 10).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=10))]
    batch_size: u8,
    /// Long-polling wait of a receive, in seconds (0 to 20).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(0..=20))]
    wait_seconds: u8,
    /// Receives in a row that may fail (queue unreachable, no credentials) before the worker
    /// exits with status 1.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_receive_failures: u32,
    /// Rejected jobs (unknown app, bad signature, malformed) are sent to this dead-letter
    /// queue at once (needs sqs:SendMessage on it); without it they are made visible again at
    /// once and the queue's redrive policy moves them.
    #[arg(long, value_name = "URL")]
    dead_letter_queue_url: Option<String>,
    /// Deliver each job as its own payload instead of a message group's jobs coalesced per
    /// webhook.
    #[arg(long)]
    no_coalesce: bool,
    /// Exit (status 0, with the totals) once a receive finds the queue empty.
    #[arg(long)]
    drain: bool,
    /// Print one CloudWatch Embedded Metric Format line per batch on standard output
    /// (namespace SoketiLambda, dimension Function=soketi-lambda-worker).
    #[arg(long)]
    metrics: bool,
    /// Visibility timeout of received messages, in seconds; extended every half of it while a
    /// batch is being delivered.
    #[arg(long, default_value_t = 60)]
    visibility_timeout: u64,
    /// The SQS endpoint [default: the queue URL's own, when it is not AWS's]. AWS_ENDPOINT_URL
    /// is honoured for AWS URLs.
    #[arg(long, value_name = "URL")]
    sqs_endpoint_url: Option<String>,
    /// The queue's region (default: from the queue URL, else the AWS default region chain).
    #[arg(long)]
    region: Option<String>,
    /// Send every Lambda invocation to this endpoint (a local emulator).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Attempts per request, the first included.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Timeout of one attempt, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Total time bound of one delivery, retries included, in milliseconds [default: 20000,
    /// or --timeout-ms if longer]. It bounds every attempt too, so it may not be shorter than
    /// --timeout-ms.
    #[arg(long)]
    max_elapsed_ms: Option<u64>,
    /// Seconds between progress lines on standard error (0: only the last one).
    #[arg(long, default_value_t = 10)]
    progress_seconds: u64,
}

/// The endpoint of a queue URL that is not AWS's (`http://127.0.0.1:9324/000/q.fifo` →
/// `http://127.0.0.1:9324`): a local SQS is reached where its URL says, with no
/// --sqs-endpoint-url. AWS's own URLs give `None`: the region's endpoint is resolved by the SDK
/// (and AWS_ENDPOINT_URL is honoured).
fn local_endpoint_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let aws = name.ends_with(".amazonaws.com") || name.ends_with(".amazonaws.com.cn");
    (!aws).then(|| format!("{scheme}://{host}"))
}

/// `https://sqs.<region>.amazonaws.com/...` → `<region>`.
fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut parts = host.split('.');
    (parts.next()? == "sqs").then_some(())?;
    let region = parts.next()?;
    (parts.next()? == "amazonaws").then(|| region.to_owned())
}

/// The progress line: jobs done (delivered, or moved to the dead-letter queue) in all and per
/// second since the previous line (`last`: its time and jobs done), then each outcome.
fn progress_line(progress: &WorkerProgress, started: Instant, last: (Instant, u64)) -> String {
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    let done = progress.jobs.delivered as u64 + progress.dead_lettered;
    let interval = last.0.elapsed().as_secs_f64().max(0.001);
    format!(
        "worker: {done} jobs done in {seconds:.0} s ({:.1}/s): {}; {} dead-lettered; {} in \
         flight; {} receive errors, {} delete errors",
        done.saturating_sub(last.1) as f64 / interval,
        progress.jobs,
        progress.dead_lettered,
        progress.in_flight,
        progress.receive_errors,
        progress.delete_errors
    )
}

/// The apps' sender: `base` with the apps of --apps, or kept current from the store
/// --apps-secret-arn or --apps-parameter names (read now: one that cannot be read fails here).
async fn job_sender(args: &WorkerArgs, base: Sender) -> Result<JobSender, CliError> {
    let Some((name, source)) = apps_store(args).await? else {
        return Ok(JobSender::fixed(base));
    };
    JobSender::from_secret(&base, source, RefreshPolicy::new(), parse_apps_secret)
        .await
        .map_err(|e| CliError::failed(format!("{name}: {e}")))
}

/// The store holding soketi's apps: its flag, and the source that reads it; none with --apps.
type AppsStore = Option<(&'static str, Box<dyn SecretSource>)>;

/// The secret store --apps-secret-arn or --apps-parameter names, if one does.
#[cfg(feature = "secret-stores")]
async fn apps_store(args: &WorkerArgs) -> Result<AppsStore, CliError> {
    use soketi_handler_kit::secrets::{SecretsManagerSecret, SsmParameter};
    Ok(match (&args.apps_secret_arn, &args.apps_parameter) {
        (Some(arn), _) => {
            let aws = soketi_handler_kit::aws::config_loader().load().await;
            let client = aws_sdk_secretsmanager::Client::new(&aws);
            Some((
                "--apps-secret-arn",
                Box::new(SecretsManagerSecret::new(client, arn)),
            ))
        }
        (None, Some(parameter)) => {
            let aws = soketi_handler_kit::aws::config_loader().load().await;
            let client = aws_sdk_ssm::Client::new(&aws);
            Some((
                "--apps-parameter",
                Box::new(SsmParameter::new(client, parameter)),
            ))
        }
        (None, None) => None,
    })
}

/// Built without the feature `secret-stores`: a store named on the command line is a usage
/// error that says how to get one.
#[cfg(not(feature = "secret-stores"))]
async fn apps_store(args: &WorkerArgs) -> Result<AppsStore, CliError> {
    match (&args.apps_secret_arn, &args.apps_parameter) {
        (None, None) => Ok(None),
        _ => Err(CliError::usage(
            "this soketi-lambda was built without the feature `secret-stores`, so it cannot \
             read --apps-secret-arn or --apps-parameter: give --apps FILE, or install it with \
             its default features",
        )),
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(args: WorkerArgs) -> Result<ExitCode, CliError> {
    init_logs();
    let apps = match &args.apps {
        Some(path) => {
            let apps = read_apps(path)?;
            if apps.is_empty() {
                return Err(CliError::usage(format!("{} holds no app", path.display())));
            }
            apps
        }
        None => Vec::new(),
    };
    let policy = retry_policy(
        args.max_attempts,
        args.timeout_ms,
        args.max_elapsed_ms,
        20_000,
    )?;
    let config = WorkerConfig::new(&args.sqs_queue_url)
        .concurrency(args.concurrency)
        .batch_size(args.batch_size)
        .wait_seconds(args.wait_seconds)
        .visibility_timeout(Duration::from_secs(args.visibility_timeout))
        .max_receive_failures(args.max_receive_failures)
        .drain(args.drain);
    let config = match args.metrics {
        true => config.metrics_function("soketi-lambda-worker"),
        false => config,
    };
    let config = match &args.dead_letter_queue_url {
        Some(url) => config.dead_letter_queue_url(url),
        None => config,
    };
    runtime()?.block_on(async move {
        let sender = sender(apps, policy, args.endpoint_url.as_deref())
            .coalesce_jobs(!args.no_coalesce)
            .build()
            .await?;
        let mut loader = soketi_handler_kit::aws::config_loader();
        if let Some(region) = args
            .region
            .clone()
            .or_else(|| region_of(&args.sqs_queue_url))
        {
            loader = loader.region(aws_config::Region::new(region));
        }
        let endpoint = args
            .sqs_endpoint_url
            .clone()
            .or_else(|| local_endpoint_of(&args.sqs_queue_url));
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(CliError::usage(
                "no region for the queue: give --region, or set AWS_REGION",
            ));
        }
        let jobs = job_sender(&args, sender).await?;
        let worker = Worker::new(jobs, aws_sdk_sqs::Client::new(&sdk), config);
        let started = Instant::now();
        let ticker = (args.progress_seconds > 0).then(|| {
            let worker = worker.clone();
            let every = Duration::from_secs(args.progress_seconds);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.tick().await;
                let mut last = (started, 0);
                loop {
                    interval.tick().await;
                    let progress = worker.progress();
                    let _ = writeln!(
                        std::io::stderr(),
                        "{}",
                        progress_line(&progress, started, last)
                    );
                    last = (
                        Instant::now(),
                        progress.jobs.delivered as u64 + progress.dead_lettered,
                    );
                }
            })
        });
        let _ = writeln!(
            std::io::stderr(),
            "worker: delivering the jobs of {} ({} pollers); SIGINT or SIGTERM to stop",
            args.sqs_queue_url,
            args.concurrency
        );
        let result = worker
            .run(async {
                shutdown_signal().await;
                let _ = writeln!(
                    std::io::stderr(),
                    "worker: stopping: finishing the batches in flight"
                );
            })
            .await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            progress_line(&worker.progress(), started, (started, 0))
        );
        match result {
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(CliError::failed(e.to_string())),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::region_of;

    #[test]
    fn the_region_comes_from_an_aws_queue_url_only() {
        assert_eq!(
            region_of("https://sqs.eu-west-1.amazonaws.com/123456789012/soketi.fifo").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of("http://127.0.0.1:5000/123456789012/q.fifo"), None);
        assert_eq!(region_of("not a url"), None);
    }

    #[test]
    fn a_local_queue_url_is_its_own_endpoint() {
        use super::local_endpoint_of;
        assert_eq!(
            local_endpoint_of("http://127.0.0.1:9324/000000000000/q.fifo").as_deref(),
            Some("http://127.0.0.1:9324")
        );
        assert_eq!(
            local_endpoint_of("https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo"),
            None
        );
        assert_eq!(local_endpoint_of("not a url"), None);
    }
}
