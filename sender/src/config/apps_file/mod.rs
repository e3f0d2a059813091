//! Reading soketi's apps file: where the apps are in it, and each app's fields.
//!
//! One reader, one set of rules, for the sender's configuration ([`parse_apps_file`]) and for
//! what a receiver needs ([`parse_apps_file_credentials`], used by `soketi-lambda verify
//! --apps`). Errors name the field by its path in the document, e.g.
//! `apps[2].webhooks[0].lambda.async`.
//!
//! Inside: this module finds the apps in the document and reads each app's fields; `webhook`
//! reads one webhook.
//!
//! (The handler kit reads another format: a JSON object of app key to secret or secrets, its
//! app secrets. This module does not read that one.)

mod webhook;

use std::fmt;

use serde_json::{Map, Value};
use soketi_handler_kit::wire::Secret;

use self::webhook::parse_webhook;
use super::error::{ConfigError, ConfigErrorKind, invalid};
use super::model::App;

impl App {
    /// Reads one app from soketi's JSON.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        App::from_value(&parse_json(text)?)
    }

    /// Reads one app from an already parsed JSON value.
    pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
        parse_app(value, "")
    }
}

/// Reads soketi's apps file: a JSON array of apps, a single app object, or soketi's array app
/// manager configuration `{"appManager.array.apps": [...]}` (or `{"apps": [...]}`).
///
/// ```
/// use soketi_lambda_sender::config::parse_apps_file;
/// let apps = parse_apps_file(r#"[{"id":"1","key":"k1","secret":"s1"},{"id":"2","key":"k2","secret":"s2"}]"#)?;
/// assert_eq!(apps.len(), 2);
/// assert_eq!(apps[1].key, "k2");
/// let err = parse_apps_file(r#"{"apps":[{"id":"1","key":"k","secret":"s","webhooks":[
///     {"lambda_function":"f","event_types":["cache_miss"],"lambda":{"async":"yes"}}]}]}"#).unwrap_err();
/// assert_eq!(err.field(), "apps[0].webhooks[0].lambda.async");
/// # Ok::<(), soketi_lambda_sender::config::ConfigError>(())
/// ```
pub fn parse_apps_file(text: &str) -> Result<Vec<App>, ConfigError> {
    let value = parse_json(text)?;
    apps_in(&value)?
        .into_iter()
        .map(|(prefix, app)| parse_app(app, &prefix))
        .collect()
}

/// An app's id, key and secret, as soketi's apps file gives them: what a receiver needs to
/// verify its webhooks.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppCredentials {
    /// The app id.
    pub id: String,
    /// The app key (`X-Pusher-Key`).
    pub key: String,
    secret: String,
}

