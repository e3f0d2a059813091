//! `soketi-lambda`: sign, send and verify soketi webhooks from the command line.
//!
//! Exit codes: 0 success; 1 a delivery failed (`send`) or the webhook was rejected (`verify`);
//! 2 usage or configuration errors.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::value::RawValue;
use soketi_handler_kit::wire::headers::user_agent;
use soketi_handler_kit::wire::{Event, Payload, Secret, now_ms};
use soketi_handler_kit::{Keyring, Rejection, Verifier};
use soketi_lambda_sender::Sender;
use soketi_lambda_sender::config::{Target, apps_from_json};
use soketi_lambda_sender::deliver::{DeadLetter, DeliveryReport, Outcome, Report, RetryPolicy};
use soketi_lambda_sender::input::{parse_event, parse_event_lines};

#[derive(Parser)]
#[command(
    name = "soketi-lambda",
    version,
    about = "Sign, send and verify soketi webhooks ({payload, headers} Lambda invocations and HTTP posts), byte for byte as soketi sends them.",
    after_help = "Exit codes: 0 success; 1 a delivery failed, a webhook was rejected, or output could not be written; 2 a usage or configuration error (nothing was sent)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the Lambda invocation body soketi would send for EVENTS (for
    /// `cargo lambda invoke --data-file`).
    Sign(SignArgs),
    /// Deliver EVENTS to every matching webhook of an app and print the report; exit 1 if any
    /// delivery failed.
    Send(SendArgs),
    /// Check a recorded Lambda body (or, with --http, an HTTP body) and print what it holds;
    /// exit 0 when valid, 1 when rejected.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct SignArgs {
    /// The app key (X-Pusher-Key).
    #[arg(long)]
    key: String,
    /// The app secret. Also read from SOKETI_SECRET, which keeps it out of the shell history
    /// and the process list.
    #[arg(long, env = "SOKETI_SECRET", hide_env_values = true)]
    secret: String,
    /// The payload's time_ms (default: now).
    #[arg(long)]
    time_ms: Option<u64>,
    /// The process id named in the User-Agent (default: this process's).
    #[arg(long)]
    pid: Option<u32>,
    /// A custom header, NAME:VALUE (repeatable). One space after the colon is a separator;
    /// the rest of the value is sent verbatim, spaces included.
    #[arg(long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// Events: JSON objects, or files of JSON lines, or `-` for JSON lines on standard input.
    #[arg(required = true, value_name = "EVENTS")]
    events: Vec<String>,
}

#[derive(Args)]
struct SendArgs {
    /// soketi app configuration (one app, or an array of apps) with its webhooks.
    #[arg(long, value_name = "FILE", required_unless_present = "replay")]
    app: Option<PathBuf>,
    /// Which app of the file (id or key), when it holds several.
    #[arg(long)]
    app_id: Option<String>,
    /// Send every Lambda invocation to this endpoint (a local emulator). AWS_ENDPOINT_URL is
    /// honoured too, as by the AWS SDK, below a webhook's client_options.endpoint.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Append every failed delivery to this JSON lines file.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Send again the failed deliveries of a dead-letter file (byte for byte), instead of
    /// EVENTS. With --app, its webhooks' credentials are used.
    #[arg(long, value_name = "FILE", conflicts_with = "events")]
    replay: Option<PathBuf>,
    /// The payload's time_ms (default: now).
    #[arg(long)]
    time_ms: Option<u64>,
    /// The process id named in the User-Agent (default: this process's).
    #[arg(long)]
    pid: Option<u32>,
    /// Attempts per request, the first included.
    #[arg(long, default_value_t = 5)]
    max_attempts: u32,
    /// Timeout of one attempt, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Total time bound of one delivery, retries included, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    max_elapsed_ms: u64,
    /// Events: JSON objects, or files of JSON lines, or `-` for JSON lines on standard input.
    #[arg(value_name = "EVENTS", required_unless_present = "replay")]
    events: Vec<String>,
}

#[derive(Args)]
struct VerifyArgs {
    /// The app secret. Also read from SOKETI_SECRET, which keeps it out of the shell history
    /// and the process list; --apps takes precedence over it.
    #[arg(
        long,
        env = "SOKETI_SECRET",
        hide_env_values = true,
        required_unless_present = "apps"
    )]
    secret: Option<String>,
    /// soketi app configuration (apps with key and secret), or a JSON map of key to secret.
    #[arg(long, value_name = "FILE")]
    apps: Option<PathBuf>,
    /// The app key: the one the webhook must name (Lambda), or the X-Pusher-Key value (--http).
    #[arg(long)]
    key: Option<String>,
    /// FILE is an HTTP webhook body, signed by --signature.
    #[arg(long, requires = "signature")]
    http: bool,
    /// The X-Pusher-Signature of the HTTP body.
    #[arg(long, requires = "http")]
    signature: Option<String>,
    /// The recorded body, or `-` for standard input.
    file: PathBuf,
}

