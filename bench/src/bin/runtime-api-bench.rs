//! The whole invocation of a Lambda bootstrap, timed through a Lambda Runtime API on loopback.
//!
//! Each run starts the bootstrap as Lambda would (`AWS_LAMBDA_RUNTIME_API` pointing here), hands
//! it the same event `--invocations` times, one after the other, and stops it. It measures:
//!
//! - **cold start**: from spawning the process to receiving its first response;
//! - **per invocation**: from receiving one response to receiving the next, i.e. the whole loop
//!   of the function's runtime (acknowledged response, `GET …/invocation/next`, the handler, the
//!   response `POST`), for every invocation but the first;
//! - **CPU per invocation**: the CPU time the process's threads used (`/proc/PID/task/*/schedstat`)
//!   from its first response to its last, divided by the invocations in between: what the
//!   function itself costs per warm invocation, which the per-invocation wall time (two processes
//!   waking each other on a shared machine) blurs by tens of microseconds;
//! - **peak RSS**: the process's `VmHWM` after its last response.
//!
//! It prints one JSON object: medians over the runs for the cold start, CPU per invocation and
//! peak RSS, the median and 99th percentile of all per-invocation times. A response the function reports as an error
//! (`…/error`) fails the benchmark, with the error. The function's own environment (secret, log
//! level) is the caller's.
//!
//! ```text
//! runtime-api-bench --bootstrap PATH --event FILE [--invocations 300] [--runs 5]
//! ```
//!
//! The server runs on a current-thread runtime with one connection per run; against the bare
//! `lambda_runtime` function (`bare-function`) it is the floor that every function shares.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

const API: &str = "/2018-06-01/runtime";
/// How long one response may take before the run is declared stuck.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(
    about = "Time a Lambda bootstrap's cold start, invocations and memory through a loopback Runtime API"
)]
struct Args {
    /// The function's executable.
    #[arg(long)]
    bootstrap: PathBuf,
    /// The invocation event (its bytes are handed to the function as they are).
    #[arg(long)]
    event: PathBuf,
    /// Invocations per run (the first is the cold one).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(2..))]
    invocations: u32,
    /// Runs, each a fresh process.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
}

/// What the function posted back for one invocation.
struct Answer {
    at: Instant,
    request_id: String,
    error: bool,
    body: Bytes,
}

/// The state one run's server shares between its connections.
struct Api {
    /// Events to hand out, each with its request id; `GET …/next` waits for the next one.
    next: Mutex<mpsc::Receiver<(String, Bytes)>>,
    answers: mpsc::UnboundedSender<Answer>,
}

/// One run's figures.
struct Run {
    cold_start: Duration,
    cycles: Vec<Duration>,
    /// CPU time per warm invocation (zero when /proc could not be read).
    cpu_per_invocation: Duration,
    peak_rss: u64,
    last_answer: Bytes,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let event = match std::fs::read(&args.event) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            eprintln!(
                "runtime-api-bench: cannot read {}: {e}",
                args.event.display()
            );
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("runtime-api-bench: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(&args, event)) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("runtime-api-bench: {}: {message}", args.bootstrap.display());
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: &Args, event: Bytes) -> Result<serde_json::Value, String> {
    let mut runs = Vec::new();
    for _ in 0..args.runs {
        runs.push(one_run(args, event.clone()).await?);
    }
    let mut cold: Vec<Duration> = runs.iter().map(|r| r.cold_start).collect();
    let mut rss: Vec<u64> = runs.iter().map(|r| r.peak_rss).collect();
    let mut cpu: Vec<Duration> = runs.iter().map(|r| r.cpu_per_invocation).collect();
    let mut cycles: Vec<Duration> = runs.iter().flat_map(|r| r.cycles.iter().copied()).collect();
    cold.sort();
    rss.sort();
    cpu.sort();
    cycles.sort();
    let last: serde_json::Value = runs
        .last()
        .and_then(|r| serde_json::from_slice(&r.last_answer).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok(serde_json::json!({
        "cold_start_ms": round(cold[cold.len() / 2].as_secs_f64() * 1e3, 2),
        "invocation_median_us": round(percentile(&cycles, 50).as_secs_f64() * 1e6, 1),
        "invocation_p99_us": round(percentile(&cycles, 99).as_secs_f64() * 1e6, 1),
        "cpu_per_invocation_us": round(cpu[cpu.len() / 2].as_secs_f64() * 1e6, 2),
        "peak_rss_mb": round(rss[rss.len() / 2] as f64 / 1e6, 2),
        "runs": args.runs,
        "invocations_per_run": args.invocations,
        "event_bytes": event.len(),
        "last_answer": last,
    }))
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) * p).div_ceil(100)]
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