impl AppCredentials {
    /// The app secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCredentials")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The id, key and secret of each app of soketi's apps file (the forms [`parse_apps_file`]
/// reads, by the same rules and with the same errors; webhooks are not read).
///
/// ```
/// use soketi_lambda_sender::config::parse_apps_file_credentials;
/// let apps = parse_apps_file_credentials(r#"{"appManager.array.apps":[{"id":1,"key":"k","secret":"s"}]}"#)?;
/// assert_eq!((apps[0].id.as_str(), apps[0].key.as_str(), apps[0].secret()), ("1", "k", "s"));
/// assert!(!format!("{apps:?}").contains("\"s\""));
/// let err = parse_apps_file_credentials(r#"[{"id":"1","key":"k"}]"#).unwrap_err();
/// assert_eq!(err.field(), "[0].secret");
/// // Not an apps file: the kit's map of app key to secret is an app without an id here.
/// let err = parse_apps_file_credentials(r#"{"k":"s"}"#).unwrap_err();
/// assert_eq!(err.field(), "id");
/// # Ok::<(), soketi_lambda_sender::config::ConfigError>(())
/// ```
pub fn parse_apps_file_credentials(text: &str) -> Result<Vec<AppCredentials>, ConfigError> {
    let value = parse_json(text)?;
    apps_in(&value)?
        .into_iter()
        .map(|(prefix, app)| {
            let (id, key, secret) = app_identity(app_object(app, &prefix)?, &prefix)?;
            Ok(AppCredentials { id, key, secret })
        })
        .collect()
}

fn parse_json(text: &str) -> Result<Value, ConfigError> {
    serde_json::from_str(text)
        .map_err(|e| ConfigError::new(ConfigErrorKind::Json, None, "", format!("not JSON: {e}")))
}

/// The apps of a document (see [`locate`]); an object that is none of those forms is read as
/// one app, whose errors say what is missing.
fn apps_in(value: &Value) -> Result<Vec<(String, &Value)>, ConfigError> {
    match locate(value)? {
        Some(apps) => Ok(apps),
        None if value.is_object() => Ok(vec![(String::new(), value)]),
        None => Err(ConfigError::new(
            ConfigErrorKind::InvalidField,
            None,
            "",
            "expected an app object or an array of apps".to_owned(),
        )),
    }
}

/// The keys under which soketi's configuration holds the list of apps.
const APP_LISTS: [&str; 2] = ["appManager.array.apps", "apps"];

/// Where the apps of a document are, each with the path prefix of its fields: an array of
/// apps (`[2].`), a list under one of [`APP_LISTS`] (`apps[2].`), or one app object, known by
/// its `key` (no prefix). `None` when the document is none of these.
fn locate(value: &Value) -> Result<Option<Vec<(String, &Value)>>, ConfigError> {
    let Value::Object(map) = value else {
        return Ok(match value {
            Value::Array(items) => Some(listed(items, "")),
            _ => None,
        });
    };
    if map.contains_key("key") {
        return Ok(Some(vec![(String::new(), value)]));
    }
    for name in APP_LISTS {
        match map.get(name) {
            None => {}
            Some(Value::Array(items)) => return Ok(Some(listed(items, name))),
            Some(_) => {
                return Err(invalid(None, name.to_owned(), "must be an array of apps"));
            }
        }
    }
    Ok(None)
}

/// The items of the list `name`, each with its path prefix `name[i].`.
fn listed<'v>(items: &'v [Value], name: &str) -> Vec<(String, &'v Value)> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| (format!("{name}[{i}]."), item))
        .collect()
}

/// An app, which must be a JSON object.
fn app_object<'v>(value: &'v Value, prefix: &str) -> Result<&'v Map<String, Value>, ConfigError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(
            None,
            prefix.trim_end_matches('.').to_owned(),
            "an app must be a JSON object",
        )),
    }
}

/// An app's `id`, `key` and `secret`, required and non-empty (a numeric `id` is accepted, as
/// soketi's app managers do).
fn app_identity(
    map: &Map<String, Value>,
    prefix: &str,
) -> Result<(String, String, String), ConfigError> {
    let required = |name: &str| -> Result<String, ConfigError> {
        match map.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::Number(n)) if name == "id" => Ok(n.to_string()),
            Some(Value::String(_)) => Err(invalid(
                None,
                format!("{prefix}{name}"),
                "must not be empty",
            )),
            Some(_) => Err(invalid(None, format!("{prefix}{name}"), "must be a string")),
            None => Err(ConfigError::new(
                ConfigErrorKind::MissingField,
                None,
                format!("{prefix}{name}"),
                "is required".to_owned(),
            )),
        }
    };
    Ok((required("id")?, required("key")?, required("secret")?))
}

