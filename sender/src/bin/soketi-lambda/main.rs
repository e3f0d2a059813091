//! `soketi-lambda`: sign, send and verify soketi webhooks from the command line.
//!
//! One file per subcommand ([`sign`], [`send`], [`verify`], [`worker`]), each with its
//! arguments and its `run`; [`io`] reads inputs and prints outputs; [`setup`] is what the
//! commands that deliver set up alike (logs, runtime, apps, sender) and [`retry`] their
//! delivery flags; [`error`] maps failures to exit codes. A new subcommand is a new file with an `Args` struct and a `run`, and a
//! variant of [`Command`].

mod error;
mod io;
mod retry;
mod send;
mod setup;
mod sign;
mod verify;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The exit codes of every command, shown once, under `soketi-lambda --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: the webhook is valid)
  1  send: a delivery failed, a replayed dead-letter line was skipped, or the dead letters
     could not be written; verify: the webhook was rejected; worker: the queue cannot be
     read; any command: standard input or output failed, the runtime could not start
  2  usage or configuration error: bad arguments, events, apps file, or a dead-letter file
     that cannot be read or written
  3  send: everything sent was delivered, but some events matched no webhook of the app
     (nothing was sent for them; a warning names them)

Each command's --help has examples.";

/// The events, one JSON object each, as soketi sends them (fields beyond these are kept).
const EVENT_SHAPES: &str = "\
Events (JSON objects; C a channel, U a user id):
  {\"name\":\"channel_occupied\",\"channel\":\"C\"}
  {\"name\":\"channel_vacated\",\"channel\":\"C\"}
  {\"name\":\"member_added\",\"channel\":\"presence-C\",\"user_id\":\"U\"}
  {\"name\":\"member_removed\",\"channel\":\"presence-C\",\"user_id\":\"U\"}
  {\"name\":\"client_event\",\"channel\":\"private-C\",\"event\":\"client-chat\",
   \"data\":{\"text\":\"hi\"},\"socket_id\":\"1.2\",\"user_id\":\"U\"}
  {\"name\":\"cache_miss\",\"channel\":\"cache-C\"}
  {\"name\":\"subscription_count\",\"channel\":\"C\",\"subscription_count\":3}";

const SIGN_HELP: &str = "\
Examples:
  # a body for your function under `cargo lambda watch`
  export SOKETI_SECRET=app-secret
  soketi-lambda sign --key app-key '{\"name\":\"channel_occupied\",\"channel\":\"room\"}' >event.json
  cargo lambda invoke my-function --invoke-address 127.0.0.1 --data-file event.json

  # several events in one payload, from a file of JSON lines
  soketi-lambda sign --key app-key events.jsonl >event.json

";

const SIGN_EXIT: &str = "

Exit codes: 0 signed, 2 usage error (no secret, a bad or unknown event).";

const SEND_HELP: &str = "\
Examples:
  # every webhook of the app that wants the event, as soketi would call it
  soketi-lambda send --apps apps.json '{\"name\":\"member_added\",\"channel\":\"presence-room\",\"user_id\":\"42\"}'

  # to a local emulator, failures kept for later, then sent again
  soketi-lambda send --apps apps.json --endpoint-url http://127.0.0.1:9000 \\
      --dead-letter failed.jsonl events.jsonl
  soketi-lambda send --apps apps.json --replay failed.jsonl --dead-letter failed.jsonl

";

const SEND_EXIT: &str = "

Exit codes: 0 delivered, 1 a delivery failed, 2 usage error, 3 some events matched no webhook.";

const VERIFY_HELP: &str = "\
Examples:
  SOKETI_SECRET=app-secret soketi-lambda verify --key app-key recorded-invocation.json
  soketi-lambda verify --apps apps.json recorded-invocation.json
  soketi-lambda verify --http --signature 0f3a… --secret app-secret body.json

Exit codes: 0 valid, 1 rejected (the output says why), 2 usage error.";

const WORKER_HELP: &str = "\
Examples:
  # soketi's queue in AWS (credentials and region from the usual AWS environment)
  soketi-lambda worker --apps apps.json \\
      --sqs-queue-url https://sqs.eu-central-1.amazonaws.com/123456789012/soketi-webhooks.fifo

  # a local SQS (moto, ElasticMQ)
  soketi-lambda worker --apps apps.json --sqs-endpoint-url http://127.0.0.1:5000 \\
      --sqs-queue-url http://127.0.0.1:5000/123456789012/soketi-webhooks.fifo

Exit codes: 0 stopped by SIGINT or SIGTERM, 1 the queue cannot be read, 2 usage error.";

#[derive(Parser)]
#[command(
    name = "soketi-lambda",
    version,
    about = "Sign, send and verify soketi webhooks ({payload, headers} Lambda invocations and \
             HTTP posts), byte for byte as soketi sends them; deliver soketi's SQS queue.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the Lambda invocation body soketi would send for EVENTS (for
    /// `cargo lambda invoke --data-file`).
    #[command(after_help = [SIGN_HELP, EVENT_SHAPES, SIGN_EXIT].concat())]
    Sign(sign::SignArgs),
    /// Deliver EVENTS to every matching webhook of an app and print the report.
    #[command(after_help = [SEND_HELP, EVENT_SHAPES, SEND_EXIT].concat())]
    Send(send::SendArgs),
    /// Check a recorded Lambda body (or, with --http, an HTTP body) and print what it holds.
    #[command(after_help = VERIFY_HELP)]
    Verify(verify::VerifyArgs),
    /// Consume soketi's SQS webhook queue (queue.driver sqs): deliver every job to its app's
    /// webhooks until SIGINT or SIGTERM, with a progress line on standard error.
    #[command(after_help = WORKER_HELP)]
    Worker(worker::WorkerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(args) => sign::run(args),
        Command::Send(args) => send::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Worker(args) => worker::run(args),
    };
    result.unwrap_or_else(error::CliError::report)
}
