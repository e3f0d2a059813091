//! The `soketi-lambda` binary: verify on every recorded request, sign, send, dead letters.

#[path = "common/cli.rs"]
mod cli_support;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cli_support::{bin, code, run, run_async, stdout_json, tmp};

use common::vectors::{self, Vector};
use common::{FakeServer, Reply};
use serde_json::Value;
use soketi_handler_kit::{Keyring, Verifier};

fn verify_cmd(entry: &Vector, file: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("verify")
        .arg("--secret")
        .arg(&entry.app_secret)
        .arg("--key")
        .arg(&entry.app_key);
    if !entry.is_lambda() {
        let signature = entry.http_header("X-Pusher-Signature").expect("signature");
        cmd.arg("--http").arg("--signature").arg(signature);
    }
    cmd.arg(file);
    cmd
}

#[test]
fn verify_accepts_every_recorded_request_and_rejects_one_flipped_byte() {
    let entries = vectors::all();
    assert!(entries.len() >= 15);
    for entry in &entries {
        let file = entry.path();
        let out = run(&mut verify_cmd(entry, &file));
        assert_eq!(
            code(&out),
            0,
            "{file:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = stdout_json(&out);
        assert_eq!(report["valid"], true);
        assert_eq!(report["app_key"], entry.app_key.as_str());
        assert!(report["time_ms"].as_u64().expect("time_ms") > 1_700_000_000_000);
        let names: Vec<&Value> = report["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| &e["name"])
            .collect();
        let expected: Vec<Value> = entry
            .events
            .iter()
            .map(|e| Value::from(e.as_str()))
            .collect();
        let names: Vec<Value> = names.into_iter().cloned().collect();
        assert_eq!(names, expected, "{file:?}");
        assert!(report["events"][0]["channel"].is_string());

        // One flipped byte anywhere in the payload: first, middle and last byte.
        let bytes = std::fs::read(&file).expect("vector");
        let (start, end) = if !entry.is_lambda() {
            (0, bytes.len())
        } else {
            let text = std::str::from_utf8(&bytes).expect("utf-8");
            let payload = soketi_handler_kit::wire::Envelope::parse(&bytes)
                .expect("envelope")
                .payload_json();
            let start = text.find(payload).expect("payload inside the body");
            (start, start + payload.len())
        };
        for position in [start, (start + end) / 2, end - 1] {
            let mut tampered = bytes.clone();
            tampered[position] ^= 0x01;
            let path = tmp("tampered.json");
            std::fs::write(&path, &tampered).expect("write");
            let out = run(&mut verify_cmd(entry, &path));
            assert_eq!(
                code(&out),
                1,
                "{file:?} byte {position} flipped was accepted"
            );
            assert!(!out.stderr.is_empty(), "the reason is on stderr");
            assert_eq!(stdout_json(&out)["valid"], false);
        }
    }
}

#[test]
fn verify_with_another_secret_or_unknown_key_is_rejected_and_usage_errors_exit_2() {
    let file = common::vectors_dir().join("001.json");
    let out = run(bin().args(["verify", "--secret", "app2secret"]).arg(&file));
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidSignature"));

    let apps = tmp("apps.json");
    std::fs::write(
        &apps,
        r#"[{"id":"2","key":"app2key","secret":"app2secret"}]"#,
    )
    .expect("write");
    let out = run(bin().args(["verify", "--apps"]).arg(&apps).arg(&file));
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("UnknownAppKey"));
    std::fs::write(&apps, r#"[{"id":"1","key":"app1key","secret":"app1secret"},{"id":"2","key":"app2key","secret":"app2secret"}]"#)
        .expect("write");
    assert_eq!(
        code(&run(bin().args(["verify", "--apps"]).arg(&apps).arg(&file))),
        0
    );

    assert_eq!(
        code(&run(bin().args(["verify"]).arg(&file))),
        2,
        "no secret"
    );
    assert_eq!(
        code(&run(bin()
            .args(["verify", "--secret", "s", "--http"])
            .arg(&file))),
        2,
        "--http without --signature"
    );
    assert_eq!(
        code(&run(bin().args([
            "verify",
            "--secret",
            "s",
            "/nonexistent/file"
        ]))),
        2
    );
}

#[test]
fn verify_reads_soketis_apps_file_and_the_kits_app_secrets_each_by_its_own_flag() {
    let file = common::vectors_dir().join("001.json");
    let secrets = tmp("app-secrets.json");
    std::fs::write(
        &secrets,
        r#"{"app1key":["rotated","app1secret"],"app2key":"app2secret"}"#,
    )
    .expect("write");
    let verify = |extra: &[&str]| {
        run(bin()
            .args(["verify", "--app-secrets"])
            .arg(&secrets)
            .args(extra)
            .arg(&file))
    };
    let out = verify(&[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)["app_key"], "app1key");
    assert_eq!(code(&verify(&["--key", "app1key"])), 0);
    let out = verify(&["--key", "app2key"]);
    assert_eq!(code(&out), 1, "only app2key's secrets: app1key is unknown");
    assert!(String::from_utf8_lossy(&out.stderr).contains("UnknownAppKey"));
    assert_eq!(code(&verify(&["--key", "app9key"])), 2, "not in the file");

    // Each flag reads its own format: no guessing.
    let out = run(bin().args(["verify", "--apps"]).arg(&secrets).arg(&file));
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--app-secrets"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let apps = tmp("apps-file.json");
    std::fs::write(
        &apps,
        r#"[{"id":"1","key":"app1key","secret":"app1secret"}]"#,
    )
    .expect("write");
    assert_eq!(
        code(&run(bin()
            .args(["verify", "--app-secrets"])
            .arg(&apps)
            .arg(&file))),
        2
    );
}

#[test]
fn sign_reproduces_soketi_and_its_output_verifies() {
    let recorded = std::fs::read_to_string(common::vectors_dir().join("029.json")).expect("vector");
    let out = run(bin().args([
        "sign", "--key", "app1key", "--secret", "app1secret", "--time-ms", "1795877270307", "--pid", "26548",
        r#"{"name":"client_event","channel":"presence-room","event":"client-typing","data":{"who":"user-2","text":"h\u00e9llo 😀 \"q\" </script>\u2028"},"socket_id":"5460767047.7868393145","user_id":"user-2"}"#,
    ]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // The input's `\u00e9` and `\u2028` escapes come out raw, as JSON.stringify prints them.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), recorded);

    // Events from standard input, as JSON lines; the output verifies with the kit and the CLI.
    let mut child = bin()
        .args([
            "sign",
            "--key",
            "k",
            "--secret",
            "s",
            "--header",
            "X-Env:prod",
            "--header",
            "X-Pad:  padded ",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"{\"name\":\"member_added\",\"channel\":\"presence-a\",\"user_id\":1e0}\n\n{\"name\":\"cache_miss\",\"channel\":\"cache-b\"}\n")
            .expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(code(&out), 0);
    let body = out.stdout.trim_ascii_end().to_vec();
    let text = String::from_utf8(body.clone()).expect("utf-8");
    assert!(text.contains(r#""user_id":1}"#), "{text}");
    // Header values are kept verbatim, spaces included, as soketi sends configured headers.
    assert!(
        text.contains(r#""X-Env":"prod","X-Pad":"  padded ","X-Pusher-Key":"k""#),
        "{text}"
    );
    let verified = Verifier::new(Keyring::new().app("k", "s"))
        .verify_lambda_body(&body)
        .expect("verifies");
    assert_eq!(verified.payload().len(), 2);
    let path = tmp("signed.json");
    std::fs::write(&path, &body).expect("write");
    assert_eq!(
        code(&run(bin()
            .args(["verify", "--secret", "s", "--key", "k"])
            .arg(&path))),
        0
    );

    // Bad input is a usage error, not a panic.
    for bad in [
        vec!["{\"name\":1}"],
        vec![
            "--header",
            "X-Pusher-Signature:x",
            "{\"name\":\"cache_miss\",\"channel\":\"c\"}",
        ],
        vec![
            "--header",
            " :no-name",
            "{\"name\":\"cache_miss\",\"channel\":\"c\"}",
        ],
    ] {
        let out = run(bin()
            .args(["sign", "--key", "k", "--secret", "s"])
            .args(&bad));
        assert_eq!(code(&out), 2, "{bad:?}");
    }
}

fn app_file(server_url: Option<&str>) -> PathBuf {
    let endpoint = server_url
        .map(|u| format!(r#","endpoint":"{u}""#))
        .unwrap_or_default();
    let path = tmp("app.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"id":"1","key":"app1key","secret":"app1secret","webhooks":[
                {{"lambda_function":"my-function","event_types":["channel_occupied","member_added"],
                  "lambda":{{"async":true,"client_options":{{"region":"eu-west-1"{endpoint}}}}}}}]}}"#
        ),
    )
    .expect("write app");
    path
}

const EVENT: &str = r#"{"name":"channel_occupied","channel":"private-x"}"#;

#[tokio::test]
async fn send_delivers_and_reports() {
    let server = FakeServer::ok().await;
    let app = app_file(None);
    let events = tmp("events.jsonl");
    std::fs::write(
        &events,
        "{\"name\":\"member_added\",\"channel\":\"presence-a\",\"user_id\":\"u\"}\n",
    )
    .expect("write");
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(&app)
        .args(["--endpoint-url", &server.url, "--time-ms", "42", EVENT])
        .arg(&events);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report = stdout_json(&out);
    assert_eq!(
        (
            report["ok"].clone(),
            report["delivered"].clone(),
            report["failed"].clone()
        ),
        (true.into(), 1.into(), 0.into())
    );
    assert_eq!(report["deliveries"][0]["invocation_type"], "Event");
    assert_eq!(
        report["deliveries"][0]["events"],
        serde_json::json!(["channel_occupied", "member_added"])
    );
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].invocation_type(), Some("Event"));
    assert!(
        got[0]
            .header("authorization")
            .expect("auth")
            .contains("Credential=AKIDCLI/")
    );
    let verified = Verifier::new(Keyring::new().app("app1key", "app1secret"))
        .verify_lambda_body(&got[0].body)
        .expect("valid");
    assert_eq!(verified.payload().time_ms(), 42);
}

#[tokio::test]
async fn send_honours_aws_endpoint_url_and_client_options_endpoint() {
    let server = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(app_file(None))
        .arg(EVENT)
        .env("AWS_ENDPOINT_URL", &server.url);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.requests().len(), 1, "AWS_ENDPOINT_URL used");

    let other = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(app_file(Some(&other.url)))
        .arg(EVENT)
        .env("AWS_ENDPOINT_URL", &server.url);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 0);
    assert_eq!(
        (server.requests().len(), other.requests().len()),
        (1, 1),
        "client_options.endpoint wins"
    );
}

#[tokio::test]
async fn failures_go_to_the_dead_letter_file_and_replay_resends_them_unchanged() {
    let failing = FakeServer::start(|_, _| Reply::ServerError).await;
    let app = app_file(None);
    let dead = tmp("dead.jsonl");
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(&app)
        .args([
            "--endpoint-url",
            &failing.url,
            "--max-attempts",
            "2",
            "--timeout-ms",
            "2000",
            EVENT,
        ])
        .arg("--dead-letter")
        .arg(&dead);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["deliveries"][0]["failure"]["kind"], "ServerError");
    assert_eq!(failing.requests().len(), 2);
    let lines = std::fs::read_to_string(&dead).expect("dead letters");
    assert_eq!(lines.lines().count(), 1);
    assert!(!lines.contains("app1secret") && !lines.contains("cli-secret"));

    let server = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(&app)
        .arg("--replay")
        .arg(&dead)
        .arg("--dead-letter")
        .arg(&dead)
        .args(["--endpoint-url", &server.url]);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.requests().len(), 1);
    assert_eq!(
        server.requests()[0].body,
        failing.requests()[0].body,
        "resent byte for byte"
    );
    assert_eq!(server.requests()[0].invocation_type(), Some("Event"));
    assert_eq!(
        std::fs::read_to_string(&dead).expect("rewritten"),
        "",
        "nothing left to replay"
    );
}