/// One app: its identity (see [`app_identity`]) and its webhooks, every one checked.
fn parse_app(value: &Value, prefix: &str) -> Result<App, ConfigError> {
    let map = app_object(value, prefix)?;
    let (id, key, secret) = app_identity(map, prefix)?;
    let webhooks_field = format!("{prefix}webhooks");
    let parsed_string;
    let webhooks = match map.get("webhooks") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(Value::String(text)) => {
            parsed_string = serde_json::from_str::<Value>(text).map_err(|e| {
                invalid(
                    None,
                    webhooks_field.clone(),
                    format!("is a string but not a JSON array: {e}"),
                )
            })?;
            match &parsed_string {
                Value::Array(items) => items.as_slice(),
                _ => {
                    return Err(invalid(
                        None,
                        webhooks_field,
                        "is a string but not a JSON array",
                    ));
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                None,
                webhooks_field,
                "must be an array (or a JSON string holding one)",
            ));
        }
    };
    let webhooks = webhooks
        .iter()
        .enumerate()
        .map(|(index, value)| parse_webhook(value, index, prefix))
        .collect::<Result<Vec<_>, _>>()?;
    let previous_secrets = previous_secrets(map, prefix)?;
    Ok(App {
        id,
        key,
        secret: Secret::new(secret),
        webhooks,
        previous_secrets,
    })
}

