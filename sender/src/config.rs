//! soketi's app and webhook configuration, read exactly as soketi documents it.
//!
//! An app is `{"id", "key", "secret", "webhooks": [...]}` (soketi also accepts `webhooks` given
//! as a JSON string). Each webhook has either a `url` or a `lambda_function`, the
//! `event_types` it wants, an optional `filter` on the channel name, optional custom `headers`
//! and, for Lambda, a `lambda` object (`async`, `region`, `client_options`). Unknown fields are
//! ignored, as soketi ignores them.
//!
//! Validation errors name the webhook (its index in `webhooks`) and the field:
//!
//! ```
//! use soketi_lambda_sender::config::{App, ConfigErrorKind};
//! let err = App::from_json(r#"{"id":"1","key":"k","secret":"s","webhooks":[
//!     {"url":"http://127.0.0.1:8080/hook","event_types":["channel_occupied"]},
//!     {"lambda_function":"f","event_types":["channel_ocupied"],"lambda":{"region":"eu-west-1"}}
//! ]}"#).unwrap_err();
//! assert_eq!(err.kind(), ConfigErrorKind::UnknownEventType);
//! assert_eq!(err.webhook(), Some(1));
//! assert_eq!(err.field(), "webhooks[1].event_types[0]");
//! ```

use std::fmt;

use serde_json::{Map, Value};
use soketi_handler_kit::wire::headers::is_reserved;
use soketi_handler_kit::wire::{Event, EventKind, Secret};

/// One soketi app: its id, key, secret and webhooks.
///
/// `Debug` never shows the secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct App {
    /// The app id (soketi's `id`).
    pub id: String,
    /// The app key, sent in `X-Pusher-Key`.
    pub key: String,
    /// The app secret, which signs every payload of this app.
    pub secret: Secret,
    /// The webhooks, in configuration order (their index is the one reports use).
    pub webhooks: Vec<Webhook>,
}

impl App {
    /// An app with no webhook; add them with [`App::webhook`].
    ///
    /// ```
    /// use soketi_lambda_sender::config::{App, Webhook};
    /// use soketi_handler_kit::wire::EventKind;
    /// let app = App::new("1", "app1key", "app1secret")
    ///     .webhook(Webhook::lambda("my-function").region("eu-west-1").event_types([EventKind::ChannelOccupied]));
    /// assert_eq!(app.webhooks.len(), 1);
    /// assert!(!format!("{app:?}").contains("app1secret"));
    /// ```
    pub fn new(id: impl Into<String>, key: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        App {
            id: id.into(),
            key: key.into(),
            secret: Secret::new(secret),
            webhooks: Vec::new(),
        }
    }

    /// Adds a webhook.
    pub fn webhook(mut self, webhook: Webhook) -> Self {
        self.webhooks.push(webhook);
        self
    }

    /// Reads one app from soketi's JSON.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            ConfigError::new(ConfigErrorKind::Json, None, "", format!("not JSON: {e}"))
        })?;
        App::from_value(&value)
    }

    /// Reads one app from an already parsed JSON value.
    pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
        parse_app(value, "")
    }

    /// Checks the webhooks: a target, at least one event type, no reserved custom header, and
    /// for `url` webhooks custom headers that HTTP can carry. Apps built in code are checked by
    /// the sender's builder; parsed apps are checked while parsing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, webhook) in self.webhooks.iter().enumerate() {
            webhook.validate(index, "")?;
        }
        Ok(())
    }
}

/// Reads a list of apps: a JSON array of apps, a single app object, or soketi's array app
/// manager configuration `{"appManager.array.apps": [...]}`.
///
/// ```
/// use soketi_lambda_sender::config::apps_from_json;
/// let apps = apps_from_json(r#"[{"id":"1","key":"k1","secret":"s1"},{"id":"2","key":"k2","secret":"s2"}]"#)?;
/// assert_eq!(apps.len(), 2);
/// assert_eq!(apps[1].key, "k2");
/// # Ok::<(), soketi_lambda_sender::config::ConfigError>(())
/// ```
pub fn apps_from_json(text: &str) -> Result<Vec<App>, ConfigError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ConfigError::new(ConfigErrorKind::Json, None, "", format!("not JSON: {e}")))?;
    let value = match &value {
        Value::Object(map) if !map.contains_key("key") => map
            .get("appManager.array.apps")
            .or_else(|| map.get("apps"))
            .unwrap_or(&value),
        _ => &value,
    };
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_app(item, &format!("[{i}].")))
            .collect(),
        Value::Object(_) => Ok(vec![parse_app(value, "")?]),
        _ => Err(ConfigError::new(
            ConfigErrorKind::InvalidField,
            None,
            "",
            "expected an app object or an array of apps".to_owned(),
        )),
    }
}

