//! The checks every webhook passes, whether read from JSON or built in code.

use soketi_handler_kit::wire::headers::is_reserved;

use super::error::{ConfigError, ConfigErrorKind, invalid};
use super::model::{Target, Webhook};

impl Webhook {
    /// Checks webhook number `index`; errors name the field under `prefix`.
    pub(super) fn validate(&self, index: usize, prefix: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{prefix}webhooks[{index}]{field}");
        if self.event_types.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::NoEventTypes,
                Some(index),
                at(".event_types"),
                "must list at least one event type".to_owned(),
            ));
        }
        for (name, value) in &self.headers {
            if is_reserved(name) {
                return Err(reserved_header(index, at(".headers"), name));
            }
            if matches!(self.target, Target::Http(_)) {
                check_http_header(name, value, index, at(&format!(".headers.{name}")))?;
            }
        }
        match &self.target {
            Target::Http(http) => check_url(http.url.as_str(), index, at(".url")),
            Target::Lambda(lambda) if lambda.function.is_empty() => Err(ConfigError::new(
                ConfigErrorKind::InvalidField,
                Some(index),
                at(".lambda_function"),
                "must not be empty".to_owned(),
            )),
            Target::Lambda(lambda) => match &lambda.endpoint {
                Some(endpoint) => check_url(endpoint, index, at(".lambda.client_options.endpoint")),
                None => Ok(()),
            },
        }
    }
}

pub(super) fn reserved_header(index: usize, field: String, name: &str) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::ReservedHeader,
        Some(index),
        field,
        format!(
            "custom header `{name}` is not allowed: X-Pusher-Key and X-Pusher-Signature are \
             always set by the sender (key and signature of the payload)"
        ),
    )
}

/// A `url` webhook sends its custom headers as real HTTP headers: a name or value HTTP cannot
/// carry would make every delivery fail, so it is refused with the configuration. (A Lambda
/// webhook carries them as JSON strings in the envelope, where any string goes, as in soketi.)
fn check_http_header(
    name: &str,
    value: &str,
    index: usize,
    field: String,
) -> Result<(), ConfigError> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(invalid(
            Some(index),
            field,
            format!(
                "`{name}` is not a valid HTTP header name: use letters, digits and `-` \
                 (no spaces, colons or other separators)"
            ),
        ));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(invalid(
            Some(index),
            field,
            "is not a valid HTTP header value: it must not contain line breaks or other \
             control characters",
        ));
    }
    Ok(())
}

/// Errors show the URL with its password hidden.
fn check_url(url: &str, index: usize, field: String) -> Result<(), ConfigError> {
    let shown = crate::redact::url(url);
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        Ok(_) => Err(ConfigError::new(
            ConfigErrorKind::InvalidField,
            Some(index),
            field,
            format!("`{shown}` must be an http:// or https:// URL"),
        )),
        Err(e) => Err(ConfigError::new(
            ConfigErrorKind::InvalidField,
            Some(index),
            field,
            format!("`{shown}` is not a URL: {e}"),
        )),
    }
}
