//! Where the delivery function's apps come from, and its other settings, read from the
//! environment once at start. Nothing here runs per invocation.

use std::time::Duration;

use soketi_handler_kit::secrets::{RefreshPolicy, SecretText, SecretsManagerSecret, SsmParameter};
use soketi_handler_kit::wire::EventKind;
use soketi_handler_kit::{AppSecret, ENV_APP_KEY, Keyring};
use soketi_lambda_sender::config::{App, Webhook, parse_apps_file};
use soketi_lambda_sender::deliver::RetryPolicy;
use soketi_lambda_sender::jobs::{JobSender, parse_apps_secret};
use soketi_lambda_sender::{Sender, SenderBuilder};

use crate::StartError;

/// A Secrets Manager secret (ARN or name) whose SecretString is soketi's apps JSON;
/// `AWSPREVIOUS`'s secrets verify jobs too.
pub const ENV_APPS_SECRET_ARN: &str = "SOKETI_APPS_SECRET_ARN";
/// An SSM SecureString parameter holding soketi's apps JSON, read decrypted.
pub const ENV_APPS_PARAMETER: &str = "SOKETI_APPS_PARAMETER";
/// soketi's apps JSON itself (plain: readable with `lambda:GetFunctionConfiguration`).
pub const ENV_APPS_JSON: &str = "SOKETI_APPS_JSON";
/// The path of a file holding soketi's apps JSON.
pub const ENV_APPS_FILE: &str = "SOKETI_APPS_FILE";
/// Single-app mode: the app's id.
pub const ENV_APP_ID: &str = "SOKETI_APP_ID";
/// Single-app mode: the Lambda function (name or ARN) every event is delivered to, invoked
/// asynchronously.
pub const ENV_WEBHOOK_FUNCTION: &str = "SOKETI_WEBHOOK_FUNCTION";
/// The dead-letter queue rejected jobs are sent to at once.
pub const ENV_DEAD_LETTER_QUEUE_URL: &str = "SOKETI_DEAD_LETTER_QUEUE_URL";
/// `false` (or `0`): one payload per job instead of a group's jobs coalesced per webhook.
pub const ENV_COALESCE: &str = "DELIVERY_COALESCE";
/// Attempts per request (default 3).
pub const ENV_MAX_ATTEMPTS: &str = "DELIVERY_MAX_ATTEMPTS";
/// Seconds one request may take, retries included (default 20).
pub const ENV_MAX_ELAPSED_SECONDS: &str = "DELIVERY_MAX_ELAPSED_SECONDS";
/// Seconds between reads of a secret store (default: the kit's, 300).
pub const ENV_REFRESH_SECONDS: &str = soketi_handler_kit::ENV_SECRET_REFRESH_SECONDS;
/// Seconds between reads of a secret store prompted by an unknown key or signature (default:
/// the kit's, 5).
pub const ENV_MISMATCH_REFRESH_SECONDS: &str =
    soketi_handler_kit::ENV_SECRET_MISMATCH_REFRESH_SECONDS;

/// The variables that name where the apps are (exactly one, or single-app mode).
const APPS_VARIABLES: [&str; 4] = [
    ENV_APPS_SECRET_ARN,
    ENV_APPS_PARAMETER,
    ENV_APPS_JSON,
    ENV_APPS_FILE,
];

/// Where the apps are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppsLocation {
    /// `SOKETI_APPS_SECRET_ARN`.
    SecretsManager(String),
    /// `SOKETI_APPS_PARAMETER`.
    Parameter(String),
    /// `SOKETI_APPS_JSON`.
    Json(String),
    /// `SOKETI_APPS_FILE`.
    File(String),
    /// `SOKETI_APP_ID`, `SOKETI_APP_KEY`, `SOKETI_WEBHOOK_FUNCTION`, and the app secret where
    /// the kit's variables say.
    SingleApp {
        /// The app's id.
        id: String,
        /// The app's key.
        key: String,
        /// The function its events go to.
        function: String,
    },
}

