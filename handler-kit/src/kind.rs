//! The stable kinds of the kit's errors: what a Lambda function error's `errorType` says.

use std::fmt;

/// The stable kind of an [`Error`](crate::Error): what a Lambda function error's `errorType` says.
///
/// The names ([`ErrorKind::as_str`]) are part of the public contract: alarms, dashboards and
/// senders may match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The kit's configuration (environment variables) is missing or wrong.
    Config,
    /// The invocation event is not `{"payload": {...}, "headers": {...}}`, or a header is
    /// duplicated or not a string.
    MalformedEnvelope,
    /// No `X-Pusher-Signature` header.
    MissingSignature,
    /// `X-Pusher-Signature` is not 64 lowercase hex digits.
    MalformedSignature,
    /// App keys are configured but no `X-Pusher-Key` header came.
    MissingAppKey,
    /// `X-Pusher-Key` names no configured app.
    UnknownAppKey,
    /// The signature does not match the payload with any of the app's secrets.
    InvalidSignature,
    /// Validly signed, but not `{"time_ms": …, "events": […]}`.
    MalformedPayload,
    /// Outside the accepted time window: older than the configured maximum age, or (with a
    /// maximum age set) further in the future than the allowed clock skew.
    Expired,
    /// One or more callbacks failed (the other events still ran).
    HandlerFailed,
    /// The Lambda runtime itself failed.
    Runtime,
}

impl ErrorKind {
    /// The stable name, e.g. `"InvalidSignature"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "Config",
            ErrorKind::MalformedEnvelope => "MalformedEnvelope",
            ErrorKind::MissingSignature => "MissingSignature",
            ErrorKind::MalformedSignature => "MalformedSignature",
            ErrorKind::MissingAppKey => "MissingAppKey",
            ErrorKind::UnknownAppKey => "UnknownAppKey",
            ErrorKind::InvalidSignature => "InvalidSignature",
            ErrorKind::MalformedPayload => "MalformedPayload",
            ErrorKind::Expired => "Expired",
            ErrorKind::HandlerFailed => "HandlerFailed",
            ErrorKind::Runtime => "Runtime",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
