//! The crate's error type, [`Error`]: whatever an entry point can fail with. Its stable kinds
//! are in [`ErrorKind`].

use std::fmt;

use crate::config::error::ConfigError;
use crate::kind::ErrorKind;
use crate::router::{BoxError, HandlerFailures};
use crate::verify::Rejection;

/// Everything that can go wrong in the kit.
///
/// `Debug` prints what `Display` says (the derived form would show the enum's insides), so a
/// `main` that returns this error, and lambda_runtime's log line of a failed invocation, read
/// as a message: `Error: SOKETI_SECRET is not set: set it to the app secret …`.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration is missing or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The webhook was rejected before any callback ran.
    #[error("webhook rejected ({kind}): {0}", kind = .0.kind())]
    Rejected(#[from] Rejection),
    /// Callbacks failed; the other events still ran.
    #[error(transparent)]
    HandlerFailed(#[from] HandlerFailures),
    /// The Lambda runtime failed.
    #[error("lambda runtime: {0}")]
    Runtime(BoxError),
}

impl Error {
    /// The stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::Rejected(r) => r.kind(),
            Error::HandlerFailed(_) => ErrorKind::HandlerFailed,
            Error::Runtime(_) => ErrorKind::Runtime,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "runtime")]
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().as_str().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_the_message() {
        let error = Error::from(ConfigError::new("SOKETI_SECRET", "is not set"));
        assert_eq!(format!("{error:?}"), "SOKETI_SECRET is not set");
        assert_eq!(format!("{error:?}"), error.to_string());
        let rejected = Error::from(Rejection::MissingSignature);
        assert_eq!(format!("{rejected:?}"), rejected.to_string());
        assert!(
            rejected
                .to_string()
                .starts_with("webhook rejected (MissingSignature): ")
        );
    }
}
