//! `soketi-lambda worker`: consume soketi's SQS webhook queue and deliver every job, until
//! SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
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
    #[arg(long, value_name = "FILE")]
    apps: PathBuf,
    /// Pollers, each with one batch in flight at most.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Messages per receive (1 to 10).
    #[arg(long, default_value_t = 10)]
    batch_size: u8,
    /// Long-polling wait of a receive, in seconds (0 to 20).
    #[arg(long, default_value_t = 20)]
    wait_seconds: u8,
    /// Visibility timeout of received messages, in seconds; extended every half of it while a
    /// batch is being delivered.
    #[arg(long, default_value_t = 60)]
    visibility_timeout: u64,
    /// The SQS endpoint (a local emulator). AWS_ENDPOINT_URL is honoured too.
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

/// `https://sqs.<region>.amazonaws.com/...` → `<region>`.
fn region_of(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut parts = host.split('.');
    (parts.next()? == "sqs").then_some(())?;
    let region = parts.next()?;
    (parts.next()? == "amazonaws").then(|| region.to_owned())
}

fn progress_line(progress: &WorkerProgress, started: Instant) -> String {
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    let jobs = progress.jobs.total();
    format!(
        "worker: {jobs} jobs in {seconds:.0} s ({:.1}/s): {}; {} in flight; {} receive errors, {} delete errors",
        jobs as f64 / seconds,
        progress.jobs,
        progress.in_flight,
        progress.receive_errors,
        progress.delete_errors
    )
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
    let apps = read_apps(&args.apps)?;
    if apps.is_empty() {
        return Err(CliError::usage(format!(
            "{} holds no app",
            args.apps.display()
        )));
    }
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
        .visibility_timeout(Duration::from_secs(args.visibility_timeout));
    runtime()?.block_on(async move {
        let sender = sender(apps, policy, args.endpoint_url.as_deref())
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
        if let Some(endpoint) = &args.sqs_endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(CliError::usage(
                "no region for the queue: give --region, or set AWS_REGION",
            ));
        }
        let worker = Worker::new(sender, aws_sdk_sqs::Client::new(&sdk), config);
        let started = Instant::now();
        let ticker = (args.progress_seconds > 0).then(|| {
            let worker = worker.clone();
            let every = Duration::from_secs(args.progress_seconds);
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.tick().await;
                loop {
                    interval.tick().await;
                    eprintln!("{}", progress_line(&worker.progress(), started));
                }
            })
        });
        eprintln!(
            "worker: delivering the jobs of {} ({} pollers); SIGINT or SIGTERM to stop",
            args.sqs_queue_url, args.concurrency
        );
        let result = worker
            .run(async {
                shutdown_signal().await;
                eprintln!("worker: stopping: finishing the batches in flight");
            })
            .await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        eprintln!("{}", progress_line(&worker.progress(), started));
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
}