/// A usage or configuration error: exit code 2. Every place that returns one says so
/// explicitly (there is no blanket conversion), so that a failure of another kind cannot
/// become exit 2 by a stray `?`.
struct Usage(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(args) => sign(args),
        Command::Send(args) => send(args),
        Command::Verify(args) => verify(args),
    };
    match result {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("soketi-lambda: {message}");
            ExitCode::from(2)
        }
    }
}

fn read_path(path: &Path) -> Result<Vec<u8>, Usage> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Usage(format!("cannot read standard input: {e}")))?;
        return Ok(buf);
    }
    fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))
}

fn read_text(path: &Path) -> Result<String, Usage> {
    String::from_utf8(read_path(path)?)
        .map_err(|_| Usage(format!("{} is not UTF-8", path.display())))
}

/// Events from the command line: JSON objects, files of JSON lines, `-` for standard input.
fn read_events(args: &[String]) -> Result<Vec<Event>, Usage> {
    let mut events = Vec::new();
    for arg in args {
        if arg.trim_start().starts_with('{') {
            events.push(parse_event(arg).map_err(|e| Usage(format!("event `{arg}`: {e}")))?);
        } else {
            let text = read_text(Path::new(arg))?;
            let name = if arg == "-" { "standard input" } else { arg };
            events.extend(parse_event_lines(&text).map_err(|e| Usage(format!("{name}: {e}")))?);
        }
    }
    Ok(events)
}

