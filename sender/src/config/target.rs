//! Where a webhook's events go: [`Target`] and its kinds, with everything that depends on the
//! kind but how a request is sent (`deliver::transport`), its size limit (`route::Limits`) and
//! how soketi's apps file spells it (`apps_file`): the body a request carries, the checks, and
//! the form a dead letter stores (no secret in it) and recognises again when it is replayed.

use std::fmt;

use serde::{Deserialize, Serialize};
use soketi_handler_kit::wire::write_lambda_body;

use super::error::{ConfigError, ConfigErrorKind, invalid};
use crate::redact::{self, WebhookUrl};

/// Where a webhook's events go.
///
/// Serialized (in dead letters), a target holds no secret: no credentials, passwords hidden
/// (see [`Target::stored`]), tagged by `type` (`lambda` or `http`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Target {
    /// An HTTP `url` webhook: the payload is POSTed as the body.
    Http(HttpTarget),
    /// A `lambda_function` webhook: the function is invoked with `{payload, headers}`.
    Lambda(LambdaTarget),
}

impl Target {
    /// A short description for reports and logs, e.g. `lambda:my-function` or the URL (its
    /// password hidden, see [`redact`]).
    pub fn describe(&self) -> String {
        match self {
            Target::Http(http) => http.url.to_string(),
            Target::Lambda(lambda) => format!("lambda:{}", lambda.function),
        }
    }

    /// The bytes a request to this target carries for a signed payload and its headers: the
    /// payload itself for HTTP (the headers are real HTTP headers), soketi's envelope
    /// `{"payload":…,"headers":{…}}` for Lambda.
    pub fn body(&self, payload: &str, headers: &[(String, String)]) -> String {
        match self {
            Target::Http(_) => payload.to_owned(),
            Target::Lambda(_) => write_lambda_body(payload, headers),
        }
    }

    /// The target as a dead letter stores it: no credentials, the passwords of URLs hidden
    /// (`https://user:***@host/…`), where its region came from forgotten.
    ///
    /// ```
    /// use soketi_lambda_sender::config::{HttpTarget, Target};
    /// let target = Target::Http(HttpTarget::new("https://bot:hunter2@hooks.example/in"));
    /// let stored = serde_json::to_string(&target.stored())?;
    /// assert_eq!(stored, r#"{"type":"http","url":"https://bot:***@hooks.example/in"}"#);
    /// assert_eq!(serde_json::to_string(&target)?, stored, "serializing hides it too");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn stored(&self) -> Target {
        match self {
            Target::Http(http) => Target::Http(HttpTarget::new(http.url.redacted())),
            Target::Lambda(l) => Target::Lambda(LambdaTarget {
                function: l.function.clone(),
                mode: l.mode,
                region: l.region.clone(),
                region_source: None,
                endpoint: l.endpoint.as_deref().map(|e| redact::url(e).into_owned()),
                credentials: None,
            }),
        }
    }

    /// Whether `stored` (a target as a dead letter stores it) names this configured target:
    /// HTTP, the same URL (passwords hidden in both); Lambda, the same function, the same
    /// region when both name one, and the same endpoint.
    pub(crate) fn is_named_by(&self, stored: &Target) -> bool {
        match (self, stored) {
            (Target::Http(http), Target::Http(stored)) => {
                http.url.redacted() == stored.url.redacted()
            }
            (Target::Lambda(l), Target::Lambda(stored)) => {
                l.function == stored.function
                    && (l.region.is_none() || stored.region.is_none() || l.region == stored.region)
                    && l.endpoint.as_deref().map(redact::url)
                        == stored.endpoint.as_deref().map(redact::url)
            }
            _ => false,
        }
    }

    /// This configured target, to send again a letter that stored `stored` (which
    /// [`is_named_by`](Target::is_named_by) it): with the Lambda invocation mode the letter
    /// names, and its region when it names one.
    pub(crate) fn resending(&self, stored: &Target) -> Target {
        let mut target = self.clone();
        if let (Target::Lambda(l), Target::Lambda(stored)) = (&mut target, stored) {
            l.mode = stored.mode;
            if stored.region.is_some() {
                l.region.clone_from(&stored.region);
            }
        }
        target
    }

    /// For a stored target (read from a dead letter): the secret it lacks to be sent to as is,
    /// if any, named (an HTTP URL whose password was not stored: the URL, password hidden).
    pub(crate) fn missing_secret(&self) -> Option<String> {
        match self {
            Target::Http(http) if http.url.password_hidden() => Some(http.url.to_string()),
            _ => None,
        }
    }

    /// Checks the target of webhook number `index` and the custom `headers` it would carry;
    /// `at` names a field of the webhook.
    pub(super) fn check(
        &self,
        headers: &[(String, String)],
        index: usize,
        at: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        match self {
            Target::Http(http) => {
                for (name, value) in headers {
                    check_http_header(name, value, index, at(&format!(".headers.{name}")))?;
                }
                check_url(http.url.as_str(), index, at(".url"))
            }
            // A Lambda webhook carries its custom headers as JSON strings in the envelope,
            // where any string goes, as in soketi.
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

/// An HTTP webhook target. `Debug` and `Display` of its URL hide the URL's password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HttpTarget {
    /// The URL the payload is POSTed to ([`WebhookUrl::as_str`] gives it whole).
    pub url: WebhookUrl,
}

impl HttpTarget {
    /// A target for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        HttpTarget {
            url: WebhookUrl::new(url),
        }
    }
}

