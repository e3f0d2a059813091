//! Child processes owned by a test: each one leads its own process group, writes stdout and
//! stderr to a log file, and is stopped (the whole group: SIGTERM, then SIGKILL) when its guard
//! is dropped — also when the test panics — or, for guards kept in a `static`, when the test
//! binary exits (an `atexit` hook). Only the groups this binary started are ever signalled.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// Process groups started by this binary and not yet stopped: `(leader pid, name)`.
static LIVE_GROUPS: Mutex<Vec<(i32, String)>> = Mutex::new(Vec::new());
static ATEXIT: Once = Once::new();

/// How long a group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// A started child process and its process group.
#[derive(Debug)]
pub struct ProcessGuard {
    name: String,
    child: Child,
    log_path: PathBuf,
    stopped: bool,
}

impl ProcessGuard {
    /// Starts `command` in a new process group with stdin closed and stdout + stderr appended
    /// to `log_path`. Panics with a clear message when it cannot be started.
    pub fn spawn(name: &str, mut command: Command, log_path: &Path) -> ProcessGuard {
        ATEXIT.call_once(|| {
            // SAFETY: registers a plain `extern "C" fn()`; it runs at normal process exit (not
            // in a signal handler), sends signals to our own groups and reaps our own children.
            unsafe {
                libc::atexit(stop_live_groups_at_exit);
            }
        });
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create log directory {}: {e}", dir.display()));
        }
        let log = File::create(log_path)
            .unwrap_or_else(|e| panic!("cannot create log file {}: {e}", log_path.display()));
        let log_err = log.try_clone().expect("clone log file handle");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .process_group(0);
        let description = format!("{command:?}");
        // Hold the registry lock across spawn so that an exiting binary cannot miss the group.
        let mut live = LIVE_GROUPS.lock().unwrap_or_else(|p| p.into_inner());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({description}): {e}"));
        live.push((child.id() as i32, name.to_string()));
        drop(live);
        ProcessGuard {
            name: name.to_string(),
            child,
            log_path: log_path.to_path_buf(),
            stopped: false,
        }
    }

    /// The process id, which is also the process group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// `Some(status)` once the leader has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Sends `signal` to the whole group (e.g. SIGINT for a graceful stop).
    pub fn signal(&self, signal: i32) {
        if !self.stopped {
            // SAFETY: plain syscall on a process group this guard created.
            unsafe {
                libc::kill(-(self.child.id() as i32), signal);
            }
        }
    }

    /// Waits (bounded) for the leader to exit by itself; true when it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the whole group: SIGTERM, up to 5 s of grace, then SIGKILL. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        let pgid = self.child.id() as i32;
        terminate_group(pgid, || {
            let _ = self.child.try_wait();
        });
        let _ = self.child.wait();
        self.stopped = true;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(p, _)| *p != pgid);
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM to the group, wait until no member is left (bounded), then SIGKILL; then the same
/// for descendants that left the group (cargo lambda watch starts the function in a session of
/// its own). `reap` is called while waiting so that a zombie leader does not count as alive.
fn terminate_group(pgid: i32, mut reap: impl FnMut()) {
    let escaped: Vec<(i32, u64)> = descendants(pgid)
        .into_iter()
        .filter(|(pid, _)| process_group_of(*pid) != Some(pgid))
        .collect();
    // SAFETY: signals to a process group started by this binary.
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        reap();
        if !group_alive(pgid) && !escaped.iter().any(|p| still_running(*p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    for &(pid, start) in &escaped {
        if still_running((pid, start)) {
            // SAFETY: a descendant of our own child, identified by pid and start time.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// `(pid, ppid, pgid, start time)` of a process, from `/proc/<pid>/stat`.
fn proc_stat(pid: i32) -> Option<(i32, i32, i32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); ppid = 4, pgrp = 5, starttime = 22.
    let state = fields.first()?;
    if *state == "Z" || *state == "X" {
        return None;
    }
    Some((
        pid,
        fields.get(1)?.parse().ok()?,
        fields.get(2)?.parse().ok()?,
        fields.get(19)?.parse().ok()?,
    ))
}

fn process_group_of(pid: i32) -> Option<i32> {
    proc_stat(pid).map(|(_, _, pgid, _)| pgid)
}

fn still_running((pid, start): (i32, u64)) -> bool {
    proc_stat(pid).is_some_and(|(_, _, _, s)| s == start)
}

/// Every live descendant of `root`, as `(pid, start time)`.
fn descendants(root: i32) -> Vec<(i32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<(i32, i32, i32, u64)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(proc_stat)
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid, _, start) in &all {
            if ppid == parent && !found.iter().any(|(p, _)| *p == pid) {
                found.push((pid, start));
                frontier.push(pid);
            }
        }
    }
    found
}

fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0
}

extern "C" fn stop_live_groups_at_exit() {
    let groups: Vec<(i32, String)> = match LIVE_GROUPS.lock() {
        Ok(mut g) => std::mem::take(&mut *g),
        Err(p) => std::mem::take(&mut *p.into_inner()),
    };
    for (pgid, _name) in groups {
        terminate_group(pgid, || {
            let mut status = 0;
            // SAFETY: reaps our own child (the group leader) if it has exited.
            unsafe {
                libc::waitpid(pgid, &mut status, libc::WNOHANG);
            }
        });
    }
}

/// The last `lines` lines of a file (lossy UTF-8), or a note that it cannot be read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            format!(
                "--- last {} lines of {} ---\n{}\n--- end ---",
                all.len() - start,
                path.display(),
                all[start..]
                    .iter()
                    .map(|line| shorten(line, 400))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Err(e) => format!("(log {} unreadable: {e})", path.display()),
    }
}

/// `line` cut to at most `max` characters.
fn shorten(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// Polls `probe` every `interval` until it returns `Some`, or panics after `timeout` with
/// `what` and whatever `context()` says (typically a log tail).
pub fn poll_until<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {:?} waiting for {what}\n{}",
                timeout,
                context()
            );
        }
        std::thread::sleep(interval);
    }
}
