//! No secret ever appears in what the sender prints or stores: every log line at TRACE while
//! sending (delivered, failed, dead-lettered, replayed), the `Debug` and `Display` of every
//! value that holds or meets a secret, the dead-letter lines, and the CLI's standard output
//! and error on the same paths.
//!
//! The secrets: an app secret, an AWS secret access key and session token, a password in a
//! webhook URL, and the values of `Authorization`, `X-Api-Key` and `Cookie` headers.

#[path = "common/cli.rs"]
mod cli_support;
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cli_support::{bin, run_async, tmp};
use common::{FakeServer, Reply};
use soketi_handler_kit::wire::Event;
use soketi_lambda_sender::config::{App, parse_apps_file};
use soketi_lambda_sender::deliver::{
    DeadLetter, DeadLetterSink, Replay, RetryPolicy, parse_dead_letters, read_dead_letters,
};
use soketi_lambda_sender::{RegionFallback, Sender};

const APP_SECRET: &str = "app-s3cr3t-marker";
const AWS_SECRET: &str = "aws-s3cr3t-marker";
const SESSION_TOKEN: &str = "session-t0ken-marker";
const URL_PASSWORD: &str = "url-passw0rd-marker";
const AUTHORIZATION: &str = "Bearer auth-t0ken-marker";
const API_KEY: &str = "api-k3y-marker";
const COOKIE: &str = "sid=c00kie-marker";

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        APP_SECRET,
        AWS_SECRET,
        SESSION_TOKEN,
        URL_PASSWORD,
        AUTHORIZATION,
        "auth-t0ken-marker",
        API_KEY,
        COOKIE,
        "c00kie-marker",
    ] {
        assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The app file: an HTTP webhook with a password in its URL and credential headers, and a
/// Lambda webhook with static credentials and a session token, both at `url`.
fn apps_json(url: &str) -> String {
    let with_password = url.replacen("http://", &format!("http://hook:{URL_PASSWORD}@"), 1);
    format!(
        r#"{{"id":"1","key":"app1key","secret":"{APP_SECRET}","webhooks":[
            {{"url":"{with_password}/in","event_types":["channel_occupied"],
              "headers":{{"Authorization":"{AUTHORIZATION}","X-Api-Key":"{API_KEY}","Cookie":"{COOKIE}","X-Env":"prod"}}}},
            {{"lambda_function":"f","event_types":["channel_occupied"],
              "headers":{{"Authorization":"{AUTHORIZATION}"}},
              "lambda":{{"client_options":{{"region":"eu-west-1","endpoint":"{url}",
                "credentials":{{"accessKeyId":"AKIDSTATIC","secretAccessKey":"{AWS_SECRET}","sessionToken":"{SESSION_TOKEN}"}}}}}}}}]}}"#
    )
}

async fn sender(apps: Vec<App>) -> Sender {
    Sender::builder()
        .apps(apps)
        .region_fallback(RegionFallback::None)
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(2)
                .attempt_timeout(std::time::Duration::from_secs(5)),
        )
        .build()
        .await
        .expect("sender")
}

