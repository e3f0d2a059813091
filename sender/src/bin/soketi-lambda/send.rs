//! `soketi-lambda send`: deliver events to an app's webhooks (or replay dead letters) and
//! print the report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use soketi_handler_kit::wire::Event;
use soketi_lambda_sender::config::Target;
use soketi_lambda_sender::deliver::{
    DeadLetterSink, DeliveryReport, Failure, Outcome, Replay, Report, Skipped, read_dead_letters,
};
use soketi_lambda_sender::route::Request;

use crate::error::CliError;
use crate::io::{print_json, read_events};
use crate::retry::retry_policy;
use crate::setup::{init_logs, read_apps, runtime, sender};

#[derive(Args)]
pub struct SendArgs {
    /// soketi's apps file: one app, or an array of apps, with their webhooks (as in soketi's
    /// `appManager.array.apps`).
    #[arg(long, value_name = "FILE", required_unless_present = "replay")]
    apps: Option<PathBuf>,
    /// Which app of the file (id or key), when it holds several.
    #[arg(long)]
    app_id: Option<String>,
    /// Send every Lambda invocation to this endpoint (a local emulator). AWS_ENDPOINT_URL is
    /// honoured too, as by the AWS SDK, below a webhook's client_options.endpoint.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Append every failed delivery to this JSON lines file (created with mode 0600; no
    /// secret, URL password or credential header value is stored in it).
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Send again the failed deliveries of a dead-letter file (byte for byte), instead of
    /// EVENTS. Each goes to the webhook of --apps it names (same app id, webhook index and
    /// target), with that webhook's credentials, URL and credential headers (not stored in the
    /// file). A line that cannot be read or sent is skipped and reported, the others are sent;
    /// the exit code is 1 if any was skipped or failed. With --dead-letter naming the same
    /// file, the file keeps only what is still to send, and whatever was appended meanwhile.
    #[arg(long, value_name = "FILE", conflicts_with = "events")]
    replay: Option<PathBuf>,
    /// With --replay: re-sign each payload with the app's current secret from --apps, stamped
    /// with a new time_ms (now, or --time-ms), for letters signed before a secret rotation or
    /// older than a receiver's max_age. The events are unchanged. Without it, the payload and
    /// signature are sent exactly as first signed.
    #[arg(long, requires = "replay")]
    resign: bool,
    /// With --replay: send letters whose webhook is not in --apps (or all, without --apps) to
    /// the target named in the file, with the AWS default credentials and no configured
    /// header or credential. Without it, such letters are skipped: the file could have been
    /// edited to name another endpoint.
    #[arg(long, requires = "replay")]
    unconfigured_targets: bool,
    /// The payload's time_ms (default: now).
    #[arg(long)]
    time_ms: Option<u64>,
    /// The process id named in the User-Agent (default: this process's).
    #[arg(long)]
    pid: Option<u32>,
    /// Attempts per request, the first included.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    max_attempts: u32,
    /// Timeout of one attempt, in milliseconds.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_ms: u64,
    /// Total time bound of one delivery, retries included, in milliseconds [default: 60000,
    /// or --timeout-ms if longer]. It bounds every attempt too, so it may not be shorter than
    /// --timeout-ms.
    #[arg(long)]
    max_elapsed_ms: Option<u64>,
    /// Send events whose name soketi does not send (without it, a name such as
    /// `member_joined` is refused as a likely typo).
    #[arg(long)]
    allow_unknown: bool,
    /// Events: JSON objects, or files of JSON lines, or `-` for JSON lines on standard input.
    #[arg(value_name = "EVENTS", required_unless_present = "replay")]
    events: Vec<String>,
}

