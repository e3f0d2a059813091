//! Configuration errors: what is wrong, and the path of the field at fault.

use std::fmt;

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

pub(super) fn invalid(
    webhook: Option<usize>,
    field: String,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::InvalidField,
        webhook,
        field,
        message.into(),
    )
}