#[test]
fn send_configuration_errors_exit_2_and_name_the_field() {
    let app = tmp("bad-app.json");
    std::fs::write(
        &app,
        r#"{"id":"1","key":"k","secret":"s","webhooks":[{"url":"http://127.0.0.1:1/","event_types":["cache_miss"],"headers":{"X-Pusher-Key":"forged"}}]}"#,
    )
    .expect("write");
    let out = run(bin().arg("send").arg("--apps").arg(&app).arg(EVENT));
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("webhooks[0].headers.X-Pusher-Key"),
        "{stderr}"
    );
    assert_eq!(code(&run(bin().arg("send").arg(EVENT))), 2, "no --apps");

    let empty = tmp("no-apps.json");
    std::fs::write(&empty, "[]").expect("write");
    let out = run(bin().arg("send").arg("--apps").arg(&empty).arg(EVENT));
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("holds no app"), "{stderr}");
}

#[test]
fn an_attempt_timeout_longer_than_the_total_bound_is_refused_not_cut_short() {
    let apps = app_file(None);
    let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/soketi.fifo";
    let flags = ["--timeout-ms", "120000", "--max-elapsed-ms", "60000"];
    let send = run(bin()
        .args(["send", "--apps"])
        .arg(&apps)
        .args(flags)
        .arg(EVENT));
    let worker = run(bin()
        .args(["worker", "--sqs-queue-url", queue, "--apps"])
        .arg(&apps)
        .args(flags));
    for (command, out) in [("send", send), ("worker", worker)] {
        assert_eq!(code(&out), 2, "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("raise --max-elapsed-ms to at least 120000"),
            "{command}: {stderr}"
        );
    }
}

