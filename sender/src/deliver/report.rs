//! What happened to each request: delivered or failed (and why), one send's reports.

use std::fmt;

use serde::{Deserialize, Serialize};
use soketi_handler_kit::wire::Event;

use crate::route::Request;

/// Why a delivery failed; see [`FailureKind::as_str`] for the stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// The request is larger than the transport's limit (see [`Limits`](crate::route::Limits))
    /// and was not sent, or the endpoint refused it as too large (413,
    /// `RequestTooLargeException`) and it holds a single event. A refused request of several
    /// events is split in two halves, each signed again, and those are sent instead.
    TooLarge,
    /// Throttled (429 / `TooManyRequestsException` / `EC2ThrottledException`), still after the
    /// retries (see [`RetryPolicy::max_throttled_attempts`](crate::deliver::RetryPolicy)).
    Throttled,
    /// A server error (5xx), still after the retries.
    ServerError,
    /// An attempt timed out, still after the retries.
    Timeout,
    /// The connection failed or was dropped, still after the retries.
    Connection,
    /// The function ran and failed (`X-Amz-Function-Error`, or an emulator's 500 carrying a
    /// Lambda error body). Not retried.
    FunctionError,
    /// The endpoint refused the request (another 4xx: unknown function, access denied, …).
    /// Not retried.
    Rejected,
    /// The client could not be set up (credentials, endpoint). Not retried.
    Config,
    /// The delivery task itself failed (a bug in this crate); the request may or may not have
    /// reached its target. Kept so that no request disappears from a report.
    Internal,
    /// The work was abandoned before this request was answered: the future of
    /// [`Sender::send`](crate::Sender::send) was dropped, or a [`Queue`](crate::Queue)'s
    /// runtime shut down. The request may or may not have reached its target. Such reports go
    /// to the sender's [`on_unclaimed`](crate::SenderBuilder::on_unclaimed) handler.
    Cancelled,
    /// Not sent at all: the time left before the [`Deadline`](crate::deliver::Deadline) was
    /// shorter than an attempt may take, or (soketi's queue jobs) an earlier request to the
    /// same webhook failed and order must hold. Nothing reached the target.
    NotSent,
}

impl FailureKind {
    /// The stable name: `TooLarge`, `Throttled`, `ServerError`, `Timeout`, `Connection`,
    /// `FunctionError`, `Rejected`, `Config`, `Internal`, `Cancelled`, `NotSent`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureKind::TooLarge => "TooLarge",
            FailureKind::Throttled => "Throttled",
            FailureKind::ServerError => "ServerError",
            FailureKind::Timeout => "Timeout",
            FailureKind::Connection => "Connection",
            FailureKind::FunctionError => "FunctionError",
            FailureKind::Internal => "Internal",
            FailureKind::Rejected => "Rejected",
            FailureKind::Config => "Config",
            FailureKind::Cancelled => "Cancelled",
            FailureKind::NotSent => "NotSent",
        }
    }

    /// Whether another attempt may succeed.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureKind::Throttled
                | FailureKind::ServerError
                | FailureKind::Timeout
                | FailureKind::Connection
        )
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed delivery: why, and how hard it was tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind} after {attempts} attempt(s): {message}")]
#[non_exhaustive]
pub struct Failure {
    /// What went wrong (of the last attempt).
    pub kind: FailureKind,
    /// A readable description of the last attempt's error.
    pub message: String,
    /// The HTTP status of the last response, if one came.
    pub status: Option<u16>,
    /// Attempts made (0 when the request was not sent at all).
    pub attempts: u32,
}

/// A successful delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivered {
    /// Attempts it took.
    pub attempts: u32,
    /// The HTTP status (Lambda: 200 for `RequestResponse`, 202 for `Event`).
    pub status: u16,
    /// The start of the response body (for `RequestResponse`, the function's result), lossily
    /// decoded: at most [`MAX_RESPONSE_BYTES`] are kept (a synchronous Lambda may answer 6 MB).
    pub response: String,
    /// Whether `response` was cut at [`MAX_RESPONSE_BYTES`].
    pub response_truncated: bool,
}

/// The most bytes of a response body kept in a report (4 KiB); HTTP bodies are not read
/// further. Longer bodies are cut (at a character boundary) and marked truncated.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// `text` cut to at most `max` bytes at a character boundary, and whether it was cut: the one
/// rule for cutting text in reports and failure messages.
pub(crate) fn truncate_text(mut text: String, max: usize) -> (String, bool) {
    let end = text.floor_char_boundary(max);
    let cut = end < text.len();
    text.truncate(end);
    (text, cut)
}

impl Delivered {
    /// A delivery that took `attempts` and was answered `status` with `response` (cut to
    /// [`MAX_RESPONSE_BYTES`]).
    pub fn new(attempts: u32, status: u16, response: impl Into<String>) -> Self {
        let (response, response_truncated) = truncate_text(response.into(), MAX_RESPONSE_BYTES);
        Delivered {
            attempts,
            status,
            response,
            response_truncated,
        }
    }
}

/// What happened to one request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// It was accepted.
    Delivered(Delivered),
    /// It was not; the request is in the report, to be stored or sent again.
    Failed(Failure),
}

/// One request and what happened to it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The exact request (body and headers as sent or as they would have been sent).
    pub request: Request,
    /// Delivered or failed.
    pub outcome: Outcome,
}

impl DeliveryReport {
    /// A report of `outcome` for `request`.
    pub fn new(request: Request, outcome: Outcome) -> Self {
        DeliveryReport { request, outcome }
    }

    /// Whether the request was delivered.
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, Outcome::Delivered(_))
    }

    /// The failure, if it failed.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Failed(f) => Some(f),
            Outcome::Delivered(_) => None,
        }
    }

    /// Attempts made.
    pub fn attempts(&self) -> u32 {
        match &self.outcome {
            Outcome::Delivered(d) => d.attempts,
            Outcome::Failed(f) => f.attempts,
        }
    }
}

/// The reports of one send (or of everything a queue sent since its last flush).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// One entry per request, grouped by webhook in configuration order.
    pub deliveries: Vec<DeliveryReport>,
    /// Events no webhook wanted: nothing was sent for them.
    pub unrouted: Vec<Event>,
}

impl Report {
    /// A report of these deliveries and unrouted events.
    pub fn new(deliveries: Vec<DeliveryReport>, unrouted: Vec<Event>) -> Self {
        Report {
            deliveries,
            unrouted,
        }
    }

    /// Whether every request was delivered.
    pub fn is_success(&self) -> bool {
        self.deliveries.iter().all(DeliveryReport::is_delivered)
    }

    /// The failed deliveries.
    pub fn failures(&self) -> impl Iterator<Item = &DeliveryReport> {
        self.deliveries.iter().filter(|d| !d.is_delivered())
    }

    /// Adds another report's entries to this one.
    pub fn extend(&mut self, other: Report) {
        self.deliveries.extend(other.deliveries);
        self.unrouted.extend(other.unrouted);
    }
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(
        kind: FailureKind,
        message: impl Into<String>,
        status: Option<u16>,
        attempts: u32,
    ) -> Self {
        Failure {
            kind,
            message: message.into(),
            status,
            attempts,
        }
    }
}
