//! Dead-letter files: failed deliveries appended as JSON lines, read back for a replay, and
//! rewritten when the file being replayed is also where the new failures go.
//!
//! What a file promises is documented on [`DeadLetterSink`] (this module is private).
//!
//! The functions here do blocking file I/O: from async code, call them where blocking is fine
//! (`tokio::task::spawn_blocking`, or before and after the sends).

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::deliver::{DeadLetter, DeadLetterError, Report};

/// Where the dead letters of a send are written, opened before anything is sent so that a file
/// that cannot be written is found up front, not after deliveries have failed with nowhere to
/// be recorded.
///
/// # What a file promises
///
/// - **Whole lines.** Each line is written with one `write` call of the whole line, newline
///   included, on a file opened with `O_APPEND`, under an exclusive lock (`flock`) of the file:
///   concurrent appenders never interleave, and a crash leaves at most one torn last line. A
///   torn line is ended before the next line is appended, so it never spoils its neighbour,
///   and reading reports it and goes on.
/// - **Private.** A file (and any temporary file) is created with mode 0600 on Unix: it holds
///   payloads and headers.
/// - **Replaying a file into itself loses nothing.** The replay remembers the bytes it read.
///   When it stores its failures, it locks the file, keeps every line appended since it read
///   it, and replaces the file by a temporary one holding: the lines it could not read or
///   send (verbatim), its new failures, then the lines appended meanwhile. Appenders lock the
///   file and check that it is still the one at its path before writing, so none writes into
///   the replaced file. If the file no longer starts with the bytes the replay read (another
///   replay rewrote it), the new failures are appended instead: a letter may then be stored
///   twice, never lost. (A program that appends to the file without taking the lock is not
///   covered: its lines written during the rewrite may go to the replaced file.)
/// - **Temporary files** have unpredictable names, are created with `O_EXCL` (which never
///   follows a symbolic link) next to the file, and are removed on failure (the `tempfile`
///   crate's guarantees).
///
/// ```
/// use soketi_lambda_sender::deliver::{read_dead_letters, DeadLetterSink, Report};
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("failed.jsonl");
/// let sink = DeadLetterSink::append(&path)?;
/// assert_eq!(sink.store(&Report::default())?, 0); // nothing failed: nothing written
/// assert!(read_dead_letters(&path)?.letters.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DeadLetterSink {
    path: PathBuf,
    file: fs::File,
    /// When replaying the file into itself: what the replay read, and what to keep of it.
    replaced: Option<Replaced>,
}

#[derive(Debug)]
struct Replaced {
    /// The bytes the replay read.
    read: Vec<u8>,
    /// The lines of those to keep, verbatim (unreadable, or not sent).
    keep: Vec<Vec<u8>>,
}