/// Where a webhook's events go.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Target {
    /// An HTTP `url` webhook: the payload is POSTed as the body.
    Http(HttpTarget),
    /// A `lambda_function` webhook: the function is invoked with `{payload, headers}`.
    Lambda(LambdaTarget),
}

impl Target {
    /// A short description for reports and logs, e.g. `lambda:my-function` or the URL.
    pub fn describe(&self) -> String {
        match self {
            Target::Http(http) => http.url.clone(),
            Target::Lambda(lambda) => format!("lambda:{}", lambda.function),
        }
    }
}

/// An HTTP webhook target.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpTarget {
    /// The URL the payload is POSTed to.
    pub url: String,
}

impl HttpTarget {
    /// A target for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        HttpTarget { url: url.into() }
    }
}

/// How a Lambda function is invoked, from `lambda.async`. Serialized (in dead letters) as
/// its `InvocationType` value, `RequestResponse` or `Event`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
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

/// Where a Lambda webhook's region came from.
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
    /// Set in code with [`Webhook::region`].
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

/// A Lambda webhook target.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LambdaTarget {
    /// The function name or ARN.
    pub function: String,
    /// `RequestResponse` or `Event`.
    pub mode: InvocationMode,
    /// The region; `None` until the sender resolves it from the AWS default chain.
    pub region: Option<String>,
    /// Where [`region`](LambdaTarget::region) came from.
    pub region_source: Option<RegionSource>,
    /// `lambda.client_options.endpoint`, e.g. a local emulator.
    pub endpoint: Option<String>,
    /// `lambda.client_options.credentials`; `None` means the AWS default credential chain.
    pub credentials: Option<StaticCredentials>,
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

/// The channel-name filter of a webhook. Empty strings mean no constraint; matching is
/// case-sensitive, as in soketi.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// `channel_name_starts_with`.
    pub starts_with: String,
    /// `channel_name_ends_with`.
    pub ends_with: String,
}

impl Filter {
    /// A filter on both ends of the channel name (empty = no constraint).
    pub fn new(starts_with: impl Into<String>, ends_with: impl Into<String>) -> Self {
        Filter {
            starts_with: starts_with.into(),
            ends_with: ends_with.into(),
        }
    }

    /// Whether `channel` passes. An event without a channel passes only an empty filter.
    ///
    /// ```
    /// use soketi_lambda_sender::config::Filter;
    /// let f = Filter::new("presence-", "");
    /// assert!(f.matches(Some("presence-room")));
    /// assert!(!f.matches(Some("Presence-room")));
    /// assert!(Filter::default().matches(None));
    /// ```
    pub fn matches(&self, channel: Option<&str>) -> bool {
        if self.starts_with.is_empty() && self.ends_with.is_empty() {
            return true;
        }
        match channel {
            Some(c) => c.starts_with(&self.starts_with) && c.ends_with(&self.ends_with),
            None => false,
        }
    }
}

/// One webhook of an app.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Webhook {
    /// Where its events go.
    pub target: Target,
    /// The event types it wants (`event_types`).
    pub event_types: Vec<EventKind>,
    /// The channel filter (`filter`).
    pub filter: Filter,
    /// Custom headers (`headers`), in configuration order.
    pub headers: Vec<(String, String)>,
}

impl Webhook {
    /// A Lambda webhook for `function` (`RequestResponse`, no region, no event type yet).
    pub fn lambda(function: impl Into<String>) -> Self {
        Webhook::with_target(Target::Lambda(LambdaTarget::new(function)))
    }

    /// An HTTP webhook POSTing to `url` (no event type yet).
    pub fn http(url: impl Into<String>) -> Self {
        Webhook::with_target(Target::Http(HttpTarget::new(url)))
    }

    /// A webhook for `target`.
    pub fn with_target(target: Target) -> Self {
        Webhook {
            target,
            event_types: Vec::new(),
            filter: Filter::default(),
            headers: Vec::new(),
        }
    }

    /// Sets the event types.
    pub fn event_types(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        self.event_types = kinds.into_iter().collect();
        self
    }

