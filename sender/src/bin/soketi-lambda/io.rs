//! Reading the command's inputs (files, standard input, events) and printing its outputs.

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use serde::Serialize;
use soketi_handler_kit::wire::{Event, EventKind};
use soketi_lambda_sender::input::{parse_event, parse_event_lines};

use crate::error::CliError;

/// The bytes of `path`, or of standard input for `-`. A file that cannot be read is a usage
/// error (the argument is wrong); standard input that cannot be read is a failure.
pub fn read_path(path: &Path) -> Result<Vec<u8>, CliError> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::failed(format!("cannot read standard input: {e}")))?;
        return Ok(buf);
    }
    fs::read(path).map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))
}

/// The text of `path` (see [`read_path`]), which must be UTF-8.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    String::from_utf8(read_path(path)?)
        .map_err(|_| CliError::usage(format!("{} is not UTF-8", path.display())))
}

/// What an event looks like, for messages about events that are not.
pub const EVENT_EXAMPLE: &str = r#"{"name":"channel_occupied","channel":"my-channel"}"#;

/// Events from the command line: JSON objects, files of JSON lines, `-` for standard input.
/// An event whose name soketi does not send (a typo such as `member_joined`) is a usage error
/// unless `allow_unknown`.
pub fn read_events(args: &[String], allow_unknown: bool) -> Result<Vec<Event>, CliError> {
    let mut events = Vec::new();
    for arg in args {
        if arg.trim_start().starts_with('{') {
            events.push(
                parse_event(arg).map_err(|e| CliError::usage(format!("event `{arg}`: {e}")))?,
            );
        } else if arg != "-" && !Path::new(arg).exists() {
            return Err(CliError::usage(format!(
                "`{arg}` is neither an event (a JSON object such as {EVENT_EXAMPLE}) nor a file \
                 of JSON lines, nor `-` for standard input"
            )));
        } else {
            let text = read_text(Path::new(arg))?;
            let name = if arg == "-" { "standard input" } else { arg };
            events.extend(
                parse_event_lines(&text).map_err(|e| CliError::usage(format!("{name}: {e}")))?,
            );
        }
    }
    if let Some(Event::Unknown(unknown)) = events
        .iter()
        .find(|e| !allow_unknown && matches!(e, Event::Unknown(_)))
    {
        return Err(CliError::usage(format!(
            "unknown event name `{}`: soketi sends {}; pass --allow-unknown to send it anyway",
            unknown.name,
            EventKind::ALL
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(events)
}

/// Writes `text` and a newline to standard output; `false` (said on stderr) when it cannot be
/// written, e.g. a pipe closed by `| head`, where `println!` would panic.
pub fn print_line(text: &str) -> bool {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            stderr_line(format_args!(
                "soketi-lambda: cannot write to standard output: {e}"
            ));
            false
        }
    }
}

/// Prints a report as JSON. A report that cannot be written is said on stderr; the exit code
/// stays that of the outcome (`send` keeps its dead letters, `verify` its verdict).
pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            print_line(&text);
        }
        Err(e) => stderr_line(format_args!("soketi-lambda: cannot print the report: {e}")),
    }
}

/// Writes a line on standard error. A closed standard error loses the line, never the exit
/// code: `eprintln!` would panic (exit 101).
pub fn stderr_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