/// `previous_secrets`: secrets still accepted on queue jobs (an array of non-empty strings, or
/// one string); soketi ignores the field.
fn previous_secrets(map: &Map<String, Value>, prefix: &str) -> Result<Vec<Secret>, ConfigError> {
    let field = format!("{prefix}previous_secrets");
    let items = match map.get("previous_secrets") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => std::slice::from_ref(s),
        Some(Value::Array(items)) => {
            return items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) if !s.is_empty() => Ok(Secret::new(s)),
                    _ => Err(invalid(
                        None,
                        format!("{field}[{i}]"),
                        "must be a non-empty string (a secret)",
                    )),
                })
                .collect();
        }
        Some(_) => {
            return Err(invalid(
                None,
                field,
                "must be an array of secrets (strings)",
            ));
        }
    };
    items
        .iter()
        .map(|s| {
            if s.is_empty() {
                Err(invalid(None, field.clone(), "must not be empty"))
            } else {
                Ok(Secret::new(s))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::{Event, EventKind};

    use super::*;
    use crate::config::{Filter, HttpTarget, InvocationMode, RegionSource, Target, Webhook};

    fn app_with(webhooks: &str) -> Result<App, ConfigError> {
        App::from_json(&format!(
            r#"{{"id":"1","key":"k","secret":"s","webhooks":{webhooks}}}"#
        ))
    }

    fn err(webhooks: &str) -> ConfigError {
        match app_with(webhooks) {
            Ok(app) => panic!("expected an error, got {app:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn previous_secrets_are_read_and_checked() {
        let signed_by = |secret: &str| Secret::new(secret).sign(b"payload");
        let app = App::from_json(
            r#"{"id":"1","key":"k","secret":"new","previous_secrets":["old","older"]}"#,
        )
        .expect("valid");
        assert_eq!(app.secrets().count(), 3);
        for (secret, name) in app.secrets().zip(["new", "old", "older"]) {
            assert!(secret.verifies(b"payload", &signed_by(name)), "{name}");
        }
        let one = App::from_json(r#"{"id":"1","key":"k","secret":"new","previous_secrets":"old"}"#)
            .expect("valid");
        assert_eq!(one.previous_secrets.len(), 1);
        for (json, field) in [
            (r#""previous_secrets":[""]"#, "previous_secrets[0]"),
            (r#""previous_secrets":[1]"#, "previous_secrets[0]"),
            (r#""previous_secrets":"""#, "previous_secrets"),
            (r#""previous_secrets":{}"#, "previous_secrets"),
        ] {
            let error = App::from_json(&format!(r#"{{"id":"1","key":"k","secret":"s",{json}}}"#))
                .expect_err(json);
            assert_eq!(error.field(), field, "{json}");
        }
    }

    #[test]
    fn reads_every_documented_field() {
        let app = app_with(
            r#"[{"lambda_function":"arn:aws:lambda:eu-west-1:1:function:f","region":"us-east-1",
                "event_types":["channel_occupied","member_added"],
                "filter":{"channel_name_starts_with":"presence-","channel_name_ends_with":"-x"},
                "headers":{"X-A":"1","X-B":"2"},
                "lambda":{"async":true,"region":"eu-central-1","client_options":{
                    "region":"eu-west-1","endpoint":"http://127.0.0.1:9000",
                    "credentials":{"accessKeyId":"AKID","secretAccessKey":"SAK","sessionToken":"TOK"}}}},
               {"url":"https://example.com/hook","event_types":["client_event"]}]"#,
        )
        .expect("valid config");
        assert_eq!(app.webhooks.len(), 2);
        let w = &app.webhooks[0];
        assert_eq!(
            w.event_types,
            [EventKind::ChannelOccupied, EventKind::MemberAdded]
        );
        assert_eq!(w.filter, Filter::new("presence-", "-x"));
        assert_eq!(
            w.headers,
            [
                ("X-A".to_owned(), "1".to_owned()),
                ("X-B".to_owned(), "2".to_owned())
            ]
        );
        let Target::Lambda(l) = &w.target else {
            panic!("lambda target")
        };
        assert_eq!(l.mode, InvocationMode::Event);
        assert_eq!(l.region.as_deref(), Some("eu-west-1"));
        assert_eq!(l.region_source, Some(RegionSource::ClientOptions));
        assert_eq!(l.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        let creds = l.credentials.as_ref().expect("credentials");
        assert_eq!(creds.access_key_id(), "AKID");
        assert_eq!(creds.session_token(), Some("TOK"));
        let debug = format!("{app:?}");
        assert!(!debug.contains("SAK") && !debug.contains("TOK"), "{debug}");
        assert_eq!(
            app.webhooks[1].target,
            Target::Http(HttpTarget::new("https://example.com/hook"))
        );
    }

    #[test]
    fn region_order_is_client_options_then_lambda_then_webhook() {
        let region = |hook: &str| {
            let app = app_with(&format!("[{hook}]")).expect("valid");
            let Target::Lambda(l) = &app.webhooks[0].target else {
                panic!("lambda")
            };
            (l.region.clone(), l.region_source)
        };
        let base = r#""lambda_function":"f","event_types":["cache_miss"]"#;
        assert_eq!(
            region(&format!(
                r#"{{{base},"region":"w","lambda":{{"region":"l","client_options":{{"region":"c"}}}}}}"#
            )),
            (Some("c".into()), Some(RegionSource::ClientOptions))
        );
        assert_eq!(
            region(&format!(
                r#"{{{base},"region":"w","lambda":{{"region":"l"}}}}"#
            )),
            (Some("l".into()), Some(RegionSource::Lambda))
        );
        assert_eq!(
            region(&format!(r#"{{{base},"region":"w"}}"#)),
            (Some("w".into()), Some(RegionSource::Webhook))
        );
        // No `lambda` object at all (soketi crashes here): RequestResponse, region left to
        // the AWS default chain.
        let app = app_with(&format!("[{{{base}}}]")).expect("valid");
        let Target::Lambda(l) = &app.webhooks[0].target else {
            panic!("lambda")
        };
        assert_eq!(
            (l.region.as_ref(), l.mode),
            (None, InvocationMode::RequestResponse)
        );
    }

    #[test]
    fn webhooks_may_be_a_json_string() {
        let app = App::from_json(
            r#"{"id":"1","key":"k","secret":"s","webhooks":"[{\"url\":\"http://127.0.0.1:1/h\",\"event_types\":[\"channel_vacated\"]}]"}"#,
        )
        .expect("valid");
        assert_eq!(app.webhooks[0].event_types, [EventKind::ChannelVacated]);
        let bad = App::from_json(r#"{"id":"1","key":"k","secret":"s","webhooks":"[{"}"#)
            .expect_err("broken string");
        assert_eq!(
            (bad.kind(), bad.field()),
            (ConfigErrorKind::InvalidField, "webhooks")
        );
    }

    #[test]
    fn validation_errors_name_the_webhook_and_field() {
        let ok = r#"{"url":"http://127.0.0.1:1/h","event_types":["channel_occupied"]}"#;
        let cases: &[(&str, ConfigErrorKind, &str)] = &[
            (
                r#"{"event_types":["channel_occupied"]}"#,
                ConfigErrorKind::NoTarget,
                "webhooks[1]",
            ),
            (
                r#"{"url":"http://h/","lambda_function":"f","event_types":["channel_occupied"]}"#,
                ConfigErrorKind::BothTargets,
                "webhooks[1]",
            ),
            (
                r#"{"url":"http://h/"}"#,
                ConfigErrorKind::MissingField,
                "webhooks[1].event_types",
            ),
            (
                r#"{"url":"http://h/","event_types":[]}"#,
                ConfigErrorKind::NoEventTypes,
                "webhooks[1].event_types",
            ),
            (
                r#"{"url":"http://h/","event_types":["channel_occupied","nope"]}"#,
                ConfigErrorKind::UnknownEventType,
                "webhooks[1].event_types[1]",
            ),
            (
                r#"{"url":"http://h/","event_types":["cache_miss"],"headers":{"x-pusher-SIGNATURE":"x"}}"#,
                ConfigErrorKind::ReservedHeader,
                "webhooks[1].headers.x-pusher-SIGNATURE",
            ),
            (
                r#"{"url":"http://h/","event_types":["cache_miss"],"headers":{"X-Pusher-Key":"x"}}"#,
                ConfigErrorKind::ReservedHeader,
                "webhooks[1].headers.X-Pusher-Key",
            ),
            (
                r#"{"url":"http://h/","event_types":["cache_miss"],"headers":{"X Bad":"v"}}"#,
                ConfigErrorKind::InvalidField,
                "webhooks[1].headers.X Bad",
            ),
            (
                r#"{"url":"http://h/","event_types":["cache_miss"],"headers":{"X-Ok":"a\r\nX-Injected: b"}}"#,
                ConfigErrorKind::InvalidField,
                "webhooks[1].headers.X-Ok",
            ),
            (
                r#"{"url":"ftp://h/","event_types":["cache_miss"]}"#,
                ConfigErrorKind::InvalidField,
                "webhooks[1].url",
            ),
            (
                r#"{"lambda_function":"f","event_types":["cache_miss"],"lambda":{"async":"yes"}}"#,
                ConfigErrorKind::InvalidField,
                "webhooks[1].lambda.async",
            ),
            (
                r#"{"lambda_function":"f","event_types":["cache_miss"],"lambda":{"client_options":{"credentials":{"accessKeyId":"a"}}}}"#,
                ConfigErrorKind::MissingField,
                "webhooks[1].lambda.client_options.credentials.secretAccessKey",
            ),
            (
                r#"{"lambda_function":"f","event_types":["cache_miss"],"lambda":{"client_options":{"endpoint":"not a url"}}}"#,
                ConfigErrorKind::InvalidField,
                "webhooks[1].lambda.client_options.endpoint",
            ),
            (r#"[]"#, ConfigErrorKind::InvalidField, "webhooks[1]"),
        ];
        for (hook, kind, field) in cases {
            let e = err(&format!("[{ok},{hook}]"));
            assert_eq!(
                (e.kind(), e.webhook(), e.field()),
                (*kind, Some(1), *field),
                "{hook}: {e}"
            );
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }

    #[test]
    fn app_fields_are_required() {
        let e = App::from_json(r#"{"id":"1","key":"k"}"#).expect_err("no secret");
        assert_eq!(
            (e.kind(), e.field(), e.webhook()),
            (ConfigErrorKind::MissingField, "secret", None)
        );
        let e = App::from_json("nope").expect_err("not json");
        assert_eq!(e.kind(), ConfigErrorKind::Json);
        let apps =
            parse_apps_file(r#"{"appManager.array.apps":[{"id":7,"key":"k","secret":"s"}]}"#)
                .expect("soketi config form");
        assert_eq!(apps[0].id, "7");
        let e = parse_apps_file(r#"[{"id":"1","key":"k","secret":"s"},{"id":"2","key":"k2"}]"#)
            .expect_err("second app broken");
        assert_eq!(e.field(), "[1].secret");
    }

    #[test]
    fn lambda_custom_headers_may_be_any_string_as_in_soketi() {
        let app = app_with(
            r#"[{"lambda_function":"f","event_types":["cache_miss"],"lambda":{"region":"r"},
                "headers":{"X Any":"line\nbreak"}}]"#,
        )
        .expect("valid: the envelope carries them as JSON strings");
        assert_eq!(
            app.webhooks[0].headers,
            [("X Any".to_owned(), "line\nbreak".to_owned())]
        );
        let code_built = App::new("1", "k", "s").webhook(
            Webhook::http("http://127.0.0.1:1/")
                .event_types([EventKind::CacheMiss])
                .header("X-Ok", "v\u{0}"),
        );
        let e = code_built
            .validate()
            .expect_err("NUL in an HTTP header value");
        assert_eq!(
            (e.kind(), e.field()),
            (ConfigErrorKind::InvalidField, "webhooks[0].headers.X-Ok")
        );
    }

    #[test]
    fn code_built_webhooks_are_validated_too() {
        let app = App::new("1", "k", "s").webhook(
            Webhook::http("http://127.0.0.1:1/")
                .event_types([EventKind::CacheMiss])
                .header("X-PUSHER-KEY", "forged"),
        );
        assert_eq!(
            app.validate().map_err(|e| e.kind()),
            Err(ConfigErrorKind::ReservedHeader)
        );
    }

    #[test]
    fn matching_uses_event_types_and_filter() {
        let w = Webhook::http("http://127.0.0.1:1/")
            .event_types([EventKind::ChannelOccupied, EventKind::MemberAdded])
            .filter(Filter::new("presence-", ""));
        assert!(w.matches(&Event::member_added("presence-a", "u")));
        assert!(!w.matches(&Event::member_added("private-a", "u")));
        assert!(!w.matches(&Event::channel_vacated("presence-a")));
    }

    #[test]
    fn both_readers_find_the_apps_by_the_same_rules_and_name_the_same_paths() {
        let ok = r#"{"id":"1","key":"k1","secret":"s1"}"#;
        let bad_hook = r#"{"id":"3","key":"k3","secret":"s3","webhooks":[{"lambda_function":"f","event_types":["cache_miss"],"lambda":{"async":1}}]}"#;
        for (list, prefix) in [
            ("[{apps}]".to_owned(), "[2]"),
            (r#"{"apps":[{apps}]}"#.to_owned(), "apps[2]"),
            (
                r#"{"appManager.array.apps":[{apps}]}"#.to_owned(),
                "appManager.array.apps[2]",
            ),
        ] {
            let with = |third: &str| list.replace("{apps}", &format!("{ok},{ok},{third}"));
            let e = parse_apps_file(&with(bad_hook)).expect_err("bad webhook");
            assert_eq!(e.field(), format!("{prefix}.webhooks[0].lambda.async"));
            // A receiver does not read webhooks; the same app without its secret fails both.
            assert_eq!(
                parse_apps_file_credentials(&with(bad_hook))
                    .expect("ok")
                    .len(),
                3
            );
            let no_secret = r#"{"id":"3","key":"k3"}"#;
            for e in [
                parse_apps_file(&with(no_secret)).expect_err("no secret"),
                parse_apps_file_credentials(&with(no_secret)).expect_err("no secret"),
            ] {
                assert_eq!(
                    (e.kind(), e.field()),
                    (
                        ConfigErrorKind::MissingField,
                        format!("{prefix}.secret").as_str()
                    )
                );
            }
        }
        let e = parse_apps_file(r#"{"apps":{"id":"1"}}"#).expect_err("not a list");
        assert_eq!(
            (e.kind(), e.field()),
            (ConfigErrorKind::InvalidField, "apps")
        );
        // No guess at another format: an object that is not soketi's apps is one app, for both.
        for e in [
            parse_apps_file(r#"{"app1key":"secret"}"#).expect_err("not apps"),
            parse_apps_file_credentials(r#"{"app1key":"secret"}"#).expect_err("not apps"),
        ] {
            assert_eq!((e.kind(), e.field()), (ConfigErrorKind::MissingField, "id"));
        }
    }
}