/// How a Lambda function is invoked, from `lambda.async`. Serialized (in dead letters) as
/// its `InvocationType` value, `RequestResponse` or `Event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum InvocationMode {
    /// `RequestResponse` (`lambda.async` false or absent): the call waits for the function;
    /// a function error is a failed delivery.
    #[default]
    RequestResponse,
    /// `Event` (`lambda.async: true`): Lambda queues the event and answers 202.
    Event,
}

impl InvocationMode {
    /// The `InvocationType` value: `RequestResponse` or `Event`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvocationMode::RequestResponse => "RequestResponse",
            InvocationMode::Event => "Event",
        }
    }
}

impl fmt::Display for InvocationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the region of a Lambda webhook came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionSource {
    /// `lambda.client_options.region`.
    ClientOptions,
    /// `lambda.region`.
    Lambda,
    /// The webhook's own `region` (documented by soketi, ignored by soketi's code).
    Webhook,
    /// The AWS default region chain (`AWS_REGION`, profile, instance metadata), resolved when
    /// the sender is built.
    DefaultChain,
    /// Set in code with [`Webhook::region`](super::Webhook::region).
    Code,
}

/// Explicit AWS credentials from `lambda.client_options.credentials`.
///
/// `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StaticCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl StaticCredentials {
    /// Credentials from their parts.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        StaticCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub(crate) fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    pub(crate) fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A Lambda webhook target. `Debug` hides the credentials and the endpoint's password;
/// serializing leaves the credentials out and hides the endpoint's password.
///
/// ```
/// use soketi_lambda_sender::config::LambdaTarget;
/// let mut target = LambdaTarget::new("f");
/// target.endpoint = Some("https://u:hunter2@lambda.example".into());
/// assert!(!format!("{target:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LambdaTarget {
    /// The function name or ARN.
    pub function: String,
    /// `RequestResponse` or `Event` (`invocation_type` when serialized).
    #[serde(rename = "invocation_type")]
    pub mode: InvocationMode,
    /// The region; `None` until the sender resolves it from the AWS default chain.
    pub region: Option<String>,
    /// Where [`region`](LambdaTarget::region) came from.
    #[serde(skip)]
    pub region_source: Option<RegionSource>,
    /// `lambda.client_options.endpoint`, e.g. a local emulator.
    #[serde(serialize_with = "serialize_url")]
    pub endpoint: Option<String>,
    /// `lambda.client_options.credentials`; `None` means the AWS default credential chain.
    #[serde(skip)]
    pub credentials: Option<StaticCredentials>,
}

/// An optional URL, serialized with its password hidden.
fn serialize_url<S: serde::Serializer>(url: &Option<String>, out: S) -> Result<S::Ok, S::Error> {
    url.as_deref().map(redact::url).serialize(out)
}

impl fmt::Debug for LambdaTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LambdaTarget")
            .field("function", &self.function)
            .field("mode", &self.mode)
            .field("region", &self.region)
            .field("region_source", &self.region_source)
            .field("endpoint", &self.endpoint.as_deref().map(redact::url))
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl LambdaTarget {
    /// A `RequestResponse` target for `function`, with no region yet.
    pub fn new(function: impl Into<String>) -> Self {
        LambdaTarget {
            function: function.into(),
            mode: InvocationMode::RequestResponse,
            region: None,
            region_source: None,
            endpoint: None,
            credentials: None,
        }
    }
}

/// A `url` webhook sends its custom headers as real HTTP headers: a name or value HTTP cannot
/// carry would make every delivery fail, so it is refused with the configuration.
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
    let shown = redact::url(url);
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
