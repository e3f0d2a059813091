//! Sending dead letters again: each to the configured webhook it names (or, when allowed, to
//! the target in the letter), byte for byte or re-signed; and a whole file of them at once
//! ([`Replay::plan`]), each line resolved to its request or skipped with the reason.

use serde::Serialize;

use super::dead_letter::DeadLetter;
use super::sink::DeadLetterFile;
use crate::config::{App, Webhook};
use crate::route::Request;

/// How to send dead letters again; see [`DeadLetter::to_request`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// `Some(time_ms)`: re-sign with the app's current secret, stamped `time_ms`.
    pub resign_at: Option<u64>,
    /// Send letters whose webhook is not in the configuration to the target named in the
    /// letter (with the AWS default credentials and no configured header).
    pub unconfigured_targets: bool,
}

impl Replay {
    /// Byte for byte, to configured webhooks only.
    pub fn new() -> Self {
        Replay::default()
    }

    /// Re-sign each payload with the app's current secret and stamp it `time_ms` (the events
    /// are unchanged): for letters signed with a secret that has since been rotated, or older
    /// than a receiver's `max_age`.
    pub fn resign_at(mut self, time_ms: u64) -> Self {
        self.resign_at = Some(time_ms);
        self
    }

    /// Whether letters whose webhook is not in the configuration are sent to the target the
    /// letter names (with the AWS default credentials, and without any configured header or
    /// credential), instead of being refused.
    pub fn unconfigured_targets(mut self, allow: bool) -> Self {
        self.unconfigured_targets = allow;
        self
    }

    /// Resolves every letter of `file` to the request that sends it again (see
    /// [`DeadLetter::to_request`]); the lines that cannot be read or sent are skipped, each
    /// with its reason, in line order.
    ///
    /// ```
    /// use soketi_lambda_sender::deliver::{parse_dead_letters, Replay};
    /// let file = parse_dead_letters("not a dead letter\n");
    /// let plan = Replay::new().plan(&file, &[]);
    /// assert!(plan.requests.is_empty());
    /// assert_eq!(plan.skipped[0].line, 1);
    /// assert_eq!(plan.kept_lines(), [1]);
    /// ```
    pub fn plan(&self, file: &DeadLetterFile, apps: &[App]) -> ReplayPlan {
        let mut plan = ReplayPlan::default();
        plan.skipped.extend(file.skipped.iter().map(|e| Skipped {
            line: e.line,
            reason: e.to_string(),
        }));
        for (line, letter) in &file.letters {
            match letter.to_request(apps, self) {
                Ok(request) => plan.requests.push(request),
                Err(e) => plan.skipped.push(Skipped {
                    line: *line,
                    reason: format!("line {line}: {e}"),
                }),
            }
        }
        plan.skipped.sort_by_key(|s| s.line);
        plan
    }
}

/// A dead-letter file resolved for sending again ([`Replay::plan`]).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ReplayPlan {
    /// The requests to send, in file order.
    pub requests: Vec<Request>,
    /// The lines not sent again, in line order.
    pub skipped: Vec<Skipped>,
}

impl ReplayPlan {
    /// The 1-based numbers of the lines skipped: what a replay into the same file keeps (see
    /// [`DeadLetterSink::for_replay`](super::DeadLetterSink::for_replay)).
    pub fn kept_lines(&self) -> Vec<usize> {
        self.skipped.iter().map(|s| s.line).collect()
    }
}

/// A dead-letter line not sent again, and why (the reason names the line, never its text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// Why a dead letter cannot be sent again as asked; see [`ReplayError::kind`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The letter's webhook (app id, index and target) is not in the configuration.
    #[error(
        "app `{app_id}` webhook {webhook} ({target}) is not a webhook of the configuration: \
         give the app's configuration (--apps) so that the letter goes to that webhook with its \
         credentials and headers, or allow sending to the target named in the file \
         (--unconfigured-targets: AWS default credentials, no configured header)"
    )]
    NotConfigured {
        /// The app id.
        app_id: String,
        /// The webhook index.
        webhook: usize,
        /// The target named in the letter (passwords hidden).
        target: String,
    },
    /// A credential header's value was not stored, and the configuration does not give it.
    #[error(
        "the value of header `{name}` was not stored in the dead letter (it is a credential) \
         and the configuration of app `{app_id}` webhook {webhook} does not give it: give the \
         app's configuration with that header (--apps)"
    )]
    MissingHeader {
        /// The app id.
        app_id: String,
        /// The webhook index.
        webhook: usize,
        /// The header's name.
        name: String,
    },
    /// The URL's password was not stored, and the configuration does not give it.
    #[error(
        "the password of {url} was not stored in the dead letter: give the configuration of app \
         `{app_id}` (--apps) so that the configured URL is used"
    )]
    MissingPassword {
        /// The app id.
        app_id: String,
        /// The URL, password hidden.
        url: String,
    },
    /// Re-signing needs the app's secret, and the configuration has no app of this id.
    #[error(
        "cannot re-sign for app `{app_id}`: it is not in the configuration; give it (--apps) with \
         its current secret"
    )]
    NoAppToSign {
        /// The app id.
        app_id: String,
    },
}

