//! How a command fails, and the exit code that says so.

use std::process::ExitCode;

use soketi_lambda_sender::BuildError;

/// A command that could not do its job.
#[derive(Debug)]
pub enum CliError {
    /// The arguments, an input file or the configuration are wrong: exit code 2. Running the
    /// same command again will fail the same way.
    Usage(String),
    /// Something else failed (standard input could not be read, the runtime or the HTTP
    /// client could not start): exit code 1.
    Failed(String),
}

impl CliError {
    /// A usage or configuration error.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// Any other failure.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed(message.into())
    }

    /// Says what went wrong on standard error and gives the exit code.
    pub fn report(self) -> ExitCode {
        let (message, code) = match self {
            CliError::Usage(message) => (message, 2),
            CliError::Failed(message) => (message, 1),
        };
        // A closed standard error loses the message, never the exit code (eprintln! would
        // panic: exit 101).
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "soketi-lambda: {message}");
        ExitCode::from(code)
    }
}

/// A sender that cannot be built: the configuration's fault (exit 2), or the HTTP client's.
impl From<BuildError> for CliError {
    fn from(error: BuildError) -> Self {
        match error {
            BuildError::Config(_) | BuildError::DuplicateApp(_) => {
                CliError::usage(error.to_string())
            }
            _ => CliError::failed(error.to_string()),
        }
    }
}