#[tokio::test]
async fn missing_aws_credentials_fail_at_once_as_a_configuration_problem() {
    let server = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.arg("send").arg("--apps").arg(app_file(None)).args([
        "--endpoint-url",
        &server.url,
        "--max-attempts",
        "4",
        EVENT,
    ]);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 1);
    let failure = &stdout_json(&out)["deliveries"][0]["failure"];
    assert_eq!(
        (failure["kind"].as_str(), failure["attempts"].as_u64()),
        (Some("Config"), Some(1))
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn an_unwritable_dead_letter_file_is_a_usage_error_before_anything_is_sent() {
    let server = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(app_file(None))
        .args(["--endpoint-url", &server.url, EVENT])
        .arg("--dead-letter")
        .arg("/nonexistent/soketi-lambda-dir/dead.jsonl");
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/soketi-lambda-dir/dead.jsonl"),
        "{stderr}"
    );
    assert!(server.requests().is_empty(), "nothing sent");
}

#[tokio::test]
async fn replaying_a_file_into_itself_under_another_spelling_does_not_duplicate_it() {
    let failing = FakeServer::start(|_, _| Reply::ServerError).await;
    let app = app_file(None);
    let dead = tmp("dead-again.jsonl");
    let send_failing = |replay: Option<&Path>, dead_letter: &Path| {
        let mut cmd = bin();
        cmd.arg("send")
            .args(["--endpoint-url", &failing.url, "--max-attempts", "1"])
            .arg("--dead-letter")
            .arg(dead_letter);
        cmd.arg("--apps").arg(&app);
        match replay {
            Some(file) => cmd.arg("--replay").arg(file),
            None => cmd.arg(EVENT),
        };
        cmd
    };
    let out = run_async(send_failing(None, &dead)).await;
    assert_eq!(code(&out), 1);
    let first = std::fs::read_to_string(&dead).expect("dead letters");
    assert_eq!(first.lines().count(), 1);

    // The same file, spelled `<dir>/../<dir name>/<name>`: still failing, so it holds that
    // one line.
    let dir = dead.parent().expect("dir");
    let other_spelling = dir
        .join("..")
        .join(dir.file_name().expect("dir name"))
        .join(dead.file_name().expect("name"));
    let out = run_async(send_failing(Some(&dead), &other_spelling)).await;
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let again = std::fs::read_to_string(&dead).expect("dead letters");
    assert_eq!(again.lines().count(), 1, "rewritten, not appended: {again}");
    let payload = |line: &str| -> Value {
        serde_json::from_str::<Value>(line).expect("json")["payload"].clone()
    };
    assert!(payload(first.trim_end()).is_object());
    assert_eq!(payload(again.trim_end()), payload(first.trim_end()));
    assert_eq!(failing.requests().len(), 2);
    // No temporary file is left next to it.
    let name = dead
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let leftovers: Vec<_> = std::fs::read_dir(dead.parent().expect("dir"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != &name && n.contains(&name))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_closed_standard_output_is_an_error_message_not_a_panic() {
    let file = common::vectors_dir().join("001.json");
    let run_closed = |cmd: &mut Command| -> Output {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader); // like `| head -c0`: every write gets EPIPE
        cmd.stdout(writer).output().expect("run soketi-lambda")
    };
    let sign = run_closed(bin().args([
        "sign",
        "--key",
        "k",
        "--secret",
        "s",
        r#"{"name":"cache_miss","channel":"c"}"#,
    ]));
    let verify = run_closed(
        bin()
            .args(["verify", "--secret", "app1secret", "--key", "app1key"])
            .arg(&file),
    );
    for (out, expected) in [(sign, 1), (verify, 0)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            stderr.contains("cannot write to standard output"),
            "{stderr}"
        );
        assert_eq!(code(&out), expected, "{stderr}");
    }
}