async fn one_run(args: &Args, event: Bytes) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?
        .port();
    let (events, next) = mpsc::channel(1);
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let api = Arc::new(Api {
        next: Mutex::new(next),
        answers: answers_tx,
    });
    // The connection tasks live in the server task's JoinSet: aborting it ends them all.
    let server = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let api = Arc::clone(&api);
            connections.spawn(http1::Builder::new().serve_connection(
                TokioIo::new(stream),
                service_fn(move |request| serve(Arc::clone(&api), request)),
            ));
        }
    });

    let spawned = Instant::now();
    let mut child = tokio::process::Command::new(&args.bootstrap)
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let pid = child.id().unwrap_or(0);

    let result = async {
        let mut cold_start = Duration::ZERO;
        let mut previous = spawned;
        let mut cycles = Vec::with_capacity(args.invocations as usize);
        let mut last_answer = Bytes::new();
        let mut cpu_after_first = Duration::ZERO;
        for i in 0..args.invocations {
            let request_id = format!("bench-{i}");
            events
                .send((request_id.clone(), event.clone()))
                .await
                .map_err(|_| "the server stopped".to_owned())?;
            let answer = match tokio::time::timeout(ANSWER_TIMEOUT, answers.recv()).await {
                Ok(Some(answer)) => answer,
                Ok(None) => return Err("the server stopped".to_owned()),
                Err(_) => {
                    return Err(format!(
                        "no answer to invocation {i} within {} s",
                        ANSWER_TIMEOUT.as_secs()
                    ));
                }
            };
            if answer.error || answer.request_id != request_id {
                return Err(format!(
                    "invocation {i} ({}) failed: {}",
                    answer.request_id,
                    String::from_utf8_lossy(&answer.body)
                ));
            }
            if i == 0 {
                cold_start = answer.at - spawned;
                cpu_after_first = cpu_time(pid);
            } else {
                cycles.push(answer.at - previous);
            }
            previous = answer.at;
            last_answer = answer.body;
        }
        let warm = args.invocations.saturating_sub(1);
        let cpu_per_invocation = match cpu_time(pid).checked_sub(cpu_after_first) {
            Some(used) if warm > 0 && !cpu_after_first.is_zero() => used / warm,
            _ => Duration::ZERO,
        };
        Ok(Run {
            cold_start,
            cycles,
            cpu_per_invocation,
            peak_rss: peak_rss(pid),
            last_answer,
        })
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    result
}

/// The CPU time all the process's threads have used so far (the first field of each thread's
/// `schedstat`, in nanoseconds); zero if it cannot be read.
fn cpu_time(pid: u32) -> Duration {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = threads
        .filter_map(Result::ok)
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// The process's peak resident memory in bytes (`VmHWM`), 0 if it cannot be read.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

async fn serve(
    api: Arc<Api>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if method == Method::GET && path == format!("{API}/invocation/next") {
        let Some((request_id, event)) = api.next.lock().await.recv().await else {
            return Ok(status(StatusCode::GONE));
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            + 60_000;
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", request_id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            .body(Full::new(event));
        return Ok(response.unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)));
    }
    if method == Method::POST {
        let rest = path.strip_prefix(API).unwrap_or("");
        let answer = if let Some(id) = rest
            .strip_prefix("/invocation/")
            .and_then(|r| r.strip_suffix("/response"))
        {
            Some((id.to_owned(), false))
        } else if let Some(id) = rest
            .strip_prefix("/invocation/")
            .and_then(|r| r.strip_suffix("/error"))
        {
            Some((id.to_owned(), true))
        } else if rest == "/init/error" {
            Some(("init".to_owned(), true))
        } else {
            None
        };
        if let Some((request_id, error)) = answer {
            let body = request.into_body().collect().await?.to_bytes();
            let _ = api.answers.send(Answer {
                at: Instant::now(),
                request_id,
                error,
                body,
            });
            return Ok(status(StatusCode::ACCEPTED));
        }
    }
    Ok(status(StatusCode::NOT_FOUND))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
