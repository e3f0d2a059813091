//! `soketi-lambda verify`: check a recorded webhook as a receiver would, and print what it
//! holds.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use serde_json::value::RawValue;
use soketi_handler_kit::{Keyring, Rejection, Verifier};
use soketi_lambda_sender::config::parse_apps_file_credentials;

use crate::error::CliError;
use crate::io::{print_json, read_path, read_text};

#[derive(Args)]
pub struct VerifyArgs {
    /// The app secret. Prefer the environment variable: it stays out of the shell history and
    /// of `ps`. --apps or --app-secrets, when given, is used instead.
    #[arg(long, env = "SOKETI_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// soketi's apps file (each app's id, key and secret; the forms `send --apps` reads).
    #[arg(long, value_name = "FILE", conflicts_with = "app_secrets")]
    apps: Option<PathBuf>,
    /// A JSON object of app key to secret or array of secrets (the handler kit's app secrets,
    /// as in SOKETI_APP_SECRETS).
    #[arg(long, value_name = "FILE")]
    app_secrets: Option<PathBuf>,
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

/// The keyring of the arguments: the apps of --apps or --app-secrets (only --key's, if given),
/// else --secret for --key (or for any key).
fn keyring(args: &VerifyArgs) -> Result<Keyring, CliError> {
    let wanted = |key: &str| args.key.as_deref().is_none_or(|k| k == key);
    let (ring, path) = if let Some(path) = &args.apps {
        let apps = parse_apps_file_credentials(&read_text(path)?).map_err(|e| {
            CliError::usage(format!(
                "{}: {e} (--apps reads soketi's apps file; a JSON object of app key to \
                 secret goes to --app-secrets)",
                path.display()
            ))
        })?;
        let ring = apps
            .iter()
            .filter(|app| wanted(&app.key))
            .fold(Keyring::new(), |ring, app| {
                ring.app(app.key.clone(), app.secret())
            });
        (ring, path)
    } else if let Some(path) = &args.app_secrets {
        let all = Keyring::from_app_secrets_json(&read_text(path)?)
            .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
        let ring = match &args.key {
            None => all,
            Some(key) => Keyring::new().app_secrets(
                key.clone(),
                all.secrets(key).unwrap_or_default().iter().cloned(),
            ),
        };
        (ring, path)
    } else {
        let Some(secret) = args.secret.as_deref().filter(|s| !s.is_empty()) else {
            return Err(CliError::usage(
                "no secret to verify with: pass --secret SECRET or set SOKETI_SECRET (the app's \
                 `secret` in soketi's configuration), or --apps FILE (soketi's apps file) or \
                 --app-secrets FILE (a JSON object of app key to secret)",
            ));
        };
        return Ok(match &args.key {
            Some(key) => Keyring::new().app(key.clone(), secret),
            None => Keyring::single_secret(secret).into(),
        });
    };
    if ring.app_keys().next().is_none() {
        return Err(CliError::usage(match &args.key {
            Some(key) => format!("--key `{key}` is not in {}", path.display()),
            None => format!("{} holds no app", path.display()),
        }));
    }
    Ok(ring)
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

pub fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
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
    crate::io::stderr_line(format_args!("rejected ({}): {rejection}", rejection.kind()));
    print_json(&RejectReport {
        valid: false,
        reason: rejection.kind().as_str(),
        message: rejection.to_string(),
    });
}
