//! Running the `soketi-lambda` binary in tests: a hermetic AWS environment, outputs, files.

#![allow(dead_code)] // each test file uses part of it

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_soketi-lambda"));
    // Hermetic AWS environment: no profile, no instance metadata, no stray endpoint.
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/soketi-lambda-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/soketi-lambda-test",
        )
        .env_remove("SOKETI_SECRET")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDCLI")
        .env("AWS_SECRET_ACCESS_KEY", "cli-secret")
        .stdin(Stdio::null());
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run soketi-lambda")
}

/// Runs the binary off the async runtime, so the loopback server keeps serving.
pub async fn run_async(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("join")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

pub fn tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soketi-lambda-cli");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    // Tests run in parallel threads of one process: every call gets its own file.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}
