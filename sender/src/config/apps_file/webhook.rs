//! One webhook of an app in soketi's apps file: its target (`url`, or `lambda_function` with
//! its `lambda` options), `event_types`, `filter` and custom `headers`.

use serde_json::{Map, Value};
use soketi_handler_kit::wire::EventKind;
use soketi_handler_kit::wire::headers::is_reserved;

use crate::config::error::{ConfigError, ConfigErrorKind, invalid};
use crate::config::model::{Filter, Webhook};
use crate::config::target::{
    HttpTarget, InvocationMode, LambdaTarget, RegionSource, StaticCredentials, Target,
};
use crate::config::validate::reserved_header;

fn opt_str(
    map: &Map<String, Value>,
    name: &str,
    index: usize,
    at: &dyn Fn(&str) -> String,
) -> Result<Option<String>, ConfigError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(Some(index), at(name), "must be a string")),
    }
}

fn opt_object<'v>(
    map: &'v Map<String, Value>,
    name: &str,
    index: usize,
    field: String,
) -> Result<Option<&'v Map<String, Value>>, ConfigError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(invalid(Some(index), field, "must be an object")),
    }
}

/// Webhook number `index` of the app whose fields are under `prefix`, checked.
pub(super) fn parse_webhook(
    value: &Value,
    index: usize,
    prefix: &str,
) -> Result<Webhook, ConfigError> {
    let base = format!("{prefix}webhooks[{index}]");
    let at = |field: &str| format!("{base}.{field}");
    let Value::Object(map) = value else {
        return Err(invalid(
            Some(index),
            base,
            "a webhook must be a JSON object",
        ));
    };
    let url = opt_str(map, "url", index, &at)?;
    let function = opt_str(map, "lambda_function", index, &at)?;

    let event_types = match map.get("event_types") {
        None | Some(Value::Null) => {
            return Err(ConfigError::new(
                ConfigErrorKind::MissingField,
                Some(index),
                at("event_types"),
                "is required: list the events this webhook wants, e.g. [\"channel_occupied\"]"
                    .to_owned(),
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("{base}.event_types[{i}]");
                match item {
                    Value::String(name) => EventKind::from_name(name).ok_or_else(|| {
                        let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                        ConfigError::new(
                            ConfigErrorKind::UnknownEventType,
                            Some(index),
                            field,
                            format!("unknown event type `{name}` (known: {})", known.join(", ")),
                        )
                    }),
                    _ => Err(invalid(Some(index), field, "must be a string")),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(invalid(Some(index), at("event_types"), "must be an array")),
    };

    let filter = match opt_object(map, "filter", index, at("filter"))? {
        None => Filter::default(),
        Some(filter) => {
            let fat = |field: &str| format!("{base}.filter.{field}");
            Filter {
                starts_with: opt_str(filter, "channel_name_starts_with", index, &fat)?
                    .unwrap_or_default(),
                ends_with: opt_str(filter, "channel_name_ends_with", index, &fat)?
                    .unwrap_or_default(),
            }
        }
    };

    let mut headers = Vec::new();
    if let Some(map) = opt_object(map, "headers", index, at("headers"))? {
        for (name, value) in map {
            let field = format!("{base}.headers.{name}");
            if is_reserved(name) {
                return Err(reserved_header(index, field, name));
            }
            // soketi would copy a non-string value into the Lambda envelope as is (a JSON
            // number, say), which HTTP cannot carry the same way: only strings are accepted.
            let Value::String(value) = value else {
                return Err(invalid(Some(index), field, "must be a string"));
            };
            let value = value.clone();
            headers.push((name.clone(), value));
        }
    }

    let target = match (url, function) {
        (None, None) => {
            return Err(ConfigError::new(
                ConfigErrorKind::NoTarget,
                Some(index),
                base,
                "has no target: set `url` or `lambda_function`".to_owned(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                ConfigErrorKind::BothTargets,
                Some(index),
                base,
                "has both `url` and `lambda_function`: set exactly one".to_owned(),
            ));
        }
        (Some(url), None) => Target::Http(HttpTarget::new(url)),
        (None, Some(function)) => Target::Lambda(parse_lambda(map, function, index, &base)?),
    };

    let webhook = Webhook {
        target,
        event_types,
        filter,
        headers,
    };
    webhook.validate(index, prefix)?;
    Ok(webhook)
}

fn parse_lambda(
    map: &Map<String, Value>,
    function: String,
    index: usize,
    base: &str,
) -> Result<LambdaTarget, ConfigError> {
    let mut target = LambdaTarget::new(function);
    let at = |field: &str| format!("{base}.{field}");
    let webhook_region = opt_str(map, "region", index, &at)?;
    let mut lambda_region = None;
    let mut options_region = None;
    if let Some(lambda) = opt_object(map, "lambda", index, at("lambda"))? {
        let lat = |field: &str| format!("{base}.lambda.{field}");
        target.mode = match lambda.get("async") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => InvocationMode::RequestResponse,
            Some(Value::Bool(true)) => InvocationMode::Event,
            Some(_) => return Err(invalid(Some(index), lat("async"), "must be true or false")),
        };
        lambda_region = opt_str(lambda, "region", index, &lat)?;
        if let Some(options) = opt_object(lambda, "client_options", index, lat("client_options"))? {
            let oat = |field: &str| format!("{base}.lambda.client_options.{field}");
            options_region = opt_str(options, "region", index, &oat)?;
            target.endpoint = opt_str(options, "endpoint", index, &oat)?;
            if let Some(creds) = opt_object(options, "credentials", index, oat("credentials"))? {
                let cat = |field: &str| format!("{base}.lambda.client_options.credentials.{field}");
                let key_id = opt_str(creds, "accessKeyId", index, &cat)?;
                let secret = opt_str(creds, "secretAccessKey", index, &cat)?;
                let token = opt_str(creds, "sessionToken", index, &cat)?;
                match (key_id, secret) {
                    (Some(key_id), Some(secret)) => {
                        target.credentials = Some(StaticCredentials::new(key_id, secret, token));
                    }
                    (None, _) => {
                        return Err(ConfigError::new(
                            ConfigErrorKind::MissingField,
                            Some(index),
                            cat("accessKeyId"),
                            "is required when credentials are given".to_owned(),
                        ));
                    }
                    (_, None) => {
                        return Err(ConfigError::new(
                            ConfigErrorKind::MissingField,
                            Some(index),
                            cat("secretAccessKey"),
                            "is required when credentials are given".to_owned(),
                        ));
                    }
                }
            }
        }
    }
    let (region, source) = if let Some(r) = options_region {
        (Some(r), Some(RegionSource::ClientOptions))
    } else if let Some(r) = lambda_region {
        (Some(r), Some(RegionSource::Lambda))
    } else if let Some(r) = webhook_region {
        (Some(r), Some(RegionSource::Webhook))
    } else {
        (None, None)
    };
    target.region = region;
    target.region_source = source;
    Ok(target)
}
