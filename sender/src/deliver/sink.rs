//! Dead-letter files: failed deliveries appended as JSON lines, read back for a replay, and
//! rewritten in place (atomically) when the file being replayed is also where the new failures
//! go.
//!
//! The functions here do blocking file I/O: from async code, call them where blocking is fine
//! (`tokio::task::spawn_blocking`, or before and after the sends).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::deliver::{DeadLetter, DeadLetterError, Report};

/// Where the dead letters of a send are written, opened before anything is sent so that a file
/// that cannot be written is found up front, not after deliveries have failed with nowhere to
/// be recorded.
///
/// Failures are appended; but a sink that [replaces](DeadLetterSink::replace) its file writes
/// into a temporary file next to it and renames it over the file once everything is written,
/// so that the letters being replayed stay on disk until then. Dropped without a successful
/// [`store`](DeadLetterSink::store), a replacing sink leaves the file as it was.
///
/// ```
/// use soketi_lambda_sender::deliver::{read_dead_letters, DeadLetterSink, Report};
/// # let dir = std::env::temp_dir().join(format!("sink-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("failed.jsonl");
/// let sink = DeadLetterSink::append(&path)?;
/// assert_eq!(sink.store(&Report::default())?, 0); // nothing failed: nothing written
/// assert!(read_dead_letters(&path)?.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DeadLetterSink {
    path: PathBuf,
    file: fs::File,
    /// The temporary file when replacing.
    temp: Option<PathBuf>,
}

impl DeadLetterSink {
    /// A sink appending to `path` (created if it does not exist).
    pub fn append(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(DeadLetterSink {
            path: path.to_owned(),
            file,
            temp: None,
        })
    }

    /// A sink replacing `path` with what it stores, once it is all written.
    pub fn replace(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let name = path.file_name().map_or_else(
            || "dead-letters".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let file = fs::File::create(&temp)?;
        Ok(DeadLetterSink {
            path: path.to_owned(),
            file,
            temp: Some(temp),
        })
    }

    /// The sink of a send that replays `replayed` (if any): it [replaces](Self::replace)
    /// `path` when both name the same file, however spelled, and else
    /// [appends](Self::append) to it.
    pub fn for_replay(path: impl AsRef<Path>, replayed: Option<&Path>) -> io::Result<Self> {
        let path = path.as_ref();
        if replayed.is_some_and(|replayed| same_file(replayed, path)) {
            DeadLetterSink::replace(path)
        } else {
            DeadLetterSink::append(path)
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a line for each failure of `report`, flushes it to disk and, when replacing,
    /// renames the new file over the old one. Returns how many were written; on error, the
    /// lines that were to be written are in the error, so that the caller can put them
    /// somewhere else.
    pub fn store(mut self, report: &Report) -> Result<usize, StoreError> {
        let lines: Vec<String> = report
            .failures()
            .filter_map(DeadLetter::from_report)
            .map(|letter| letter.to_json_line())
            .collect();
        match self.write(&lines) {
            Ok(()) => Ok(lines.len()),
            Err(source) => Err(StoreError {
                path: self.path.clone(),
                source,
                lines,
            }),
        }
    }

    fn write(&mut self, lines: &[String]) -> io::Result<()> {
        for line in lines {
            writeln!(self.file, "{line}")?;
        }
        self.file.sync_all()?;
        if let Some(temp) = self.temp.take() {
            fs::rename(&temp, &self.path).inspect_err(|_| self.temp = Some(temp))?;
        }
        Ok(())
    }
}

impl Drop for DeadLetterSink {
    fn drop(&mut self) {
        // Not renamed over the replaced file (an error, or nothing was stored): that file is
        // left as it was.
        if let Some(temp) = &self.temp {
            let _ = fs::remove_file(temp);
        }
    }
}

/// Dead letters that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the dead letters to {}: {source}", path.display())]
#[non_exhaustive]
pub struct StoreError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
    /// The JSON lines that were not (all) written.
    pub lines: Vec<String>,
}

/// Why a dead-letter file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A line is not a dead letter.
    #[error("{}: {source}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// Which line, and what is wrong with it.
        #[source]
        source: LineError,
    },
}

/// A line of dead letters that is not one.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
#[non_exhaustive]
pub struct LineError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    #[source]
    pub source: DeadLetterError,
}

/// Reads every dead letter of a file; see [`parse_dead_letters`].
pub fn read_dead_letters(path: impl AsRef<Path>) -> Result<Vec<DeadLetter>, ReadError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_dead_letters(&text).map_err(|source| ReadError::Line {
        path: path.to_owned(),
        source,
    })
}

/// Reads dead letters from JSON lines (blank lines are skipped). A line that is not a dead
/// letter is an error naming it: a replay sends all of a file or nothing.
pub fn parse_dead_letters(text: &str) -> Result<Vec<DeadLetter>, LineError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            DeadLetter::from_json_line(line).map_err(|source| LineError {
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
