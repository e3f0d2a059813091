//! `soketi-lambda sign`: the Lambda invocation body soketi would send for some events.

use std::process::ExitCode;

use clap::Args;
use soketi_handler_kit::wire::headers::{is_reserved, user_agent};
use soketi_handler_kit::wire::now_ms;
use soketi_lambda_sender::config::{App, Webhook};
use soketi_lambda_sender::route::Request;

use crate::error::CliError;
use crate::io::{print_line, read_events};

#[derive(Args)]
pub struct SignArgs {
    /// The app key (X-Pusher-Key).
    #[arg(long)]
    key: String,
    /// The app secret. Prefer the environment variable: it stays out of the shell history and
    /// of `ps`.
    #[arg(long, env = "SOKETI_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// The payload's time_ms (default: now).
    #[arg(long)]
    time_ms: Option<u64>,
    /// The process id named in the User-Agent (default: this process's).
    #[arg(long)]
    pid: Option<u32>,
    /// A custom header (repeatable). The value is everything after the first colon, kept
    /// verbatim as soketi sends a configured header: `X-Env:prod` gives `prod`, `X-Env: prod`
    /// gives ` prod`.
    #[arg(long = "header", value_name = "NAME:VALUE")]
    headers: Vec<String>,
    /// Sign events whose name soketi does not send (without it, a name such as
    /// `member_joined` is refused as a likely typo).
    #[arg(long)]
    allow_unknown: bool,
    /// Events: JSON objects, or files of JSON lines, or `-` for JSON lines on standard input.
    #[arg(required = true, value_name = "EVENTS")]
    events: Vec<String>,
}

/// A `--header` argument as (name, value): the name without surrounding spaces, the value
/// verbatim.
fn custom_header(header: &str) -> Result<(String, String), CliError> {
    let Some((name, value)) = header.split_once(':') else {
        return Err(CliError::usage(format!(
            "--header `{header}` must be NAME:VALUE"
        )));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(CliError::usage(format!(
            "--header `{header}` has no name: write NAME:VALUE"
        )));
    }
    if is_reserved(name) {
        return Err(CliError::usage(format!(
            "--header `{name}` is not allowed: X-Pusher-Key and X-Pusher-Signature are set by \
             the signer"
        )));
    }
    Ok((name.to_owned(), value.to_owned()))
}

pub fn run(args: SignArgs) -> Result<ExitCode, CliError> {
    let Some(secret) = args.secret.as_deref().filter(|s| !s.is_empty()) else {
        return Err(CliError::usage(
            "no secret to sign with: pass --secret SECRET or set SOKETI_SECRET (the app's \
             `secret` in soketi's configuration)",
        ));
    };
    let events = read_events(&args.events, args.allow_unknown)?;
    if events.is_empty() {
        return Err(CliError::usage("no events to sign"));
    }
    let mut webhook = Webhook::lambda("soketi-lambda-sign");
    for header in &args.headers {
        let (name, value) = custom_header(header)?;
        webhook = webhook.header(name, value);
    }
    // A Lambda webhook with these custom headers, of an app with this key and secret.
    let app = App::new("", &args.key, secret).webhook(webhook);
    let ua = user_agent(args.pid.unwrap_or_else(std::process::id));
    let time_ms = args.time_ms.unwrap_or_else(now_ms);
    let request = Request::build(&app, 0, events, time_ms, &ua)
        .ok_or_else(|| CliError::failed("the webhook to sign for is missing"))?;
    Ok(if print_line(&request.body) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_kept_verbatim_and_names_are_checked() {
        assert_eq!(
            custom_header("X-Env: a b  ").ok(),
            Some(("X-Env".to_owned(), " a b  ".to_owned()))
        );
        assert_eq!(
            custom_header(" X-Url :http://h:1/").ok(),
            Some(("X-Url".to_owned(), "http://h:1/".to_owned()))
        );
        assert_eq!(
            custom_header("X-Empty:").ok(),
            Some(("X-Empty".to_owned(), String::new()))
        );
        for bad in ["no-colon", " :v", "x-pusher-key:k"] {
            assert!(
                matches!(custom_header(bad), Err(CliError::Usage(_))),
                "{bad}"
            );
        }
    }
}