/// The value of `name` when it is set (not only whitespace), trimmed.
fn set(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Where the variables say the apps are; a configuration naming none, or several, is an error
/// saying which variables to set.
pub fn apps_location(lookup: &dyn Fn(&str) -> Option<String>) -> Result<AppsLocation, StartError> {
    let named: Vec<(&str, String)> = APPS_VARIABLES
        .iter()
        .filter_map(|name| set(lookup, name).map(|v| (*name, v)))
        .collect();
    let single = [ENV_APP_ID, ENV_WEBHOOK_FUNCTION]
        .iter()
        .filter(|name| set(lookup, name).is_some())
        .copied()
        .collect::<Vec<_>>();
    match (named.as_slice(), single.is_empty()) {
        ([(name, value)], true) => Ok(match *name {
            ENV_APPS_SECRET_ARN => AppsLocation::SecretsManager(value.clone()),
            ENV_APPS_PARAMETER => AppsLocation::Parameter(value.clone()),
            // Not trimmed: the JSON is read as it is.
            ENV_APPS_JSON => AppsLocation::Json(lookup(name).unwrap_or_default()),
            _ => AppsLocation::File(value.clone()),
        }),
        ([], false) => {
            let need = |name: &str| {
                set(lookup, name).ok_or_else(|| {
                    StartError::NoApps(format!(
                        "single-app mode ({}) also needs {name}",
                        single.join(", ")
                    ))
                })
            };
            Ok(AppsLocation::SingleApp {
                id: need(ENV_APP_ID)?,
                key: need(ENV_APP_KEY)?,
                function: need(ENV_WEBHOOK_FUNCTION)?,
            })
        }
        ([], true) => Err(StartError::NoApps(format!(
            "no apps: set one of {ENV_APPS_SECRET_ARN} (a Secrets Manager secret holding \
             soketi's apps JSON), {ENV_APPS_PARAMETER} (an SSM SecureString holding it), \
             {ENV_APPS_JSON} or {ENV_APPS_FILE}; or, for one app, {ENV_APP_ID}, {ENV_APP_KEY} \
             and {ENV_WEBHOOK_FUNCTION} with its secret in SOKETI_SECRET_ARN, \
             SOKETI_SECRET_PARAMETER or SOKETI_SECRET"
        ))),
        (named, _) => {
            let names: Vec<&str> = named
                .iter()
                .map(|(name, _)| *name)
                .chain(single.iter().copied())
                .collect();
            Err(StartError::NoApps(format!(
                "the apps are named by several variables ({}): set exactly one of \
                 {ENV_APPS_SECRET_ARN}, {ENV_APPS_PARAMETER}, {ENV_APPS_JSON}, {ENV_APPS_FILE}, \
                 or the single-app variables {ENV_APP_ID} and {ENV_WEBHOOK_FUNCTION}",
                names.join(", ")
            )))
        }
    }
}

/// A whole number setting, `default` when unset.
fn number(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<u64, StartError> {
    match set(lookup, name) {
        Some(v) => v
            .parse()
            .map_err(|_| StartError::Setting(format!("{name} must be a whole number, got {v:?}"))),
        None => Ok(default),
    }
}

/// The sender's retry policy within one invocation, from `DELIVERY_MAX_ATTEMPTS` and
/// `DELIVERY_MAX_ELAPSED_SECONDS`; an attempt takes at most 30 s, and no attempt outlives the
/// invocation (see `Deadline`).
pub fn policy(lookup: &dyn Fn(&str) -> Option<String>) -> Result<RetryPolicy, StartError> {
    let attempts = number(lookup, ENV_MAX_ATTEMPTS, 3)?;
    let elapsed = number(lookup, ENV_MAX_ELAPSED_SECONDS, 20)?;
    Ok(RetryPolicy::default()
        .max_attempts(u32::try_from(attempts).unwrap_or(u32::MAX))
        .max_elapsed(Duration::from_secs(elapsed))
        .attempt_timeout(Duration::from_secs(elapsed.clamp(1, 30))))
}

/// Whether a group's jobs are coalesced (`DELIVERY_COALESCE`, default on).
pub fn coalesce(lookup: &dyn Fn(&str) -> Option<String>) -> Result<bool, StartError> {
    match set(lookup, ENV_COALESCE).as_deref() {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(StartError::Setting(format!(
            "{ENV_COALESCE} must be true or false, got {other:?}"
        ))),
    }
}

/// When a secret store is read again: the kit's variables and defaults.
fn refresh_policy(lookup: &dyn Fn(&str) -> Option<String>) -> Result<RefreshPolicy, StartError> {
    let defaults = RefreshPolicy::new();
    let every = number(
        lookup,
        ENV_REFRESH_SECONDS,
        defaults.every_interval().as_secs(),
    )?;
    let mismatch = number(
        lookup,
        ENV_MISMATCH_REFRESH_SECONDS,
        defaults.on_mismatch_interval().as_secs(),
    )?;
    Ok(defaults
        .every(Duration::from_secs(every))
        .on_mismatch(Duration::from_secs(mismatch)))
}

/// The sender every app is delivered with, without apps yet: the retry policy and coalescing
/// the variables say.
pub fn base_sender(lookup: &dyn Fn(&str) -> Option<String>) -> Result<SenderBuilder, StartError> {
    Ok(Sender::builder()
        .retry_policy(policy(lookup)?)
        .coalesce_jobs(coalesce(lookup)?))
}

/// The one app of single-app mode, its secrets those `keyring` holds for `key` (the first
/// current, the others previous): every event to `function`, invoked asynchronously.
fn single_app(id: &str, key: &str, function: &str, keyring: &Keyring) -> Result<App, String> {
    let secrets = keyring.secrets_for(key);
    let Some((current, previous)) = secrets.split_first() else {
        return Err(format!(
            "the app secret holds no secret for the app key {key:?} ({ENV_APP_KEY})"
        ));
    };
    let mut app = App::new(id, key, "").webhook(
        Webhook::lambda(function)
            .event_types(EventKind::ALL)
            .async_invocation(true),
    );
    app.secret = current.clone();
    app.previous_secrets = previous.to_vec();
    Ok(app)
}

/// The apps' sender as the variables say, with `base`'s settings: read now (a store that
/// cannot be read, apps that do not parse, fail the start with a message naming the
/// variable), and kept current from a store (on age, and when a job names a key or a signature
/// the apps do not know).
pub async fn job_sender(
    lookup: &dyn Fn(&str) -> Option<String>,
    base: &Sender,
    aws: &aws_config::SdkConfig,
) -> Result<JobSender, StartError> {
    let refresh = refresh_policy(lookup)?;
    let from_store = |variable: &'static str| {
        move |e: soketi_handler_kit::secrets::SecretError| {
            StartError::NoApps(format!("{variable}: {e}"))
        }
    };
    match apps_location(lookup)? {
        AppsLocation::SecretsManager(arn) => {
            let source = SecretsManagerSecret::new(aws_sdk_secretsmanager::Client::new(aws), arn);
            JobSender::from_secret(base, source, refresh, parse_apps_secret)
                .await
                .map_err(from_store(ENV_APPS_SECRET_ARN))
        }
        AppsLocation::Parameter(name) => {
            let source = SsmParameter::new(aws_sdk_ssm::Client::new(aws), name);
            JobSender::from_secret(base, source, refresh, parse_apps_secret)
                .await
                .map_err(from_store(ENV_APPS_PARAMETER))
        }
        AppsLocation::Json(json) => {
            let apps = parse_apps_file(&json)
                .map_err(|e| StartError::NoApps(format!("{ENV_APPS_JSON}: {e}")))?;
            fixed(base, apps).await
        }
        AppsLocation::File(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                StartError::NoApps(format!("{ENV_APPS_FILE}: cannot read {path}: {e}"))
            })?;
            let apps = parse_apps_file(&text)
                .map_err(|e| StartError::NoApps(format!("{ENV_APPS_FILE} ({path}): {e}")))?;
            fixed(base, apps).await
        }
        AppsLocation::SingleApp { id, key, function } => {
            let secret = AppSecret::from_lookup_aws(lookup, aws)
                .map_err(|e| StartError::NoApps(e.to_string()))?;
            match secret {
                AppSecret::Keyring(keyring) => {
                    let app =
                        single_app(&id, &key, &function, &keyring).map_err(StartError::NoApps)?;
                    fixed(base, vec![app]).await
                }
                AppSecret::Store(store) => {
                    let variable = store.variable;
                    let parse = move |texts: &SecretText| {
                        let keyring = Keyring::from_secret_texts(texts, Some(&key))
                            .map_err(|e| e.to_string())?;
                        single_app(&id, &key, &function, &keyring).map(|app| vec![app])
                    };
                    JobSender::from_secret(base, store.source, store.policy, parse)
                        .await
                        .map_err(from_store(variable))
                }
                other => Err(StartError::NoApps(format!(
                    "the app secret's location is not supported here: {other:?}"
                ))),
            }
        }
    }
}