#[test]
fn the_secret_can_come_from_the_environment_and_help_does_not_show_it() {
    let file = common::vectors_dir().join("001.json");
    let event = r#"{"name":"cache_miss","channel":"c"}"#;
    let out = run(bin()
        .env("SOKETI_SECRET", "env-secret")
        .args(["sign", "--key", "k", event]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    Verifier::new(Keyring::new().app("k", "env-secret"))
        .verify_lambda_body(out.stdout.trim_ascii_end())
        .expect("signed with the secret from the environment");

    let verify = |secret: &str, extra: &[&str]| {
        code(&run(bin()
            .env("SOKETI_SECRET", secret)
            .arg("verify")
            .args(extra)
            .arg(&file)))
    };
    assert_eq!(verify("app1secret", &[]), 0);
    assert_eq!(
        verify("another-secret", &[]),
        1,
        "the environment's secret is used"
    );
    assert_eq!(
        verify("app1secret", &["--secret", "another-secret"]),
        1,
        "--secret wins over the environment"
    );
    let apps = tmp("env-apps.json");
    std::fs::write(
        &apps,
        r#"[{"id":"1","key":"app1key","secret":"app1secret"}]"#,
    )
    .expect("write");
    assert_eq!(
        verify(
            "another-secret",
            &["--apps", apps.to_str().expect("utf-8 path")]
        ),
        0,
        "--apps is used instead of SOKETI_SECRET"
    );

    for command in ["sign", "verify"] {
        let out = run(bin()
            .env("SOKETI_SECRET", "do-not-print-me")
            .args([command, "--help"]));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("SOKETI_SECRET"), "{command}: {help}");
        assert!(!help.contains("do-not-print-me"), "{command}: {help}");
    }
}

#[test]
fn exit_code_2_is_for_usage_and_configuration_errors_only() {
    let help = run(bin().arg("--help"));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Exit codes:"), "{text}");
    assert_eq!(
        code(&run(bin().args(["sign", "--key", "k"]))),
        2,
        "missing arguments"
    );

    // Standard input that cannot be read is a failure (1), not a usage error.
    let directory = std::fs::File::open(env!("CARGO_TARGET_TMPDIR")).expect("open a directory");
    let out = run(bin()
        .args(["sign", "--key", "k", "--secret", "s", "-"])
        .stdin(Stdio::from(directory)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(stderr.contains("cannot read standard input"), "{stderr}");

    // A dead-letter file that cannot be read is a usage error naming it.
    let out = run(bin()
        .arg("send")
        .arg("--replay")
        .arg("/nonexistent/soketi-lambda-dead.jsonl"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        stderr.contains("/nonexistent/soketi-lambda-dead.jsonl"),
        "{stderr}"
    );
}

/// A failing send of EVENT for `app`, its dead letter written to a new file: (file, line).
async fn one_dead_letter(app: &Path, endpoint: Option<&str>) -> (PathBuf, String) {
    let failing = FakeServer::start(|_, _| Reply::ServerError).await;
    let dead = tmp("one.jsonl");
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(app)
        .args(["--max-attempts", "1", EVENT])
        .arg("--dead-letter")
        .arg(&dead);
    if endpoint.is_none() {
        cmd.args(["--endpoint-url", &failing.url]);
    }
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&dead).expect("dead letters");
    assert_eq!(text.lines().count(), 1, "{text}");
    (dead, text.trim_end().to_owned())
}

#[tokio::test]
async fn a_dead_letter_line_that_cannot_be_read_is_skipped_reported_and_kept() {
    let app = app_file(None);
    let (dead, line) = one_dead_letter(&app, None).await;
    let garbage = r#"{"v":2,"app_id":"1","headers":[["Authorization","Bearer t0k3n-garbage"]],"#;
    std::fs::write(&dead, format!("{line}\n{garbage}\n{line}\n")).expect("write");

    let server = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(&app)
        .arg("--replay")
        .arg(&dead)
        .arg("--dead-letter")
        .arg(&dead)
        .args(["--endpoint-url", &server.url]);
    let out = run_async(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "a line was skipped: {stderr}");
    assert!(stderr.contains("skipped line 2: "), "{stderr}");
    assert!(!stderr.contains("t0k3n"), "{stderr}");
    let report = stdout_json(&out);
    assert_eq!(report["delivered"], 2, "the other lines are sent");
    assert_eq!(report["skipped"][0]["line"], 2);
    assert_eq!(report["ok"], false);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        std::fs::read_to_string(&dead).expect("dead letters"),
        format!("{garbage}\n"),
        "the unreadable line is kept, the letters sent are gone"
    );
}

#[tokio::test]
async fn resign_signs_again_with_the_current_secret_and_a_new_time() {
    let app = app_file(None);
    let (dead, _) = one_dead_letter(&app, None).await;
    let rotated = tmp("rotated.json");
    std::fs::write(
        &rotated,
        std::fs::read_to_string(&app)
            .expect("app")
            .replace("app1secret", "rotated-secret"),
    )
    .expect("write");
    let replay = |resign: bool, server: &FakeServer| {
        let mut cmd = bin();
        cmd.arg("send")
            .arg("--apps")
            .arg(&rotated)
            .arg("--replay")
            .arg(&dead)
            .args(["--endpoint-url", &server.url, "--time-ms", "1800000000000"]);
        if resign {
            cmd.arg("--resign");
        }
        cmd
    };
    let verify = |secret: &str, body: &[u8]| {
        Verifier::new(Keyring::new().app("app1key", secret))
            .verify_lambda_body(body)
            .map(|v| v.payload().time_ms())
    };

    let server = FakeServer::ok().await;
    let out = run_async(replay(false, &server)).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let kept = &server.requests()[0].body;
    assert!(verify("rotated-secret", kept).is_err(), "the old signature");
    assert!(verify("app1secret", kept).is_ok());

    let server = FakeServer::ok().await;
    let out = run_async(replay(true, &server)).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let resigned = &server.requests()[0].body;
    assert_eq!(
        verify("rotated-secret", resigned).ok(),
        Some(1_800_000_000_000)
    );
    assert_eq!(
        stdout_json(&out)["deliveries"][0]["time_ms"],
        1_800_000_000_000u64
    );

    let out = run(bin()
        .arg("send")
        .arg("--resign")
        .arg("--apps")
        .arg(&rotated)
        .arg(EVENT));
    assert_eq!(code(&out), 2, "--resign needs --replay");
}

#[tokio::test]
async fn replay_sends_no_configured_credential_to_an_endpoint_named_only_in_the_file() {
    let configured = FakeServer::start(|_, _| Reply::ServerError).await;
    let app = tmp("static-credentials.json");
    std::fs::write(
        &app,
        format!(
            r#"{{"id":"1","key":"app1key","secret":"app1secret","webhooks":[
                {{"lambda_function":"my-function","event_types":["channel_occupied"],
                  "lambda":{{"client_options":{{"region":"eu-west-1","endpoint":"{}",
                  "credentials":{{"accessKeyId":"AKIDSTATIC","secretAccessKey":"static-secret"}}}}}}}}]}}"#,
            configured.url
        ),
    )
    .expect("write app");
    let (dead, line) = one_dead_letter(&app, Some(&configured.url)).await;
    let elsewhere = FakeServer::ok().await;
    let edited = line.replace(&configured.url, &elsewhere.url);
    assert_ne!(edited, line);
    std::fs::write(&dead, format!("{edited}\n")).expect("write");
    let replay = |allow: bool| {
        let mut cmd = bin();
        cmd.arg("send")
            .arg("--apps")
            .arg(&app)
            .arg("--replay")
            .arg(&dead);
        if allow {
            cmd.arg("--unconfigured-targets");
        }
        cmd
    };

    let out = run_async(replay(false)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(
        stderr.contains("is not a webhook of the configuration")
            && stderr.contains("--unconfigured-targets"),
        "{stderr}"
    );
    assert!(elsewhere.requests().is_empty(), "nothing sent");

    let out = run_async(replay(true)).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let got = elsewhere.requests();
    assert_eq!(got.len(), 1);
    let auth = got[0].header("authorization").expect("signed");
    assert!(
        auth.contains("Credential=AKIDCLI/") && !auth.contains("AKIDSTATIC"),
        "the default credentials, not the configured ones: {auth}"
    );
}

