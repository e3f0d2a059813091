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

/// The exit codes, as `--help` shows them.
const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: the webhook is valid)
  1  send: a delivery failed, a replayed dead-letter line was skipped, or the dead letters
     could not be written; verify: the webhook was rejected; worker: the queue cannot be
     read; any command: standard input or output failed, the runtime could not start
  2  usage or configuration error: bad arguments, events, app file, or a dead-letter file
     that cannot be read or written";

#[derive(Parser)]
#[command(
    name = "soketi-lambda",
    version,
    about = "Sign, send and verify soketi webhooks ({payload, headers} Lambda invocations and HTTP posts), byte for byte as soketi sends them.",
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
    #[command(after_help = EXIT_CODES)]
    Sign(sign::SignArgs),
    /// Deliver EVENTS to every matching webhook of an app and print the report; exit 1 if any
    /// delivery failed.
    #[command(after_help = EXIT_CODES)]
    Send(send::SendArgs),
    /// Check a recorded Lambda body (or, with --http, an HTTP body) and print what it holds;
    /// exit 0 when valid, 1 when rejected.
    #[command(after_help = EXIT_CODES)]
    Verify(verify::VerifyArgs),
    /// Consume soketi's SQS webhook queue (queue.driver sqs): deliver every job to its app's
    /// webhooks until SIGINT or SIGTERM, with a progress line on standard error; exit 1 if
    /// the queue cannot be read.
    #[command(after_help = EXIT_CODES)]
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
