//! The real soketi 1.6.1 (from `tests/interop/node_modules`), on 127.0.0.1 and free ports.
//!
//! Every `SOKETI_*` variable of the environment is removed for it (they override the config
//! file), and so are proxy variables; its cluster discovery (node-discover, UDP broadcast to
//! 255.255.255.255 by default) is bound to 127.0.0.1 and unicast to itself on a free port, so
//! it sends nothing beyond loopback. AWS credentials are given in each webhook's
//! `client_options`, and instance metadata is disabled, so its AWS SDK looks nowhere else.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::process::{ProcessGuard, poll_until};
use crate::tools::{free_tcp_port, free_udp_port, interop_ready, node, run_dir};

/// The app soketi serves in the interop tests (the function knows it: see `watch::APPS`).
pub const APP_ID: &str = "app1";
pub const APP_KEY: &str = "app1key";
pub const APP_SECRET: &str = "app1secret";

/// Every event type soketi 1.6.1 can send as a webhook.
pub const EVENT_TYPES: [&str; 6] = [
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
];

/// A `lambda_function` webhook for every event type, pointed at `endpoint`.
pub fn lambda_webhook(function: &str, endpoint: &str, is_async: bool) -> Value {
    json!({
        "lambda_function": function,
        "event_types": EVENT_TYPES,
        "lambda": {
            "async": is_async,
            "region": "us-east-1",
            "client_options": {
                "endpoint": endpoint,
                "region": "us-east-1",
                "credentials": {"accessKeyId": "AKIDSOKETITEST", "secretAccessKey": "soketi-test-secret"},
                "maxRetries": 0
            }
        }
    })
}

/// A `url` webhook for every event type, POSTing to `url` (soketi's HTTP transport).
pub fn url_webhook(url: &str) -> Value {
    json!({
        "url": url,
        "event_types": EVENT_TYPES,
    })
}

/// A running soketi.
pub struct Soketi {
    process: ProcessGuard,
    pub port: u16,
    pub config_path: PathBuf,
}

impl Soketi {
    /// Starts soketi with one app (`APP_*`, client messages enabled) and `webhooks`, batching
    /// on or off, then polls `/ready` until it answers.
    pub fn start(name: &str, webhooks: Vec<Value>, batching: bool) -> Soketi {
        Soketi::start_with(name, webhooks, batching, json!({}))
    }