#[test]
fn worker_configuration_errors_exit_2() {
    let empty = tmp("worker-no-apps.json");
    std::fs::write(&empty, "[]").expect("write");
    let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/soketi.fifo";
    let out = run(bin()
        .args(["worker", "--sqs-queue-url", queue, "--apps"])
        .arg(&empty));
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no app"));
    let bad = tmp("worker-bad-app.json");
    std::fs::write(
        &bad,
        r#"[{"id":"1","key":"k","secret":"s","previous_secrets":[""]}]"#,
    )
    .expect("write");
    let out = run(bin()
        .args(["worker", "--sqs-queue-url", queue, "--apps"])
        .arg(&bad));
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[0].previous_secrets[0]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The queue endpoint fails every receive (500): the worker keeps retrying, says so in its
/// progress line, and stops cleanly (exit 0) on SIGTERM.
#[tokio::test]
async fn the_worker_retries_a_failing_queue_and_stops_on_sigterm() {
    let sqs = FakeServer::start(|_, _| Reply::ServerError).await;
    let apps = app_file(None);
    let mut cmd = bin();
    cmd.args(["worker", "--sqs-queue-url"])
        .arg(format!("{}/123456789012/soketi.fifo", sqs.url))
        .arg("--sqs-endpoint-url")
        .arg(&sqs.url)
        .arg("--apps")
        .arg(&apps)
        .args(["--concurrency", "1", "--progress-seconds", "1"])
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn worker");
    let pid = child.id().to_string();
    // Wait (bounded) until a receive has failed through the SDK's own 3 attempts and the
    // worker has polled again, then ask it to stop.
    for _ in 0..400 {
        if sqs.requests().len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(sqs.requests().len() >= 4, "the worker did not poll again");
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(stderr.contains("worker: stopping"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("worker: 0 jobs"), "{stderr}");
    assert!(!last.contains(" 0 receive errors"), "{stderr}");
}

#[test]
fn a_missing_secret_says_how_to_give_one() {
    let out = run(bin().args(["sign", "--key", "k", EVENT]));
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--secret") && stderr.contains("SOKETI_SECRET"),
        "{stderr}"
    );

    let file = tmp("body.json");
    std::fs::write(&file, r#"{"payload":{},"headers":{}}"#).expect("write");
    let out = run(bin().arg("verify").arg(&file));
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for way in ["--secret", "SOKETI_SECRET", "--apps", "--app-secrets"] {
        assert!(
            stderr.contains(way),
            "verify's message lacks {way}: {stderr}"
        );
    }
}

#[test]
fn an_event_given_as_bare_text_is_explained_not_taken_for_a_missing_file() {
    let out = run(bin().args(["sign", "--key", "k", "--secret", "s", "channel_occupied"]));
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`channel_occupied` is neither an event")
            && stderr.contains(r#"{"name":"channel_occupied","channel":"my-channel"}"#),
        "{stderr}"
    );
    assert!(!stderr.contains("No such file"), "{stderr}");
}

#[test]
fn an_unknown_event_name_is_refused_unless_allowed() {
    let typo = r#"{"name":"member_joined","channel":"presence-a","user_id":"u"}"#;
    let out = run(bin().args(["sign", "--key", "k", "--secret", "s", typo]));
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty(), "nothing is signed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown event name `member_joined`")
            && stderr.contains("member_added")
            && stderr.contains("--allow-unknown"),
        "{stderr}"
    );
    // send refuses it before building anything (no AWS call is attempted)
    let out = run(bin()
        .arg("send")
        .arg("--apps")
        .arg(app_file(None))
        .arg(typo));
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-unknown"));

    let out = run(bin().args([
        "sign",
        "--key",
        "k",
        "--secret",
        "s",
        "--allow-unknown",
        typo,
    ]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let body = stdout_json(&out);
    assert_eq!(body["payload"]["events"][0]["name"], "member_joined");
    Verifier::new(Keyring::new().app("k", "s"))
        .verify_lambda_body(&out.stdout)
        .expect("the signed body verifies");
}

#[tokio::test]
async fn events_no_webhook_wants_are_a_warning_and_exit_code_3() {
    let server = FakeServer::ok().await;
    let mut cmd = bin();
    cmd.arg("send")
        .arg("--apps")
        .arg(app_file(Some(&server.url)))
        .args([
            EVENT,
            r#"{"name":"cache_miss","channel":"cache-x"}"#,
            r#"{"name":"channel_vacated","channel":"private-x"}"#,
        ]);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: 2 event(s) matched no webhook")
            && stderr.contains("cache_miss, channel_vacated")
            && stderr.contains("event_types"),
        "{stderr}"
    );
    let report = stdout_json(&out);
    assert_eq!(
        (report["delivered"].clone(), report["unrouted"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(server.request_count(), 1, "the routed event was still sent");
}

#[test]
fn numbers_out_of_range_are_refused_by_name() {
    for (flag, value) in [("--max-attempts", "0"), ("--timeout-ms", "0")] {
        let out = run(bin()
            .arg("send")
            .arg("--apps")
            .arg(app_file(None))
            .args([flag, value, EVENT]));
        assert_eq!(code(&out), 2, "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}

#[test]
fn help_is_wrapped_gives_examples_and_states_the_exit_codes_once() {
    let top = String::from_utf8_lossy(&run(bin().arg("--help")).stdout).into_owned();
    assert!(
        top.contains("Exit codes:") && top.contains("3  send:"),
        "{top}"
    );
    for command in ["sign", "send", "verify", "worker"] {
        let out = run(bin().args([command, "--help"]));
        assert_eq!(code(&out), 0, "{command}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Examples:"),
            "{command} --help has no examples"
        );
        assert!(
            !help.contains("usage or configuration error: bad arguments"),
            "{command} --help repeats the whole exit-code block"
        );
        for line in help.lines() {
            // Not a terminal: clap wraps at 100 columns; example lines are written shorter.
            assert!(
                line.chars().count() <= 100,
                "{command} --help has a line of {} characters: {line}",
                line.chars().count()
            );
        }
    }
    let send = String::from_utf8_lossy(&run(bin().args(["send", "--help"])).stdout).into_owned();
    assert!(send.contains(r#"{"name":"member_added","channel":"presence-C","user_id":"U"}"#));
}

/// A queue no receive reaches gives up after `--max-receive-failures` tries in a row: exit 1,
/// the queue named, never an endless retry.
#[tokio::test]
async fn the_worker_gives_up_on_a_queue_it_cannot_read() {
    let sqs = FakeServer::start(|_, _| Reply::ServerError).await;
    let apps = app_file(None);
    let queue = format!("{}/123456789012/soketi.fifo", sqs.url);
    let mut cmd = worker_on(&sqs.url, &apps);
    cmd.args(["--concurrency", "1", "--max-receive-failures", "2"]);
    let out = run_async(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(stderr.contains("2 receives in a row failed"), "{stderr}");
    assert!(stderr.contains(&queue), "{stderr}");
}

#[test]
fn worker_numbers_out_of_range_are_usage_errors_not_clamped() {
    let apps = app_file(None);
    let queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/soketi.fifo";
    let out = run(bin()
        .args(["worker", "--sqs-queue-url", queue, "--apps"])
        .arg(&apps)
        .args([
            "--apps-secret-arn",
            "arn:aws:secretsmanager:eu-west-1:1:secret:apps",
        ]));
    assert_eq!(code(&out), 2, "one place for the apps");
    let out = run(bin().args(["worker", "--sqs-queue-url", queue]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(stderr.contains("--apps"), "{stderr}");
    for (flag, value) in [
        ("--batch-size", "11"),
        ("--batch-size", "0"),
        ("--wait-seconds", "21"),
        ("--max-receive-failures", "0"),
    ] {
        let out = run(bin()
            .args(["worker", "--sqs-queue-url", queue, "--apps"])
            .arg(&apps)
            .args([flag, value]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("not in"),
            "{stderr}"
        );
    }
}

/// `--drain`: a queue that answers with no message ends the worker at once, status 0, with its
/// totals; a local queue URL needs no --sqs-endpoint-url.
#[tokio::test]
async fn the_worker_drains_an_empty_queue_and_exits() {
    let sqs = FakeServer::ok().await;
    let apps = app_file(None);
    let queue = format!("{}/123456789012/soketi.fifo", sqs.url);
    let mut cmd = worker_on(&sqs.url, &apps);
    cmd.args(["--concurrency", "2", "--drain"]);
    let out = run_async(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("worker: 0 jobs done"),
        "{stderr}"
    );
    assert_eq!(sqs.requests().len(), 2, "one receive per poller");
    // Without --sqs-endpoint-url, a local queue URL is reached where it says.
    let mut cmd = bin();
    cmd.args(["worker", "--sqs-queue-url", &queue, "--region", "us-east-1"])
        .arg("--apps")
        .arg(&apps)
        .args(["--concurrency", "1", "--drain"]);
    let out = run_async(cmd).await;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sqs.requests().len(), 3);
}

/// The worker with standard output and standard error both closed pipes: its own lines
/// (progress, metrics, the error report) are lost, never a panic (101); here without
/// credentials it fails with its own exit code, 1. (Logs are off: the log subscriber's own
/// report of a failed write is a separate matter, for the logging set-up.)
#[tokio::test]
async fn the_worker_does_not_panic_on_closed_output() {
    let sqs = FakeServer::ok().await;
    let apps = app_file(None);
    let queue = format!("{}/123456789012/soketi.fifo", sqs.url);
    let out = tokio::task::spawn_blocking(move || {
        let (out_reader, out_writer) = std::io::pipe().expect("pipe");
        let (err_reader, err_writer) = std::io::pipe().expect("pipe");
        drop((out_reader, err_reader));
        bin()
            .args(["worker", "--sqs-queue-url", &queue, "--region", "us-east-1"])
            .arg("--apps")
            .arg(&apps)
            .args([
                "--concurrency",
                "1",
                "--drain",
                "--metrics",
                "--progress-seconds",
                "1",
            ])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("RUST_LOG", "off")
            .stdout(out_writer)
            .stderr(err_writer)
            .status()
            .expect("run soketi-lambda")
    })
    .await
    .expect("join");
    assert_eq!(out.code(), Some(1), "not 101, a panic");
}

/// `soketi-lambda worker` on the loopback queue server at `sqs_url`, with the apps of `apps`.
/// Its queue URL is `{sqs_url}/123456789012/soketi.fifo`.
fn worker_on(sqs_url: &str, apps: &Path) -> Command {
    let mut cmd = bin();
    cmd.args(["worker", "--sqs-queue-url"])
        .arg(format!("{sqs_url}/123456789012/soketi.fifo"))
        .args(["--sqs-endpoint-url", sqs_url, "--apps"])
        .arg(apps);
    cmd
}
