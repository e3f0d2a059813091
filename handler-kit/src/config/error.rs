//! [`ConfigError`]: a configuration value is missing or wrong. A leaf: it imports nothing of
//! the crate, so every layer may report one.

use std::fmt;

/// A configuration value is missing or wrong. The message names the variable or field and
/// says what to do; `Debug` prints the same message (it is what a `main` returning this error
/// shows).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} {reason}")]
pub struct ConfigError {
    source_name: String,
    reason: String,
}

impl ConfigError {
    /// An error about `source_name` (an environment variable or field).
    pub fn new(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            source_name: source_name.into(),
            reason: reason.into(),
        }
    }

    /// The variable or field at fault.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// What is wrong with it (the message without the name).
    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