#[tokio::test]
async fn logs_debug_output_and_dead_letters_never_show_a_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut outputs: Vec<(&str, String)> = Vec::new();

    let ok = FakeServer::ok().await;
    let failing = FakeServer::start(|_, _| Reply::ServerError).await;
    let dropping = FakeServer::start(|_, _| Reply::Drop).await;
    let dead_dir = tmp("leaks");
    std::fs::create_dir_all(&dead_dir).expect("dir");
    let dead = dead_dir.join("dead.jsonl");
    let events = vec![Event::channel_occupied("private-a")];
    for server in [&ok, &failing, &dropping] {
        let apps = parse_apps_file(&apps_json(&server.url)).expect("apps");
        outputs.push(("apps", format!("{apps:?}")));
        let sender = sender(apps).await;
        outputs.push(("sender", format!("{sender:?}")));
        let plan = sender.plan("1", 1, &events).expect("plan");
        outputs.push(("plan", format!("{plan:?}")));
        let report = sender.send("1", events.clone()).await.expect("app");
        outputs.push(("report", format!("{report:?}")));
        for delivery in &report.deliveries {
            outputs.push(("target", delivery.request.target.describe()));
            if let Some(failure) = delivery.failure() {
                outputs.push(("failure", format!("{failure} {failure:?}")));
            }
            if let Some(letter) = DeadLetter::from_report(delivery) {
                outputs.push(("dead letter", format!("{letter:?}")));
                outputs.push(("dead-letter line", letter.to_json_line()));
            }
        }
        DeadLetterSink::append(&dead)
            .expect("open")
            .store(&report)
            .expect("store");
    }
    assert!(ok.requests().len() >= 2, "delivered");
    assert!(!failing.requests().is_empty() && !dropping.requests().is_empty());

    // Replay: the file, its letters, the requests rebuilt (which do hold the secrets: they are
    // sent), their Debug, errors of letters that cannot be sent.
    let file = read_dead_letters(&dead).expect("read");
    assert_eq!(file.letters.len(), 4, "{:?}", file.skipped);
    outputs.push((
        "dead-letter file",
        std::fs::read_to_string(&dead).expect("file"),
    ));
    outputs.push(("dead-letter file debug", format!("{file:?}")));
    let apps = parse_apps_file(&apps_json(&ok.url)).expect("apps");
    let replayer = sender(apps.clone()).await;
    for (_, letter) in &file.letters {
        for replay in [Replay::new(), Replay::new().resign_at(2)] {
            match letter.to_request(&apps, &replay) {
                Ok(request) => {
                    outputs.push(("replayed request", format!("{request:?}")));
                    let report = replayer.deliver(request).await;
                    outputs.push(("replay report", format!("{report:?}")));
                }
                Err(error) => outputs.push(("replay error", format!("{error} {error:?}"))),
            }
        }
        let error = letter
            .to_request(&[], &Replay::new().unconfigured_targets(true))
            .map(|r| format!("{r:?}"))
            .unwrap_or_else(|e| format!("{e} {e:?}"));
        outputs.push(("unconfigured replay", error));
    }
    let edited = std::fs::read_to_string(&dead)
        .expect("file")
        .replace(r#""webhook":0"#, &format!(r#""webhook":"{AUTHORIZATION}""#));
    let skipped = parse_dead_letters(edited);
    assert!(!skipped.skipped.is_empty());
    for error in &skipped.skipped {
        outputs.push(("skipped line", format!("{error} {error:?}")));
    }

    // Configuration errors about a URL with a password.
    for bad in [
        format!("ftp://u:{URL_PASSWORD}@h/"),
        format!("http://u:{URL_PASSWORD}@[::1/"),
    ] {
        let error = App::from_json(&format!(
            r#"{{"id":"1","key":"k","secret":"{APP_SECRET}","webhooks":[{{"url":"{bad}","event_types":["cache_miss"]}}]}}"#
        ))
        .expect_err("bad URL");
        outputs.push(("config error", format!("{error} {error:?}")));
    }

    for (what, text) in &outputs {
        assert_no_secret(what, text);
    }
    let logs = String::from_utf8(captured.0.lock().expect("log").clone()).expect("UTF-8 logs");
    assert!(
        logs.contains("webhook delivery failed"),
        "the failures were logged: {logs}"
    );
    assert!(logs.contains("TRACE"), "TRACE is captured");
    assert_no_secret("the log", &logs);
    let _ = std::fs::remove_dir_all(dead_dir);
}

#[tokio::test]
async fn the_cli_shows_no_secret_when_sending_failing_and_replaying() {
    // One server, failing while `fail` is set: the letters go back to the webhook they name.
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failing = fail.clone();
    let server = FakeServer::start(move |_, _| {
        if failing.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::ServerError
        } else {
            Reply::Ok
        }
    })
    .await;
    let set_failing = |on: bool| fail.store(on, std::sync::atomic::Ordering::SeqCst);
    let dead = tmp("cli-leaks.jsonl");
    let command = |args: Vec<String>| {
        let app = tmp("cli-leaks-app.json");
        std::fs::write(&app, apps_json(&server.url)).expect("app");
        let mut cmd = bin();
        cmd.env("RUST_LOG", "trace")
            .arg("send")
            .arg("--apps")
            .arg(&app)
            .args(["--max-attempts", "2"])
            .arg("--dead-letter")
            .arg(&dead)
            .args(args);
        cmd
    };
    let event = r#"{"name":"channel_occupied","channel":"private-a"}"#.to_owned();
    let mut texts = vec![("send", run_async(command(vec![event.clone()])).await)];
    set_failing(true);
    texts.push((
        "failing send",
        run_async(command(vec![event.clone()])).await,
    ));
    assert_eq!(
        read_dead_letters(&dead).expect("read").letters.len(),
        2,
        "both webhooks failed"
    );
    let replay = |resign: bool| {
        let mut args = vec!["--replay".to_owned(), dead.display().to_string()];
        if resign {
            args.push("--resign".to_owned());
        }
        args
    };
    texts.push(("replay failing", run_async(command(replay(false))).await));
    texts.push(("resign failing", run_async(command(replay(true))).await));
    set_failing(false);
    texts.push(("replay", run_async(command(replay(false))).await));
    for (name, out) in &texts {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains("\"deliveries\""),
            "{name}: {stdout} {stderr}"
        );
        assert_no_secret(name, &stdout);
        assert_no_secret(name, &stderr);
    }
    let trace = String::from_utf8_lossy(&texts[1].1.stderr);
    assert!(trace.contains("TRACE"), "logs at TRACE: {trace}");
    let (_, last) = texts.last().expect("replay");
    assert_eq!(
        last.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&last.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(&dead).expect("dead letters"),
        "",
        "all replayed"
    );
}
