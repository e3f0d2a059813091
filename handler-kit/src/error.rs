//! The crate's error type; its stable kinds are in [`ErrorKind`].

use crate::config::ConfigError;
use crate::kind::ErrorKind;
use crate::router::HandlerFailures;
use crate::verify::Rejection;

/// A boxed error, as callbacks return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the kit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration is missing or wrong.
    #[error("configuration: {0}")]
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

#[cfg(feature = "runtime")]
impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().as_str().to_owned(),
            error_message: error.to_string(),
        }
    }
}