    /// Sets the channel filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Adds a custom header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Lambda only: invoke asynchronously (`Event`) when `true`.
    pub fn async_invocation(mut self, is_async: bool) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.mode = if is_async {
                InvocationMode::Event
            } else {
                InvocationMode::RequestResponse
            };
        }
        self
    }

    /// Lambda only: the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.region = Some(region.into());
            lambda.region_source = Some(RegionSource::Code);
        }
        self
    }

    /// Lambda only: the endpoint (a local emulator, for instance).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.endpoint = Some(endpoint.into());
        }
        self
    }

    /// Lambda only: explicit credentials instead of the AWS default chain.
    pub fn credentials(mut self, credentials: StaticCredentials) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.credentials = Some(credentials);
        }
        self
    }

    /// Whether this webhook wants `event`: its name is one of the `event_types` and its
    /// channel passes the filter. Unknown events match no webhook.
    pub fn matches(&self, event: &Event) -> bool {
        match event.kind() {
            Some(kind) => self.event_types.contains(&kind) && self.filter.matches(event.channel()),
            None => false,
        }
    }

    fn validate(&self, index: usize, prefix: &str) -> Result<(), ConfigError> {
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
            Target::Http(http) => check_url(&http.url, index, at(".url")),
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

fn reserved_header(index: usize, field: String, name: &str) -> ConfigError {
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

fn check_url(url: &str, index: usize, field: String) -> Result<(), ConfigError> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        Ok(_) => Err(ConfigError::new(
            ConfigErrorKind::InvalidField,
            Some(index),
            field,
            format!("`{url}` must be an http:// or https:// URL"),
        )),
        Err(e) => Err(ConfigError::new(
            ConfigErrorKind::InvalidField,
            Some(index),
            field,
            format!("`{url}` is not a URL: {e}"),
        )),
    }
}

/// What is wrong with a configuration; see [`ConfigErrorKind::as_str`] for stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The text is not JSON.
    Json,
    /// A required field (`id`, `key`, `secret`, `event_types`) is missing.
    MissingField,
    /// A field has the wrong type or an unusable value.
    InvalidField,
    /// A webhook has neither `url` nor `lambda_function`.
    NoTarget,
    /// A webhook has both `url` and `lambda_function`.
    BothTargets,
    /// `event_types` is empty.
    NoEventTypes,
    /// `event_types` names an event soketi does not send.
    UnknownEventType,
    /// A custom header named `X-Pusher-Key` or `X-Pusher-Signature` (any case).
    ReservedHeader,
    /// A Lambda webhook has no region anywhere, and the AWS default chain has none either.
    NoRegion,
}

impl ConfigErrorKind {
    /// The stable name: `Json`, `MissingField`, `InvalidField`, `NoTarget`, `BothTargets`,
    /// `NoEventTypes`, `UnknownEventType`, `ReservedHeader`, `NoRegion`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ConfigErrorKind::Json => "Json",
            ConfigErrorKind::MissingField => "MissingField",
            ConfigErrorKind::InvalidField => "InvalidField",
            ConfigErrorKind::NoTarget => "NoTarget",
            ConfigErrorKind::BothTargets => "BothTargets",
            ConfigErrorKind::NoEventTypes => "NoEventTypes",
            ConfigErrorKind::UnknownEventType => "UnknownEventType",
            ConfigErrorKind::ReservedHeader => "ReservedHeader",
            ConfigErrorKind::NoRegion => "NoRegion",
        }
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configuration error naming the webhook (index) and the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
pub struct ConfigError {
    kind: ConfigErrorKind,
    webhook: Option<usize>,
    field: String,
    message: String,
}

impl ConfigError {
    /// An error of `kind` about `field` (a path such as `webhooks[1].lambda.region`).
    pub fn new(
        kind: ConfigErrorKind,
        webhook: Option<usize>,
        field: impl Into<String>,
        message: String,
    ) -> Self {
        ConfigError {
            kind,
            webhook,
            field: field.into(),
            message,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The index of the webhook at fault, if the error is about one.
    pub fn webhook(&self) -> Option<usize> {
        self.webhook
    }

    /// The path of the field at fault, e.g. `webhooks[0].lambda.client_options.region`.
    pub fn field(&self) -> &str {
        &self.field
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

fn invalid(webhook: Option<usize>, field: String, message: impl Into<String>) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::InvalidField,
        webhook,
        field,
        message.into(),
    )
}

fn parse_app(value: &Value, prefix: &str) -> Result<App, ConfigError> {
    let Value::Object(map) = value else {
        return Err(invalid(
            None,
            prefix.trim_end_matches('.').to_owned(),
            "an app must be a JSON object",
        ));
    };
    let required = |name: &str| -> Result<String, ConfigError> {
        match map.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            // soketi's app managers accept numeric ids.
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
    let id = required("id")?;
    let key = required("key")?;
    let secret = required("secret")?;
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
    Ok(App {
        id,
        key,
        secret: Secret::new(secret),
        webhooks,
    })
}

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

fn parse_webhook(value: &Value, index: usize, prefix: &str) -> Result<Webhook, ConfigError> {
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
        (Some(url), None) => Target::Http(HttpTarget { url }),
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let apps = apps_from_json(r#"{"appManager.array.apps":[{"id":7,"key":"k","secret":"s"}]}"#)
            .expect("soketi config form");
        assert_eq!(apps[0].id, "7");
        let e = apps_from_json(r#"[{"id":"1","key":"k","secret":"s"},{"id":"2","key":"k2"}]"#)
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
}
