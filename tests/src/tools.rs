//! Where the tools are, with panics that say which script installs what is missing.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::process::log_tail;

/// The workspace root (the parent of this crate).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
}

/// `tests/interop`: the Node side (package.json, lockfile, scripts).
pub fn interop_dir() -> PathBuf {
    repo_root().join("tests").join("interop")
}

/// A fresh directory for this test binary's logs and generated files:
/// `target/e2e/<binary>-<pid>/`. Printed in failure messages.
pub fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().ok();
        let stem = exe
            .as_deref()
            .and_then(Path::file_stem)
            .and_then(|s| s.to_str())
            .map(|s| s.split('-').next().unwrap_or(s).to_string())
            .unwrap_or_else(|| "e2e".into());
        let dir = repo_root()
            .join("target")
            .join("e2e")
            .join(format!("{stem}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    })
}

/// The pinned cargo-lambda from the project's virtualenv (`CARGO_LAMBDA` overrides).
pub fn cargo_lambda() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_LAMBDA") {
        return PathBuf::from(path);
    }
    let path = repo_root().join(".tools/venv/bin/cargo-lambda");
    if !path.is_file() {
        panic!(
            "cargo-lambda not found at {}.\n\
             Run `scripts/setup-tools` (it creates .tools/venv with the pinned cargo-lambda from PyPI), \
             or set CARGO_LAMBDA to a cargo-lambda binary.",
            path.display()
        );
    }
    path
}

/// The pinned moto server from the project's virtualenv (`MOTO_SERVER` overrides).
pub fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let path = repo_root().join(".tools/venv/bin/moto_server");
    if !path.is_file() {
        panic!(
            "moto_server not found at {}.\n\
             Run `scripts/setup-tools` (it creates .tools/venv with the pinned moto from PyPI), \
             or set MOTO_SERVER to a moto_server binary.",
            path.display()
        );
    }
    path
}

/// `node` from PATH (Node 20 or newer).
pub fn node() -> PathBuf {
    find_in_path("node").unwrap_or_else(|| {
        panic!(
            "`node` (Node.js 20 or newer) is not on PATH: the interop tests run the real soketi \
             and Node receivers. Install Node.js 20 (e.g. `apt-get install nodejs npm`), then \
             `tests/interop/setup`."
        )
    })
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Makes sure `tests/interop/node_modules` matches the committed lockfile, running
/// `tests/interop/setup` (`npm ci`) once per test binary when it does not. Returns the
/// interop directory.
pub fn interop_ready() -> PathBuf {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    let dir = interop_dir();
    let result = READY.get_or_init(|| {
        if npm_install_is_current(&dir) {
            return Ok(());
        }
        node();
        let log = run_dir().join("npm-setup.log");
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let status = Command::new("bash")
            .arg(dir.join("setup"))
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .status()
            .map_err(|e| format!("cannot run tests/interop/setup: {e}"))?;
        if !status.success() || !npm_install_is_current(&dir) {
            return Err(format!(
                "tests/interop/setup (npm ci) failed ({status}); it needs Node.js 20 + npm and \
                 the npm registry.\n{}",
                log_tail(&log, 30)
            ));
        }
        Ok(())
    });
    if let Err(message) = result {
        panic!("{message}");
    }
    dir
}

/// True when `node_modules` was installed from the current lockfile (npm writes
/// `node_modules/.package-lock.json` on install; it must not be older than the lockfile).
fn npm_install_is_current(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let soketi = dir.join("node_modules/@soketi/soketi/bin/server.js");
    match (
        modified(dir.join("node_modules/.package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(locked)) => installed >= locked && soketi.is_file(),
        _ => false,
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind udp 127.0.0.1:0")
        .port()
}