pub fn run(args: SendArgs) -> Result<ExitCode, CliError> {
    init_logs();
    if args.replay.is_none() && (args.resign || args.unconfigured_targets) {
        return Err(CliError::usage(
            "--resign and --unconfigured-targets apply to --replay only",
        ));
    }
    let apps = match &args.apps {
        Some(path) => read_apps(path)?,
        None => Vec::new(),
    };
    let app_id = match (&args.app_id, apps.as_slice()) {
        (Some(id), _) => Some(id.clone()),
        (None, [only]) => Some(only.id.clone()),
        (None, _) if args.replay.is_some() => None,
        (None, []) => {
            let path = args.apps.as_deref().unwrap_or(Path::new("--apps"));
            return Err(CliError::usage(format!(
                "{} holds no app: give one app object or an array of apps",
                path.display()
            )));
        }
        (None, _) => {
            return Err(CliError::usage(
                "the apps file holds several apps: say which with --app-id",
            ));
        }
    };
    let policy = retry_policy(
        args.max_attempts,
        args.timeout_ms,
        args.max_elapsed_ms,
        60_000,
    )?;
    let mut builder = sender(apps, policy, args.endpoint_url.as_deref());
    if let Some(pid) = args.pid {
        builder = builder.process_id(pid);
    }
    let replay = match &args.replay {
        Some(path) => Some(read_dead_letters(path).map_err(|e| CliError::usage(e.to_string()))?),
        None => None,
    };
    let events = match replay {
        Some(_) => Vec::new(),
        None => read_events(&args.events, args.allow_unknown)?,
    };
    let rt = runtime()?;
    let sender = rt.block_on(builder.build())?;
    // Each letter resolved to its request, or skipped with the reason.
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut requests: Vec<Request> = Vec::new();
    if let Some(file) = &replay {
        let options = Replay::new().unconfigured_targets(args.unconfigured_targets);
        let options = if args.resign {
            options.resign_at(args.time_ms.unwrap_or_else(|| sender.now_ms()))
        } else {
            options
        };
        let plan = options.plan(file, sender.apps());
        for s in &plan.skipped {
            crate::io::stderr_line(format_args!(
                "soketi-lambda: {}: skipped {}",
                file.path.display(),
                s.reason
            ));
        }
        (requests, skipped) = (plan.requests, plan.skipped);
    }
    // Opened before anything is sent: a dead-letter file that cannot be written is a usage
    // error found up front, not after deliveries have failed with nowhere to record them.
    let keep: Vec<usize> = skipped.iter().map(|s| s.line).collect();
    let sink = match &args.dead_letter {
        Some(path) => Some(
            DeadLetterSink::for_replay(path, replay.as_ref(), &keep)
                .map_err(|e| CliError::usage(format!("cannot open {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let report = rt.block_on(async {
        match replay {
            Some(_) => {
                Ok::<Report, CliError>(Report::new(sender.deliver_all(requests).await, Vec::new()))
            }
            None => {
                let app = app_id.unwrap_or_default();
                let time_ms = args.time_ms.unwrap_or_else(|| sender.now_ms());
                sender
                    .send_at(&app, time_ms, events)
                    .await
                    .map_err(|e| CliError::usage(e.to_string()))
            }
        }
    })?;
    let stored = match sink {
        Some(sink) => sink.store(&report).map(drop),
        None => Ok(()),
    };
    print_json(&SendReport::new(&report, &skipped));
    if let Err(error) = stored {
        // The failed requests go to stderr then: nothing is lost without a record.
        for line in &error.lines {
            crate::io::stderr_line(format_args!("{line}"));
        }
        crate::io::stderr_line(format_args!(
            "soketi-lambda: {error}; the {} failed request(s) are printed above, one JSON line \
             each, instead",
            error.lines.len()
        ));
        return Ok(ExitCode::from(1));
    }
    if !report.unrouted.is_empty() {
        crate::io::stderr_line(format_args!("{}", unrouted_warning(&report.unrouted)));
    }
    Ok(if !report.is_success() || !skipped.is_empty() {
        ExitCode::from(1)
    } else if !report.unrouted.is_empty() {
        ExitCode::from(EXIT_UNROUTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The exit code of a send that delivered everything it sent, but found events that no
/// webhook of the app wants (so nothing was sent for them).
pub const EXIT_UNROUTED: u8 = 3;

/// The warning for events no webhook wanted: which, and what to check.
fn unrouted_warning(unrouted: &[Event]) -> String {
    let mut names: Vec<&str> = unrouted.iter().map(Event::name).collect();
    names.sort_unstable();
    names.dedup();
    format!(
        "soketi-lambda: warning: {} event(s) matched no webhook of the app, so nothing was sent \
         for them ({}): check the webhooks' event_types and filter in the apps file",
        unrouted.len(),
        names.join(", ")
    )
}

/// The report printed on standard output.
#[derive(Serialize)]
struct SendReport<'a> {
    ok: bool,
    delivered: usize,
    failed: usize,
    unrouted: usize,
    #[serde(skip_serializing_if = "<[Skipped]>::is_empty")]
    skipped: &'a [Skipped],
    deliveries: Vec<DeliveryLine<'a>>,
}

#[derive(Serialize)]
struct DeliveryLine<'a> {
    app_id: &'a str,
    webhook: usize,
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation_type: Option<&'static str>,
    time_ms: u64,
    events: Vec<&'a str>,
    status: &'static str,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a Failure>,
}

impl<'a> SendReport<'a> {
    fn new(report: &'a Report, skipped: &'a [Skipped]) -> Self {
        let deliveries: Vec<DeliveryLine<'a>> =
            report.deliveries.iter().map(DeliveryLine::new).collect();
        let delivered = report
            .deliveries
            .iter()
            .filter(|d| d.is_delivered())
            .count();
        SendReport {
            ok: report.is_success() && skipped.is_empty(),
            skipped,
            delivered,
            failed: report.deliveries.len() - delivered,
            unrouted: report.unrouted.len(),
            deliveries,
        }
    }
}

impl<'a> DeliveryLine<'a> {
    fn new(d: &'a DeliveryReport) -> Self {
        let r = &d.request;
        let (status, http_status, failure) = match &d.outcome {
            Outcome::Delivered(ok) => ("delivered", Some(ok.status), None),
            Outcome::Failed(f) => ("failed", f.status, Some(f)),
            _ => ("unknown", None, None),
        };
        DeliveryLine {
            app_id: &r.app_id,
            webhook: r.webhook,
            target: r.target.describe(),
            invocation_type: match &r.target {
                Target::Lambda(l) => Some(l.mode.as_str()),
                _ => None,
            },
            time_ms: r.time_ms,
            events: r.events.iter().map(Event::name).collect(),
            status,
            attempts: d.attempts(),
            http_status,
            failure,
        }
    }
}