fn sign(args: SignArgs) -> Result<ExitCode, Usage> {
    let events = read_events(&args.events)?;
    if events.is_empty() {
        return Err(Usage("no events to sign".to_owned()));
    }
    let mut custom = Vec::new();
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(Usage(format!("--header `{header}` must be NAME:VALUE")));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(Usage(format!(
                "--header `{header}` has no name: write NAME:VALUE"
            )));
        }
        if soketi_handler_kit::wire::headers::is_reserved(name) {
            return Err(Usage(format!(
                "--header `{name}` is not allowed: X-Pusher-Key and X-Pusher-Signature are set \
                 by the signer"
            )));
        }
        // One space after the colon separates, as in `Name: value`; the rest of the value is
        // kept verbatim, as soketi sends a configured header's value.
        let value = value.strip_prefix(' ').unwrap_or(value);
        custom.push((name.to_owned(), value.to_owned()));
    }
    let signed = Payload::new(args.time_ms.unwrap_or_else(now_ms), events)
        .sign(&args.key, &Secret::new(&args.secret));
    let ua = user_agent(args.pid.unwrap_or_else(std::process::id));
    Ok(if print_line(&signed.lambda_body(&ua, &custom)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn send(args: SendArgs) -> Result<ExitCode, Usage> {
    init_logs();
    let apps = match &args.app {
        Some(path) => apps_from_json(&read_text(path)?)
            .map_err(|e| Usage(format!("{}: {e}", path.display())))?,
        None => Vec::new(),
    };
    let app_id = match (&args.app_id, apps.as_slice()) {
        (Some(id), _) => Some(id.clone()),
        (None, [only]) => Some(only.id.clone()),
        (None, _) if args.replay.is_some() => None,
        (None, []) => {
            let path = args.app.as_deref().unwrap_or(Path::new("--app"));
            return Err(Usage(format!(
                "{} holds no app: give one app object or an array of apps",
                path.display()
            )));
        }
        (None, _) => {
            return Err(Usage(
                "the app file holds several apps: say which with --app-id".to_owned(),
            ));
        }
    };
    let policy = RetryPolicy::default()
        .max_attempts(args.max_attempts)
        .attempt_timeout(Duration::from_millis(args.timeout_ms.max(1)))
        .max_elapsed(Duration::from_millis(args.max_elapsed_ms.max(1)));
    let mut builder = Sender::builder().apps(apps.clone()).retry_policy(policy);
    if let Some(endpoint) = &args.endpoint_url {
        builder = builder.endpoint_override(endpoint);
    }
    if let Some(pid) = args.pid {
        builder = builder.process_id(pid);
    }
    let replay = match &args.replay {
        Some(path) => Some(read_dead_letters(path)?),
        None => None,
    };
    let events = match replay {
        Some(_) => Vec::new(),
        None => read_events(&args.events)?,
    };
    // Opened before anything is sent: a dead-letter file that cannot be written is a usage
    // error found up front, not after deliveries have failed with nowhere to record them.
    let sink = match &args.dead_letter {
        Some(path) => Some(DeadLetterSink::open(path, args.replay.as_deref())?),
        None => None,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        // Not the user's doing: a failure (exit 1), not a usage error.
        Err(message) => {
            eprintln!("soketi-lambda: {message}");
            return Ok(ExitCode::from(1));
        }
    };
    let report = rt.block_on(async {
        // A configuration the sender cannot work with (a webhook without a region, no AWS
        // credentials for a Lambda webhook, ...) is a configuration error: exit 2.
        let sender = builder.build().await.map_err(|e| Usage(e.to_string()))?;
        match replay {
            Some(letters) => {
                let requests = letters
                    .iter()
                    .map(|letter| letter.to_request(sender.apps()))
                    .collect();
                Ok::<Report, Usage>(Report::new(sender.deliver_all(requests).await, Vec::new()))
            }
            None => {
                let app = app_id.unwrap_or_default();
                let time_ms = args.time_ms.unwrap_or_else(|| sender.now_ms());
                // The --app-id names no app of the file: a usage error.
                sender
                    .send_at(&app, time_ms, events)
                    .await
                    .map_err(|e| Usage(e.to_string()))
            }
        }
    })?;
    let stored = match sink {
        Some(sink) => sink.store(&report),
        None => Ok(()),
    };
    print_json(&SendReport::new(&report));
    if let Err(message) = stored {
        // The failed requests are on stderr then: nothing is lost without a record.
        eprintln!("soketi-lambda: {message}");
        return Ok(ExitCode::from(1));
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_dead_letters(path: &Path) -> Result<Vec<DeadLetter>, Usage> {
    let text = read_text(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            DeadLetter::from_json_line(line)
                .map_err(|e| Usage(format!("{} line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// The dead-letter file of a `send`, opened before anything is sent.
///
/// Failures are appended; but when the file is the one being replayed (however its path is
/// spelled), it is rewritten with what still failed: into a temporary file next to it, renamed
/// over it at the end, so that the letters being replayed stay on disk until then.
struct DeadLetterSink {
    path: PathBuf,
    file: fs::File,
    /// The temporary file when rewriting the replayed file.
    temp: Option<PathBuf>,
}

impl DeadLetterSink {
    fn open(path: &Path, replayed: Option<&Path>) -> Result<Self, Usage> {
        let cannot = |e: std::io::Error| Usage(format!("cannot open {}: {e}", path.display()));
        if replayed.is_some_and(|replayed| same_file(replayed, path)) {
            let name = path.file_name().map_or_else(
                || "dead-letters".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
            let file = fs::File::create(&temp).map_err(cannot)?;
            return Ok(DeadLetterSink {
                path: path.to_owned(),
                file,
                temp: Some(temp),
            });
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(cannot)?;
        Ok(DeadLetterSink {
            path: path.to_owned(),
            file,
            temp: None,
        })
    }

    /// Writes the failures of `report`. On error, they are printed to stderr instead and the
    /// error says so.
    fn store(mut self, report: &Report) -> Result<(), String> {
        let lines: Vec<String> = report
            .failures()
            .filter_map(DeadLetter::from_report)
            .map(|letter| letter.to_json_line())
            .collect();
        match self.write(&lines) {
            Ok(()) => Ok(()),
            Err(e) => {
                for line in &lines {
                    eprintln!("{line}");
                }
                Err(format!(
                    "cannot write the dead letters to {}: {e}; the {} failed request(s) are \
                     printed above, one JSON line each, instead",
                    self.path.display(),
                    lines.len()
                ))
            }
        }
    }

    fn write(&mut self, lines: &[String]) -> std::io::Result<()> {
        for line in lines {
            writeln!(self.file, "{line}")?;
        }
        self.file.sync_all()?;
        if let Some(temp) = self.temp.take() {
            fs::rename(&temp, &self.path).inspect_err(|_| self.temp = Some(temp))?;
        }
        Ok(())
    }
}

impl Drop for DeadLetterSink {
    fn drop(&mut self) {
        // Not renamed over the replayed file (an error, or nothing was sent): that file is
        // left as it was.
        if let Some(temp) = &self.temp {
            let _ = fs::remove_file(temp);
        }
    }
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[derive(Serialize)]
struct SendReport<'a> {
    ok: bool,
    delivered: usize,
    failed: usize,
    unrouted: usize,
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
    failure: Option<&'a soketi_lambda_sender::deliver::Failure>,
}

impl<'a> SendReport<'a> {
    fn new(report: &'a Report) -> Self {
        let deliveries: Vec<DeliveryLine<'a>> =
            report.deliveries.iter().map(DeliveryLine::new).collect();
        let delivered = report
            .deliveries
            .iter()
            .filter(|d| d.is_delivered())
            .count();
        SendReport {
            ok: report.is_success(),
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

/// Writes `text` and a newline to standard output; `false` (said on stderr) when it cannot be
/// written, e.g. a pipe closed by `| head`, where `println!` would panic.
fn print_line(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("soketi-lambda: cannot write to standard output: {e}");
            false
        }
    }
}

/// Prints a report as JSON. A report that cannot be written is said on stderr; the exit code
/// stays that of the outcome (`send` keeps its dead letters, `verify` its verdict).
fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            print_line(&text);
        }
        Err(e) => eprintln!("soketi-lambda: cannot print the report: {e}"),
    }
}

fn keyring(args: &VerifyArgs) -> Result<Keyring, Usage> {
    if let (Some(secret), None) = (&args.secret, &args.apps) {
        return Ok(match &args.key {
            Some(key) => Keyring::new().app(key.clone(), secret),
            None => Keyring::single_secret(secret).into(),
        });
    }
    let Some(path) = &args.apps else {
        return Err(Usage("give --secret or --apps".to_owned()));
    };
    let text = read_text(path)?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Usage(format!("{}: not JSON: {e}", path.display())))?;
    let wanted = |key: &str| args.key.as_deref().is_none_or(|k| k == key);
    // soketi's app list (an array, one app, or {"appManager.array.apps": [...]}) first;
    // else a plain {"key": "secret" | ["secret", ...]} map.
    let ring = match soketi_app_secrets(&value) {
        Some(pairs) => pairs
            .into_iter()
            .filter(|(key, _)| wanted(key))
            .fold(Keyring::new(), |ring, (key, secret)| ring.app(key, secret)),
        None => {
            let serde_json::Value::Object(mut map) = value else {
                return Err(Usage(format!(
                    "{}: expected soketi apps or a JSON map of app key to secret",
                    path.display()
                )));
            };
            map.retain(|key, _| wanted(key));
            Keyring::from_apps_json(&serde_json::Value::Object(map).to_string())
                .map_err(|e| Usage(format!("{}: {e}", path.display())))?
        }
    };
    if ring.app_keys().next().is_none() {
        return Err(Usage(match &args.key {
            Some(key) => format!("--key `{key}` is not in {}", path.display()),
            None => format!("{} holds no app", path.display()),
        }));
    }
    Ok(ring)
}

/// The (key, secret) pairs of soketi app configuration, or `None` if it is not one.
fn soketi_app_secrets(value: &serde_json::Value) -> Option<Vec<(String, String)>> {
    use serde_json::Value;
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) if map.contains_key("key") && map.contains_key("secret") => vec![value],
        Value::Object(map) => match map.get("appManager.array.apps").or(map.get("apps")) {
            Some(Value::Array(items)) => items.iter().collect(),
            _ => return None,
        },
        _ => return None,
    };
    items
        .into_iter()
        .map(|item| {
            let key = item.get("key")?.as_str()?;
            let secret = item.get("secret")?.as_str()?;
            Some((key.to_owned(), secret.to_owned()))
        })
        .collect()
}

#[derive(Serialize)]
struct VerifyReport<'a> {
    valid: bool,
    app_key: Option<&'a str>,
    time_ms: u64,
    events: &'a [&'a RawValue],
}

#[derive(Serialize)]
struct RejectReport<'a> {
    valid: bool,
    reason: &'a str,
    message: String,
}

fn verify(args: VerifyArgs) -> Result<ExitCode, Usage> {
    let verifier = Verifier::new(keyring(&args)?);
    let body = read_path(&args.file)?;
    let result = if args.http {
        verifier.verify_parts(&body, args.key.as_deref(), args.signature.as_deref())
    } else {
        verifier.verify_lambda_body(&body)
    };
    match result {
        Ok(verified) => {
            print_json(&VerifyReport {
                valid: true,
                app_key: verified.app_key(),
                time_ms: verified.payload().time_ms(),
                events: &verified.payload().raw_events(),
            });
            Ok(ExitCode::SUCCESS)
        }
        Err(rejection) => {
            report_rejection(&rejection);
            Ok(ExitCode::from(1))
        }
    }
}

fn report_rejection(rejection: &Rejection) {
    eprintln!("rejected ({}): {rejection}", rejection.kind());
    print_json(&RejectReport {
        valid: false,
        reason: rejection.kind().as_str(),
        message: rejection.to_string(),
    });
}