impl ReplayError {
    /// A stable name: `NotConfigured`, `MissingHeader`, `MissingPassword`, `NoAppToSign`.
    pub fn kind(&self) -> &'static str {
        match self {
            ReplayError::NotConfigured { .. } => "NotConfigured",
            ReplayError::MissingHeader { .. } => "MissingHeader",
            ReplayError::MissingPassword { .. } => "MissingPassword",
            ReplayError::NoAppToSign { .. } => "NoAppToSign",
        }
    }
}

impl DeadLetter {
    /// The configured webhook this letter was for: the app of the same id, its webhook at the
    /// same index, with the target the letter names (Lambda: the same function, and the same
    /// region and endpoint when the letter names them; HTTP: the same URL).
    fn configured<'a>(&self, apps: &'a [App]) -> Option<&'a Webhook> {
        let webhook = apps
            .iter()
            .find(|a| a.id == self.app_id)?
            .webhooks
            .get(self.webhook)?;
        webhook.target.is_named_by(&self.target).then_some(webhook)
    }

    /// The request to send again.
    ///
    /// The letter goes to the configured webhook it names (the app of the same id, its webhook
    /// at the same index, with the same target): with that webhook's credentials, full URL
    /// and the values of the credential headers that were not stored. A letter whose webhook
    /// is not in `apps` is refused ([`ReplayError::NotConfigured`]) unless
    /// [`Replay::unconfigured_targets`] allows it; it then goes to the target the letter names,
    /// with the AWS default credential chain and no configured header or credential (the file
    /// may have been edited: configured secrets never go to a target named only in it).
    ///
    /// Without [`Replay::resign_at`], the body is the one first sent, byte for byte (same
    /// `time_ms`, same signature). With it, the payload is written again with the same events,
    /// stamped with the given time and signed with the app's current secret from `apps`.
    pub fn to_request(&self, apps: &[App], replay: &Replay) -> Result<Request, ReplayError> {
        let configured = self.configured(apps);
        let target = match configured {
            Some(webhook) => webhook.target.resending(&self.target),
            None if !replay.unconfigured_targets => {
                return Err(ReplayError::NotConfigured {
                    app_id: self.app_id.clone(),
                    webhook: self.webhook,
                    target: self.target.describe(),
                });
            }
            None => match self.target.missing_secret() {
                Some(url) => {
                    return Err(ReplayError::MissingPassword {
                        app_id: self.app_id.clone(),
                        url,
                    });
                }
                None => self.target.clone(),
            },
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let value = match value {
                Some(value) => value.clone(),
                None => configured
                    .and_then(|w| {
                        w.headers.iter().find(|(n, _)| n == name).or_else(|| {
                            w.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
                        })
                    })
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| ReplayError::MissingHeader {
                        app_id: self.app_id.clone(),
                        webhook: self.webhook,
                        name: name.clone(),
                    })?,
            };
            headers.push((name.clone(), value));
        }
        let request = Request::from_parts(
            &self.app_id,
            &self.app_key,
            self.webhook,
            target,
            self.time_ms,
            self.events.clone(),
            self.payload.clone(),
            headers,
        );
        match replay.resign_at {
            None => Ok(request),
            Some(time_ms) => {
                let app = apps.iter().find(|a| a.id == self.app_id).ok_or_else(|| {
                    ReplayError::NoAppToSign {
                        app_id: self.app_id.clone(),
                    }
                })?;
                Ok(request.signed_again(app, 0, self.events.len(), time_ms))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::headers::user_agent;
    use soketi_handler_kit::wire::{Event, EventKind};

    use super::*;
    use crate::config::Target;
    use crate::deliver::{DeliveryReport, Failure, FailureKind, Outcome};

    fn line_of(app: &App, webhook: usize, time_ms: u64) -> (Request, String) {
        let request = Request::build(
            app,
            webhook,
            vec![Event::cache_miss("cache-a")],
            time_ms,
            &user_agent(1),
        )
        .expect("request");
        let failure = Failure::new(
            FailureKind::Connection,
            "error sending request for url (https://bot:hunter2@hooks.example/in)",
            None,
            1,
        );
        let line = DeadLetter::from_report(&DeliveryReport::new(
            request.clone(),
            Outcome::Failed(failure),
        ))
        .expect("failed")
        .to_json_line();
        (request, line)
    }

    fn http_app(secret: &str) -> App {
        App::new("1", "k", secret).webhook(
            Webhook::http("https://bot:hunter2@hooks.example/in")
                .header("Authorization", "Bearer t0k3n")
                .header("X-Env", "prod")
                .event_types([EventKind::CacheMiss]),
        )
    }

    #[test]
    fn credential_headers_and_url_passwords_are_not_stored_and_come_back_from_the_configuration() {
        let app = http_app("s");
        let (request, line) = line_of(&app, 0, 7);
        for secret in ["hunter2", "t0k3n", "\"s\""] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
        assert!(line.starts_with(r#"{"v":2,"#), "{line}");
        assert!(line.contains(r#"["Authorization",null]"#), "{line}");
        assert!(line.contains(r#"["X-Env","prod"]"#), "{line}");
        assert!(line.contains("https://bot:***@hooks.example/in"), "{line}");
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert!(!format!("{letter:?}").contains("hunter2"));
        assert_eq!(
            letter.to_request(std::slice::from_ref(&app), &Replay::new()),
            Ok(request),
            "the same request, byte for byte, headers and URL from the configuration"
        );
        // Without the configuration, the header and the password cannot be made up.
        let anywhere = Replay::new().unconfigured_targets(true);
        assert_eq!(
            letter.to_request(&[], &anywhere).map_err(|e| e.kind()),
            Err("MissingPassword")
        );
        let no_password = App::new("1", "k", "s").webhook(
            Webhook::http("https://hooks.example/in")
                .header("Authorization", "Bearer t0k3n")
                .event_types([EventKind::CacheMiss]),
        );
        let (_, line) = line_of(&no_password, 0, 7);
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert_eq!(
            letter.to_request(&[], &anywhere).map_err(|e| e.kind()),
            Err("MissingHeader")
        );
    }

    #[test]
    fn configured_credentials_never_go_to_a_target_named_only_in_the_file() {
        use crate::config::StaticCredentials;
        let app = App::new("1", "k", "s").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .credentials(StaticCredentials::new("AKIDSTATIC", "static-secret", None))
                .event_types([EventKind::CacheMiss]),
        );
        let (request, line) = line_of(&app, 0, 7);
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert_eq!(
            letter.to_request(std::slice::from_ref(&app), &Replay::new()),
            Ok(request)
        );
        let apps = [app];
        for (from, to) in [
            (
                r#""endpoint":null"#,
                r#""endpoint":"https://attacker.example""#,
            ),
            (r#""function":"f""#, r#""function":"other""#),
            (r#""region":"eu-west-1""#, r#""region":"us-east-1""#),
            (r#""app_id":"1""#, r#""app_id":"2""#),
            (r#""webhook":0"#, r#""webhook":1"#),
        ] {
            let edited = line.replace(from, to);
            assert_ne!(edited, line, "{from}");
            let letter = DeadLetter::from_json_line(&edited).expect("reads");
            let error = letter
                .to_request(&apps, &Replay::new())
                .expect_err("not the configured webhook");
            assert_eq!(error.kind(), "NotConfigured", "{to}");
            assert!(
                error.to_string().contains("--unconfigured-targets"),
                "{error}"
            );
            // Allowed explicitly: sent where the file says, without the configured credentials.
            let request = letter
                .to_request(&apps, &Replay::new().unconfigured_targets(true))
                .expect("allowed");
            match &request.target {
                Target::Lambda(l) => assert_eq!(l.credentials, None, "{to}"),
                Target::Http(_) => panic!("a Lambda target"),
            }
        }
    }

    #[test]
    fn resigning_uses_the_current_secret_and_a_new_time_and_keeps_the_events() {
        use soketi_handler_kit::{Keyring, Verifier};
        let before = http_app("old-secret");
        let (request, line) = line_of(&before, 0, 7);
        let rotated = [http_app("new-secret")];
        let letter = DeadLetter::from_json_line(&line).expect("reads");

        let kept = letter.to_request(&rotated, &Replay::new()).expect("kept");
        assert_eq!(
            kept.body, request.body,
            "without --resign: the old signature"
        );

        let resigned = letter
            .to_request(&rotated, &Replay::new().resign_at(1_800_000_000_000))
            .expect("re-signed");
        let verify = |secret: &str| {
            Verifier::new(Keyring::new().app("k", secret)).verify_parts(
                resigned.payload.as_bytes(),
                resigned.header("X-Pusher-Key"),
                resigned.header("X-Pusher-Signature"),
            )
        };
        let verified = verify("new-secret").expect("signed with the current secret");
        assert!(verify("old-secret").is_err());
        assert_eq!(verified.payload().time_ms(), 1_800_000_000_000);
        assert_eq!(resigned.time_ms, 1_800_000_000_000);
        assert_eq!(resigned.events, request.events);
        assert_eq!(resigned.header("Authorization"), Some("Bearer t0k3n"));
        assert_eq!(
            resigned.body, resigned.payload,
            "HTTP: the body is the payload"
        );
        assert_eq!(
            letter
                .to_request(&[], &Replay::new().resign_at(1).unconfigured_targets(true))
                .map_err(|e| e.kind()),
            Err("MissingPassword")
        );
        let lambda = App::new("1", "k", "old").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .event_types([EventKind::CacheMiss]),
        );
        let (_, line) = line_of(&lambda, 0, 7);
        let letter = DeadLetter::from_json_line(&line).expect("reads");
        assert_eq!(
            letter
                .to_request(&[], &Replay::new().resign_at(1).unconfigured_targets(true))
                .map_err(|e| e.kind()),
            Err("NoAppToSign")
        );
    }
}
