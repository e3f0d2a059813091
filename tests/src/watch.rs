//! The example function under `cargo lambda watch`, on 127.0.0.1 and a free port.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lambda::{self, FUNCTION_NAME, Invocation};
use crate::process::{ProcessGuard, log_tail};
use crate::tools::{cargo_lambda, free_tcp_port, repo_root, run_dir};

/// The apps the shared function instance knows (`SOKETI_APP_SECRETS`): the keys and secrets of the
/// recorded soketi vectors.
pub const APPS: [(&str, &str); 2] = [("app1key", "app1secret"), ("app2key", "app2secret")];

/// On Linux, the target `cargo lambda build` (and so `sam build`) names explicitly for this
/// machine. The function is built for it here too, into the same folder of `target/`: with
/// `SAM_BUILD_MODE=debug`, the deploy check's `sam build` then finds it compiled (scripts/test).
/// Elsewhere the Lambda target is another system's, and watch builds for the host.
fn lambda_target() -> Option<String> {
    cfg!(target_os = "linux").then(|| format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
}

/// The variables `cargo test` sets for this test binary (its package's name, folder,
/// version...). Left in watch's environment, they reach the cargo that builds the function, and
/// build scripts that watch them (ring's does) would run again, with everything above them, in
/// the next build without them: `sam build` in the deploy check.
fn set_by_cargo_test(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

/// Cold compile of the function on 2 cores, possibly while other builds run.
const READY_TIMEOUT: Duration = Duration::from_secs(900);

/// A running `cargo lambda watch` serving the example function.
#[derive(Debug)]
pub struct Watch {
    process: Mutex<ProcessGuard>,
    /// The function (workspace package and binary) it serves.
    function: &'static str,
    port: u16,
    log_path: PathBuf,
    agent: ureq::Agent,
}

impl Watch {
    /// Starts `cargo lambda watch -A 127.0.0.1 -P <free port> --package example-function`
    /// from the repository root with `env` for the function (and `AWS_LAMBDA_LOG_FORMAT=JSON`),
    /// then polls until the function answers an invocation.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Watch {
        Watch::start_function(name, FUNCTION_NAME, env)
    }

    /// Like [`Watch::start`], for another function of the workspace (package `function`, whose
    /// binary has the same name). Ready once the function answers a probe that is no
    /// envelope (any answer of its own).
    pub fn start_function(name: &str, function: &'static str, env: &[(&str, &str)]) -> Watch {
        let dir = run_dir();
        let port = free_tcp_port();
        let env_file = dir.join(format!("{name}.env"));
        let mut env_text =
            String::from("AWS_LAMBDA_LOG_FORMAT='JSON'\nAWS_LAMBDA_LOG_LEVEL='INFO'\n");
        for (key, value) in env {
            assert!(
                !value.contains('\'') && !value.contains('\n'),
                "env value for {key} cannot go into an env file: {value:?}"
            );
            env_text.push_str(&format!("{key}='{value}'\n"));
        }
        std::fs::write(&env_file, env_text).expect("write env file");
        let log_path = dir.join(format!("{name}.log"));
        let mut command = Command::new(cargo_lambda());
        command
            .current_dir(repo_root())
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
            .arg("--invoke-port")
            .arg(port.to_string())
            .args(["--package", function])
            // Other people's edits must not restart the function in the middle of a test.
            .arg("--ignore-changes")
            .arg("--env-file")
            .arg(&env_file)
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("CARGO_TERM_COLOR", "never")
            .env("NO_COLOR", "1");
        if let Some(target) = lambda_target() {
            command.env("CARGO_BUILD_TARGET", target);
        }
        for (key, _) in std::env::vars() {
            if key.starts_with("SOKETI_") || set_by_cargo_test(&key) {
                command.env_remove(key);
            }
        }
        let process = ProcessGuard::spawn("cargo lambda watch", command, &log_path);
        let watch = Watch {
            process: Mutex::new(process),
            function,
            port,
            log_path,
            agent: lambda::agent(Duration::from_secs(120)),
        };
        watch.wait_ready();
        watch
    }

    /// One instance per test binary, knowing the apps in [`APPS`]. Never stopped by a drop:
    /// the binary's exit hook stops it.
    pub fn shared() -> &'static Watch {
        static SHARED: OnceLock<Result<Watch, String>> = OnceLock::new();
        let result = SHARED.get_or_init(|| {
            let apps: serde_json::Map<String, Value> = APPS
                .iter()
                .map(|(k, s)| (k.to_string(), Value::String(s.to_string())))
                .collect();
            let apps = Value::Object(apps).to_string();
            std::panic::catch_unwind(|| Watch::start("watch", &[("SOKETI_APP_SECRETS", &apps)]))
                .map_err(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "starting cargo lambda watch panicked".into())
                })
        });
        match result {
            Ok(watch) => watch,
            Err(message) => panic!("the shared cargo lambda watch could not start:\n{message}"),
        }
    }

    /// `http://127.0.0.1:<port>`: what goes into an SDK's endpoint override.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> &std::path::Path {
        &self.log_path
    }

    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Invokes the function with a raw body; panics (with the log tail) when the emulator
    /// cannot be reached at all.
    ///
    /// With `E2E_BROKEN_VERIFIER=reserialize` (see [`crate::broken`]) a body that the broken
    /// verifier rejects is answered with its `InvalidSignature` instead of being forwarded.
    pub fn invoke(&self, invocation_type: &str, body: &[u8]) -> Invocation {
        if crate::broken::enabled()
            && let Err(reason) = crate::broken::check_lambda_body(body, &APPS)
        {
            return crate::broken::rejection(&reason);
        }
        self.invoke_direct(invocation_type, body)
    }

    /// Invokes the function itself, never through the broken verifier.
    pub fn invoke_direct(&self, invocation_type: &str, body: &[u8]) -> Invocation {
        lambda::invoke(
            &self.agent,
            &self.endpoint_url(),
            self.function,
            invocation_type,
            body,
        )
        .unwrap_or_else(|e| panic!("invoking the function failed: {e}\n{}", self.log_tail(40)))
    }

    /// The JSON lines the function logged (lambda_runtime's JSON format), in order.
    pub fn function_log(&self) -> Vec<Value> {
        let text = std::fs::read(&self.log_path).unwrap_or_default();
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|line| line.starts_with('{'))
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v.get("fields").is_some())
            .collect()
    }

    /// Polls with a probe invocation (a body that is no envelope) until the function itself
    /// answers; fails early when watch exits or the build fails.
    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        // Short, so that a build failure or a function that exits at start is noticed soon; an
        // abandoned probe is harmless.
        let probe_agent = lambda::agent(Duration::from_secs(10));
        loop {
            if let Some(status) = self.process.lock().unwrap().exit_status() {
                panic!(
                    "cargo lambda watch exited ({status}) before the function was ready\n{}",
                    self.log_tail(60)
                );
            }
            let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            if log.contains("error: could not compile") || log.contains("error[E") {
                panic!(
                    "the function {} does not compile\n{}",
                    self.function,
                    self.log_tail(60)
                );
            }
            // The function exited at start (e.g. a configuration error): watch then leaves
            // invocations hanging, so fail now.
            if log.contains("command exited code=") {
                panic!(
                    "the function {} exited at start\n{}",
                    self.function,
                    self.log_tail(60)
                );
            }
            let last = match lambda::invoke(
                &probe_agent,
                &self.endpoint_url(),
                self.function,
                "RequestResponse",
                b"{\"probe\":\"not an envelope\"}",
            ) {
                // The function's own answer: a function error with a type, or a summary.
                Ok(inv) if inv.function_error.is_some() || inv.status == 200 => return,
                Ok(inv) if inv.status == 404 => panic!(
                    "cargo lambda watch does not serve a function named {}: {}\n{}",
                    self.function,
                    inv.body,
                    self.log_tail(40)
                ),
                Ok(inv) => format!("{inv:?}"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "cargo lambda watch on port {} did not serve the function within {:?}; \
                     last probe: {last}\n{}",
                    self.port,
                    READY_TIMEOUT,
                    self.log_tail(60)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
