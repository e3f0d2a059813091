//! The largest request body each kind of target takes.

use crate::config::{InvocationMode, Target};

/// Lambda's request size limit for `RequestResponse` invocations: 6 MB.
pub const LAMBDA_REQUEST_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
/// Lambda's request size limit for `Event` (asynchronous) invocations: 1 MB.
pub const LAMBDA_EVENT_LIMIT: usize = 1024 * 1024;

/// The default limit for HTTP webhook bodies: 6 MB, what a Lambda Function URL or an API
/// Gateway in front of a function can take.
pub const HTTP_DEFAULT_LIMIT: usize = 6 * 1024 * 1024;

/// The largest request body each transport may carry. Requests are split to stay within them;
/// a single event too large for any request is reported as failed, never sent or dropped.
/// Limits are checked before sending; an endpoint that still answers 413 (or Lambda's
/// `RequestTooLargeException`) gets the request again in two halves (see
/// [`split_request`](super::split_request)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// `RequestResponse` Lambda invocations (default [`LAMBDA_REQUEST_RESPONSE_LIMIT`]).
    pub request_response_bytes: usize,
    /// `Event` Lambda invocations (default [`LAMBDA_EVENT_LIMIT`]).
    pub event_bytes: usize,
    /// HTTP webhook bodies (default [`HTTP_DEFAULT_LIMIT`]; soketi has none). Lower it for a
    /// server with a smaller limit (nginx's default `client_max_body_size` is 1 MiB).
    pub http_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_response_bytes: LAMBDA_REQUEST_RESPONSE_LIMIT,
            event_bytes: LAMBDA_EVENT_LIMIT,
            http_bytes: HTTP_DEFAULT_LIMIT,
        }
    }
}

impl Limits {
    /// Sets the `RequestResponse` limit.
    pub fn request_response_bytes(mut self, bytes: usize) -> Self {
        self.request_response_bytes = bytes;
        self
    }

    /// Sets the `Event` limit.
    pub fn event_bytes(mut self, bytes: usize) -> Self {
        self.event_bytes = bytes;
        self
    }

    /// Sets the HTTP limit.
    pub fn http_bytes(mut self, bytes: usize) -> Self {
        self.http_bytes = bytes;
        self
    }

    /// The limit that applies to requests for `target`.
    pub fn for_target(&self, target: &Target) -> usize {
        match target {
            Target::Http(_) => self.http_bytes,
            Target::Lambda(l) => match l.mode {
                InvocationMode::RequestResponse => self.request_response_bytes,
                InvocationMode::Event => self.event_bytes,
            },
        }
    }
}