/// Opens `path` for appending, creating it (mode 0600 on Unix) if it does not exist.
fn open_append(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Whether `file` is still the file at `path` (not replaced by a rewrite, nor removed).
#[cfg(unix)]
fn is_at_path(file: &fs::File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    Ok(match fs::metadata(path) {
        Ok(now) => now.dev() == open.dev() && now.ino() == open.ino(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

#[cfg(not(unix))]
fn is_at_path(_file: &fs::File, _path: &Path) -> io::Result<bool> {
    Ok(true)
}

/// Whether a non-empty `file` does not end with a newline (a torn last line).
fn ends_torn(file: &mut fs::File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Appends each line with one `write` call of the whole line and its newline. A short write
/// is an error (the rest is not written by a second call, which could interleave).
fn write_lines(file: &mut fs::File, lines: &[String], torn: bool) -> io::Result<()> {
    for (i, line) in lines.iter().enumerate() {
        let mut buf = Vec::with_capacity(line.len() + 2);
        if torn && i == 0 {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let written = file.write(&buf)?;
        if written != buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "only {written} of the {} bytes of a line were written (disk full?)",
                    buf.len()
                ),
            ));
        }
    }
    Ok(())
}

/// A new file next to `path` with an unpredictable name (`.<name>.<16 random characters>.tmp`),
/// created with `O_EXCL` (which never follows a symbolic link) and mode 0600 on Unix, removed
/// when dropped unless persisted: what the `tempfile` crate guarantees.
fn create_temp(path: &Path) -> io::Result<NamedTempFile> {
    let name = path.file_name().map_or_else(
        || "dead-letters".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .rand_bytes(16)
        .tempfile_in(dir)
}

impl DeadLetterSink {
    /// A sink appending to `path` (created with mode 0600 on Unix if it does not exist).
    pub fn append(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        Ok(DeadLetterSink {
            path: path.to_owned(),
            file: open_append(path)?,
            replaced: None,
        })
    }

    /// The sink of a send that replays `replayed` (if any): when both name the same file,
    /// however spelled, the file is rewritten without the letters sent again (see
    /// [`DeadLetterSink`]), keeping the lines `keep` (1-based numbers of the lines of
    /// `replayed` to keep verbatim: unreadable, or not sent); else it appends to `path`.
    pub fn for_replay(
        path: impl AsRef<Path>,
        replayed: Option<&DeadLetterFile>,
        keep: &[usize],
    ) -> io::Result<Self> {
        let mut sink = DeadLetterSink::append(path)?;
        if let Some(replayed) = replayed.filter(|r| same_file(&r.path, &sink.path)) {
            sink.replaced = Some(Replaced {
                read: replayed.bytes.clone(),
                keep: keep
                    .iter()
                    .filter_map(|&n| replayed.line_bytes(n))
                    .map(<[u8]>::to_vec)
                    .collect(),
            });
        }
        Ok(sink)
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a line for each failure of `report` (see [`DeadLetterSink`]) and
    /// flushes it to disk. Returns how many were written; on error, the lines that were to be
    /// written are in the error, so that the caller can put them somewhere else.
    pub fn store(mut self, report: &Report) -> Result<usize, StoreError> {
        let lines: Vec<String> = report
            .failures()
            .filter_map(DeadLetter::from_report)
            .map(|letter| letter.to_json_line())
            .collect();
        let result = match self.replaced.take() {
            Some(replaced) => self.rewrite(&lines, &replaced),
            None => self.append_lines(&lines),
        };
        match result {
            Ok(()) => Ok(lines.len()),
            Err(source) => Err(StoreError {
                path: self.path.clone(),
                source,
                lines,
            }),
        }
    }

    /// Locks the file at the path (reopening it if it was replaced since it was opened).
    fn lock_current(&mut self) -> io::Result<()> {
        for _ in 0..16 {
            self.file.lock()?;
            if is_at_path(&self.file, &self.path)? {
                return Ok(());
            }
            self.file.unlock()?;
            self.file = open_append(&self.path)?;
        }
        Err(io::Error::other(
            "the file keeps being replaced while trying to append to it",
        ))
    }

    fn append_lines(&mut self, lines: &[String]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.lock_current()?;
        let result = ends_torn(&mut self.file)
            .and_then(|torn| write_lines(&mut self.file, lines, torn))
            .and_then(|()| self.file.sync_data());
        let unlocked = self.file.unlock();
        result.and(unlocked)
    }

    fn rewrite(&mut self, lines: &[String], replaced: &Replaced) -> io::Result<()> {
        self.lock_current()?;
        let result = self.rewrite_locked(lines, replaced);
        let unlocked = self.file.unlock();
        result.and(unlocked)
    }

    fn rewrite_locked(&mut self, lines: &[String], replaced: &Replaced) -> io::Result<()> {
        let mut now = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut now)?;
        let Some(appended) = now.strip_prefix(replaced.read.as_slice()) else {
            // Not the file the replay read (another replay rewrote it): append, so that a
            // letter may be stored twice but never lost.
            tracing::warn!(
                file = %self.path.display(),
                "the dead-letter file changed during the replay other than by appends: the \
                 failures are appended to it instead of replacing the letters replayed"
            );
            let mut all: Vec<String> = replaced
                .keep
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            all.extend_from_slice(lines);
            let torn = ends_torn(&mut self.file)?;
            write_lines(&mut self.file, &all, torn)?;
            return self.file.sync_data();
        };
        let mut content = Vec::new();
        for line in &replaced.keep {
            content.extend_from_slice(line);
            content.push(b'\n');
        }
        for line in lines {
            content.extend_from_slice(line.as_bytes());
            content.push(b'\n');
        }
        content.extend_from_slice(appended);
        // Removed if anything below fails (dropped unpersisted).
        let mut temp = create_temp(&self.path)?;
        temp.write_all(&content)?;
        temp.as_file().sync_all()?;
        temp.persist(&self.path).map_err(|e| e.error)?;
        // Best effort: the rename itself made durable.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
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
#[error("cannot read {}: {source}", path.display())]
#[non_exhaustive]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// A line of dead letters that is not one. Its message names the line and says what is
/// wrong, without quoting the line.
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

/// A dead-letter file as read: the letters, the lines that are not letters, and the bytes
/// read (so that a replay into the same file keeps whatever is appended meanwhile).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DeadLetterFile {
    /// The file.
    pub path: PathBuf,
    /// Each letter with its 1-based line number, in file order.
    pub letters: Vec<(usize, DeadLetter)>,
    /// The lines that are not dead letters (a torn last line, an edited line, …).
    pub skipped: Vec<LineError>,
    bytes: Vec<u8>,
    /// The byte range of each line (1-based number `n` at index `n - 1`), newline excluded.
    lines: Vec<Range<usize>>,
}

impl DeadLetterFile {
    /// The bytes of line `line` (1-based), newline excluded.
    pub fn line_bytes(&self, line: usize) -> Option<&[u8]> {
        let range = self.lines.get(line.checked_sub(1)?)?;
        self.bytes.get(range.clone())
    }
}

/// Reads a dead-letter file; see [`parse_dead_letters`]. Only a file that cannot be read is an
/// error.
pub fn read_dead_letters(path: impl AsRef<Path>) -> Result<DeadLetterFile, ReadError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|source| ReadError {
        path: path.to_owned(),
        source,
    })?;
    let mut file = parse_dead_letters(bytes);
    file.path = path.to_owned();
    Ok(file)
}

/// Reads dead letters from JSON lines. Blank lines are ignored; a line that is not a dead
/// letter (not UTF-8, not JSON, torn, of another version, …) is listed in
/// [`skipped`](DeadLetterFile::skipped) with its number and the reason, and the other lines
/// are read.
pub fn parse_dead_letters(bytes: impl Into<Vec<u8>>) -> DeadLetterFile {
    let bytes = bytes.into();
    let mut file = DeadLetterFile::default();
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        file.lines.push(start..end);
        start = end + 1;
    }
    for (i, range) in file.lines.iter().enumerate() {
        let line = i + 1;
        let raw = &bytes[range.clone()];
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text.strip_suffix('\r').unwrap_or(text),
            Err(_) => {
                file.skipped.push(LineError {
                    line,
                    source: DeadLetterError::NotUtf8,
                });
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match DeadLetter::from_json_line(text) {
            Ok(letter) => file.letters.push((line, letter)),
            Err(source) => file.skipped.push(LineError { line, source }),
        }
    }
    file.bytes = bytes;
    file
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::headers::user_agent;
    use soketi_handler_kit::wire::{Event, EventKind};

    use super::*;
    use crate::config::{App, Webhook};
    use crate::deliver::{DeliveryReport, Failure, FailureKind, Outcome};
    use crate::route::Request;

    /// A directory of its own, removed when dropped.
    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary directory")
    }

    /// A report of `n` failed requests, their channels `{tag}-0`, `{tag}-1`, ….
    fn failed(tag: &str, n: usize) -> Report {
        let app = App::new("1", "k", "s").webhook(
            Webhook::lambda("f")
                .region("eu-west-1")
                .event_types([EventKind::CacheMiss]),
        );
        let deliveries = (0..n)
            .map(|i| {
                let event = Event::cache_miss(format!("{tag}-{i}"));
                let request =
                    Request::build(&app, 0, vec![event], 1, &user_agent(1)).expect("request");
                let failure = Failure::new(FailureKind::Timeout, "no answer", None, 1);
                DeliveryReport::new(request, Outcome::Failed(failure))
            })
            .collect();
        Report::new(deliveries, Vec::new())
    }

    fn channels(file: &DeadLetterFile) -> Vec<String> {
        file.letters
            .iter()
            .map(|(_, l)| l.events[0].channel().unwrap_or_default().to_owned())
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn dead_letter_files_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = dir();
        let path = dir.path().join("dead.jsonl");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("a", 1))
            .expect("store");
        let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        // Rewritten by a replay into itself: still 0600.
        let read = read_dead_letters(&path).expect("read");
        DeadLetterSink::for_replay(&path, Some(&read), &[])
            .expect("open")
            .store(&failed("b", 1))
            .expect("store");
        assert_eq!(channels(&read_dead_letters(&path).expect("read")), ["b-0"]);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_does_not_spoil_the_next_one() {
        let dir = dir();
        let path = dir.path().join("dead.jsonl");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("a", 1))
            .expect("store");
        let whole = fs::read_to_string(&path).expect("read");
        // A crash in the middle of the second line.
        fs::write(&path, format!("{whole}{}", &whole[..whole.len() / 2])).expect("tear");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("b", 1))
            .expect("store");
        let read = read_dead_letters(&path).expect("read");
        assert_eq!(channels(&read), ["a-0", "b-0"]);
        assert_eq!(read.skipped.len(), 1, "{:?}", read.skipped);
        assert_eq!(read.skipped[0].line, 2);
    }

    #[test]
    fn concurrent_appenders_write_whole_lines() {
        let dir = dir();
        let path = dir.path().join("dead.jsonl");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        DeadLetterSink::append(&path)
                            .expect("open")
                            .store(&failed(&format!("t{t}-{i}"), 3))
                            .expect("store");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread");
        }
        let read = read_dead_letters(&path).expect("read");
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        assert_eq!(read.letters.len(), 8 * 50 * 3);
    }

    #[test]
    fn a_replay_into_its_own_file_keeps_lines_appended_meanwhile_and_unsent_lines() {
        let dir = dir();
        let path = dir.path().join("dead.jsonl");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("old", 3))
            .expect("store");
        let mut text = fs::read_to_string(&path).expect("read");
        text.push_str("not a dead letter\n");
        fs::write(&path, text).expect("write");

        let read = read_dead_letters(&path).expect("read");
        assert_eq!(read.skipped.iter().map(|e| e.line).collect::<Vec<_>>(), [4]);
        // The replay keeps line 4 (unreadable) and line 2 (say, not sent); opened before the
        // other sender appends.
        let replay = DeadLetterSink::for_replay(&path, Some(&read), &[2, 4]).expect("open");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("meanwhile", 2))
            .expect("store");
        // Line 1 failed again, line 3 was delivered.
        let mut again = failed("old", 1);
        again.deliveries[0].request = read.letters[0]
            .1
            .to_request(
                &[],
                &crate::deliver::Replay::new().unconfigured_targets(true),
            )
            .expect("request");
        replay.store(&again).expect("store");

        let after = read_dead_letters(&path).expect("read");
        assert_eq!(
            channels(&after),
            ["old-1", "old-0", "meanwhile-0", "meanwhile-1"]
        );
        assert_eq!(after.line_bytes(2), Some(&b"not a dead letter"[..]));
        // An appender that opened the file before the rewrite writes into the new file.
        let late = DeadLetterSink::append(&path).expect("open");
        let rewrite = DeadLetterSink::for_replay(&path, Some(&after), &[]).expect("open");
        rewrite.store(&Report::default()).expect("store");
        late.store(&failed("late", 1)).expect("store");
        assert_eq!(
            channels(&read_dead_letters(&path).expect("read")),
            ["late-0"]
        );
    }

    #[test]
    fn a_file_rewritten_during_a_replay_gets_the_failures_appended() {
        let dir = dir();
        let path = dir.path().join("dead.jsonl");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("a", 2))
            .expect("store");
        let read = read_dead_letters(&path).expect("read");
        let replay = DeadLetterSink::for_replay(&path, Some(&read), &[]).expect("open");
        // Another replay rewrote it meanwhile.
        let other = read_dead_letters(&path).expect("read");
        DeadLetterSink::for_replay(&path, Some(&other), &[])
            .expect("open")
            .store(&failed("other", 1))
            .expect("store");
        replay.store(&failed("mine", 1)).expect("store");
        assert_eq!(
            channels(&read_dead_letters(&path).expect("read")),
            ["other-0", "mine-0"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn temporary_files_have_unpredictable_names_and_never_follow_a_symlink() {
        let dir = dir();
        let path = dir.path().join("dead.jsonl");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").expect("victim");
        // Where a predictable temporary name would be.
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!(".dead.jsonl.{}.tmp", std::process::id())),
        )
        .expect("symlink");
        DeadLetterSink::append(&path)
            .expect("open")
            .store(&failed("a", 1))
            .expect("store");
        let read = read_dead_letters(&path).expect("read");
        DeadLetterSink::for_replay(&path, Some(&read), &[])
            .expect("open")
            .store(&failed("b", 1))
            .expect("store");
        assert_eq!(fs::read_to_string(&victim).expect("victim"), "keep me");
        assert_eq!(channels(&read_dead_letters(&path).expect("read")), ["b-0"]);
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") && !n.contains(&std::process::id().to_string()))
            .collect();
        assert!(names.is_empty(), "temporary files left: {names:?}");
        // A temporary file is never opened through a symlink, whatever its name.
        let temp = create_temp(&path).expect("temp").path().to_owned();
        assert!(!temp.exists(), "removed when dropped");
        std::os::unix::fs::symlink(&victim, &temp).expect("symlink");
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        assert!(options.open(&temp).is_err(), "create_new refuses a symlink");
    }

    #[test]
    fn a_bad_line_is_skipped_with_its_number_and_no_quoted_text() {
        let report = failed("a", 2);
        let lines: Vec<String> = report
            .failures()
            .filter_map(DeadLetter::from_report)
            .map(|l| l.to_json_line())
            .collect();
        let bad = lines[0].replace(r#""webhook":0"#, r#""webhook":"Bearer s3cr3t""#);
        let text = format!("{}\n\n{bad}\n{}\n\u{0}\u{ff}", lines[0], lines[1]);
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let file = parse_dead_letters(bytes);
        assert_eq!(channels(&file), ["a-0", "a-1"]);
        assert_eq!(
            file.letters.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [1, 4]
        );
        let skipped: Vec<String> = file.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped[0].starts_with("line 3: invalid type"),
            "{skipped:?}"
        );
        assert!(!skipped[0].contains("s3cr3t"), "{skipped:?}");
        assert_eq!(skipped[1], "line 5: not UTF-8 text");
    }
}