/// A fixed sender of `apps`.
async fn fixed(base: &Sender, apps: Vec<App>) -> Result<JobSender, StartError> {
    let sender = base.with_apps(apps).await.map_err(StartError::Build)?;
    Ok(JobSender::fixed(sender))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn exactly_one_place_of_the_apps_is_named() {
        let one = lookup(&[
            ("SOKETI_APPS_SECRET_ARN", " arn:x "),
            ("SOKETI_APPS_JSON", "  "),
        ]);
        assert_eq!(
            apps_location(&one).unwrap(),
            AppsLocation::SecretsManager("arn:x".into())
        );
        let two = lookup(&[("SOKETI_APPS_PARAMETER", "p"), ("SOKETI_APPS_JSON", "[]")]);
        let error = apps_location(&two).unwrap_err().to_string();
        assert!(
            error.contains("several variables (SOKETI_APPS_PARAMETER, SOKETI_APPS_JSON)"),
            "{error}"
        );
        let mixed = lookup(&[("SOKETI_APPS_FILE", "f"), ("SOKETI_WEBHOOK_FUNCTION", "fn")]);
        let error = apps_location(&mixed).unwrap_err().to_string();
        assert!(
            error.contains("SOKETI_APPS_FILE, SOKETI_WEBHOOK_FUNCTION"),
            "{error}"
        );
        let none = apps_location(&lookup(&[])).unwrap_err().to_string();
        for name in APPS_VARIABLES
            .iter()
            .chain(&[ENV_APP_ID, ENV_WEBHOOK_FUNCTION])
        {
            assert!(none.contains(name), "{none}");
        }
        let single = lookup(&[
            ("SOKETI_APP_ID", "1"),
            ("SOKETI_APP_KEY", "k"),
            ("SOKETI_WEBHOOK_FUNCTION", "f"),
        ]);
        assert_eq!(
            apps_location(&single).unwrap(),
            AppsLocation::SingleApp {
                id: "1".into(),
                key: "k".into(),
                function: "f".into()
            }
        );
        let half = lookup(&[("SOKETI_APP_ID", "1"), ("SOKETI_WEBHOOK_FUNCTION", "f")]);
        let error = apps_location(&half).unwrap_err().to_string();
        assert!(error.contains("also needs SOKETI_APP_KEY"), "{error}");
    }

    #[tokio::test]
    async fn single_app_mode_takes_the_kits_secret_variables() {
        let env = lookup(&[
            ("SOKETI_APP_ID", "1"),
            ("SOKETI_APP_KEY", "k"),
            ("SOKETI_WEBHOOK_FUNCTION", "hooks"),
            ("SOKETI_SECRET", "s3cret"),
            ("SOKETI_PREVIOUS_SECRET", "old"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let base = Sender::builder()
            .region_fallback(soketi_lambda_sender::RegionFallback::Fixed(
                "eu-west-1".into(),
            ))
            .build()
            .await
            .unwrap();
        let aws = aws_config::SdkConfig::builder().build();
        let jobs = job_sender(&env, &base, &aws).await.expect("started");
        let sender = jobs.sender();
        let app = &sender.apps()[0];
        assert_eq!((app.id.as_str(), app.key.as_str()), ("1", "k"));
        assert_eq!(app.secrets().count(), 2);
        assert_eq!(app.webhooks[0].event_types.len(), EventKind::ALL.len());
        assert!(app.webhooks[0].target.describe().contains("hooks"));
    }

    #[test]
    fn settings_that_are_not_numbers_or_booleans_are_refused_by_name() {
        let bad = lookup(&[
            ("DELIVERY_MAX_ATTEMPTS", "many"),
            ("DELIVERY_COALESCE", "yes"),
        ]);
        assert!(
            policy(&bad)
                .unwrap_err()
                .to_string()
                .contains("DELIVERY_MAX_ATTEMPTS")
        );
        assert!(
            coalesce(&bad)
                .unwrap_err()
                .to_string()
                .contains("DELIVERY_COALESCE")
        );
        assert!(!coalesce(&lookup(&[("DELIVERY_COALESCE", "false")])).unwrap());
    }
}