    /// Like [`Soketi::start`], with more configuration keys (`extra`, an object of soketi's
    /// dotted keys, e.g. `"mode"` or `"queue.driver"`) over the defaults.
    pub fn start_with(name: &str, webhooks: Vec<Value>, batching: bool, extra: Value) -> Soketi {
        let dir = interop_ready();
        let port = free_tcp_port();
        let mut config = json!({
            "debug": true,
            "host": "127.0.0.1",
            "port": port,
            "metrics.enabled": false,
            "metrics.host": "127.0.0.1",
            "metrics.port": free_tcp_port(),
            "cluster.address": "127.0.0.1",
            "cluster.unicast": "127.0.0.1",
            "cluster.port": free_udp_port(),
            "shutdownGracePeriod": 100,
            "webhooks.batching.enabled": batching,
            "webhooks.batching.duration": 100,
            "appManager.driver": "array",
            "appManager.array.apps": [{
                "id": APP_ID,
                "key": APP_KEY,
                "secret": APP_SECRET,
                "enableClientMessages": true,
                "webhooks": webhooks,
            }],
        });
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            config.extend(extra.clone());
        }
        let config_path = run_dir().join(format!("{name}.json"));
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap())
            .expect("write soketi config");
        let mut command = Command::new(node());
        command
            .current_dir(&dir)
            .arg("node_modules/@soketi/soketi/bin/server.js")
            .arg("start")
            .arg(format!("--config={}", config_path.display()));
        for (key, _) in std::env::vars() {
            let lower = key.to_ascii_lowercase();
            if key.starts_with("SOKETI_") || lower.ends_with("_proxy") || key.starts_with("AWS_") {
                command.env_remove(&key);
            }
        }
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ACCESS_KEY_ID", "AKIDSOKETITEST")
            .env("AWS_SECRET_ACCESS_KEY", "soketi-test-secret")
            .env("AWS_REGION", "us-east-1");
        let log = run_dir().join(format!("{name}.log"));
        let mut soketi = Soketi {
            process: ProcessGuard::spawn("soketi", command, &log),
            port,
            config_path,
        };
        soketi.wait_ready();
        soketi
    }

    fn wait_ready(&mut self) {
        let agent = crate::lambda::agent(Duration::from_secs(2));
        let url = format!("http://127.0.0.1:{}/ready", self.port);
        let process = &mut self.process;
        let tail = process.log_path().to_path_buf();
        poll_until(
            "soketi to answer /ready",
            Duration::from_secs(60),
            Duration::from_millis(100),
            || {
                if let Some(status) = process.exit_status() {
                    panic!(
                        "soketi exited ({status}) before it was ready\n{}",
                        crate::process::log_tail(&tail, 60)
                    );
                }
                let mut response = agent.get(&url).call().ok()?;
                let body = response.body_mut().read_to_string().ok()?;
                (response.status() == 200 && body.trim() == "OK").then_some(())
            },
            || crate::process::log_tail(&tail, 40),
        );
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// Stops soketi (its whole process group).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// Runs `tests/interop/<script>` with `args` under node, bounded by `timeout`; returns its
/// log. Panics with the log tail when it fails or hangs.
pub fn run_node_script(name: &str, script: &str, args: &[String], timeout: Duration) -> String {
    let dir = interop_ready();
    let mut command = Command::new(node());
    command.current_dir(&dir).arg(script).args(args);
    for (key, _) in std::env::vars() {
        if key.to_ascii_lowercase().ends_with("_proxy") {
            command.env_remove(&key);
        }
    }
    let log = run_dir().join(format!("{name}.log"));
    let mut process = ProcessGuard::spawn(name, command, &log);
    match process.wait_exit(timeout) {
        Some(status) if status.success() => std::fs::read_to_string(&log).unwrap_or_default(),
        Some(status) => panic!("{script} failed ({status})\n{}", process.log_tail(60)),
        None => panic!(
            "{script} did not finish within {timeout:?}\n{}",
            process.log_tail(60)
        ),
    }
}

/// A Node receiver of `tests/interop` (`pusher_receiver.mjs`, `lambda_handler.mjs`): started
/// with a JSON config, listening on a free 127.0.0.1 port it reports through a file, and
/// appending one JSON line per request it judged to a results file.
pub struct NodeReceiver {
    process: ProcessGuard,
    pub port: u16,
    results: PathBuf,
}

impl NodeReceiver {
    pub fn start(name: &str, script: &str, config: &Value) -> NodeReceiver {
        let dir = interop_ready();
        let port_file = run_dir().join(format!("{name}.port"));
        let results = run_dir().join(format!("{name}.jsonl"));
        let _ = std::fs::remove_file(&port_file);
        std::fs::write(&results, "").expect("create results file");
        let mut command = Command::new(node());
        command
            .current_dir(&dir)
            .arg(script)
            .arg(config.to_string())
            .arg(&port_file)
            .arg(&results);
        let mut process =
            ProcessGuard::spawn(name, command, &run_dir().join(format!("{name}.log")));
        let port = poll_until(
            &format!("{script} to listen"),
            Duration::from_secs(30),
            Duration::from_millis(50),
            || {
                if let Some(status) = process.exit_status() {
                    panic!("{script} exited ({status})\n{}", process.log_tail(40));
                }
                std::fs::read_to_string(&port_file)
                    .ok()?
                    .trim()
                    .parse::<u16>()
                    .ok()
            },
            String::new,
        );
        NodeReceiver {
            process,
            port,
            results,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The results so far, one JSON object per request, in order.
    pub fn results(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.results)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("a results line is JSON"))
            .collect()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}
