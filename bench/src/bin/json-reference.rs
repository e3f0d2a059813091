//! What reading the invocation body alone costs, in the kit and in the fastest general Rust JSON
//! readers, against the floor of the receive path.
//!
//! The receive path aims at no more than 2× the floor: HMAC-SHA256 of the payload bytes with the
//! key prepared, the work no receiver avoids. Before any of that, the body has to be read as
//! JSON. This times, per invocation, on the receive-path bodies a, b and c:
//!
//! - `floor`: `Secret::sign` of the payload bytes (the payload span found once, beforehand);
//! - `kit reader`: `Envelope::parse`, the kit's reader (the whole body checked as JSON and UTF-8,
//!   the payload's span recorded, nothing decoded);
//! - `sonic-rs Value`: `sonic_rs::from_slice::<sonic_rs::Value>`, the fastest SIMD JSON reader
//!   for Rust, building its document tree (and dropping it);
//! - `serde_json Value`: `serde_json::from_slice::<serde_json::Value>`, the common choice.
//!
//! Each reader runs in rounds of about 75 ms, the four interleaved, nine rounds each; the table
//! gives the median round's time per invocation and its ratio to the floor.
//!
//! ```text
//! cargo run --release -p soketi-handler-kit --example bench_envelopes -- target/bench/envelopes
//! cargo run --profile bench -p soketi-bench --features json-reference --bin json-reference -- target/bench/envelopes
//! ```
//!
//! `scripts/bench` runs it after criterion and prints its table last. The `bench` profile builds
//! this program, and sonic-rs, at opt-level 3 (the workspace's Cargo.toml), as the kit's own
//! criterion benches are built; at the release profile's "z" (this package's bootstraps) fat LTO
//! would optimize every reader for size.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use soketi_handler_kit::wire::{Envelope, Secret};

/// The bodies `bench_envelopes` writes, in the order of scripts/bench's tables.
const BODIES: [&str; 3] = ["a", "b", "c"];
/// Rounds per reader and body: the table gives the median.
const ROUNDS: usize = 9;
/// The target length of one round.
const ROUND_TIME: Duration = Duration::from_millis(75);
/// How long a calibration batch must last before its time per iteration is trusted.
const CALIBRATION_TIME: Duration = Duration::from_millis(10);
/// The secret of soketi's default app, which signed the bodies.
const SECRET: &str = "app1secret";

/// The four things timed, in the table's order.
#[derive(Clone, Copy)]
enum Reader {
    Floor,
    Kit,
    Sonic,
    SerdeJson,
}

impl Reader {
    const ALL: [Reader; 4] = [Reader::Floor, Reader::Kit, Reader::Sonic, Reader::SerdeJson];

    fn name(self) -> &'static str {
        match self {
            Reader::Floor => "floor",
            Reader::Kit => "kit reader",
            Reader::Sonic => "sonic-rs Value",
            Reader::SerdeJson => "serde_json Value",
        }
    }
}

/// One body, read once to check that every reader accepts it.
struct Case<'a> {
    body: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Case<'a> {
    fn new(body: &'a [u8]) -> Result<Self, String> {
        let envelope =
            Envelope::parse(body).map_err(|e| format!("the kit's reader rejects it: {e}"))?;
        sonic_rs::from_slice::<sonic_rs::Value>(body)
            .map_err(|e| format!("sonic-rs rejects it: {e}"))?;
        serde_json::from_slice::<serde_json::Value>(body)
            .map_err(|e| format!("serde_json rejects it: {e}"))?;
        Ok(Case {
            body,
            payload: envelope.payload_json().as_bytes(),
        })
    }

    /// Nanoseconds per iteration over `iterations` runs of `reader`.
    fn time(&self, reader: Reader, secret: &Secret, iterations: u64) -> f64 {
        match reader {
            Reader::Floor => per_iteration(iterations, || secret.sign(black_box(self.payload))),
            Reader::Kit => per_iteration(iterations, || {
                Envelope::parse(black_box(self.body)).map(|envelope| envelope.payload_json().len())
            }),
            Reader::Sonic => per_iteration(iterations, || {
                sonic_rs::from_slice::<sonic_rs::Value>(black_box(self.body))
            }),
            Reader::SerdeJson => per_iteration(iterations, || {
                serde_json::from_slice::<serde_json::Value>(black_box(self.body))
            }),
        }
    }

    /// Iterations for a round of about [`ROUND_TIME`]: batches doubled until one lasts
    /// [`CALIBRATION_TIME`] (which warms the reader up too).
    fn calibrate(&self, reader: Reader, secret: &Secret) -> u64 {
        let mut iterations = 1u64;
        loop {
            let ns = self.time(reader, secret, iterations);
            let batch = ns * iterations as f64;
            if batch >= CALIBRATION_TIME.as_nanos() as f64 {
                return ((ROUND_TIME.as_nanos() as f64 / ns).ceil() as u64).max(1);
            }
            iterations = iterations.saturating_mul(2);
        }
    }

    /// The median over [`ROUNDS`] rounds of each reader's time per iteration, the readers'
    /// rounds interleaved (a machine that slows down for a while slows all four alike).
    fn measure(&self, secret: &Secret) -> [f64; 4] {
        let iterations = Reader::ALL.map(|reader| self.calibrate(reader, secret));
        let mut rounds: [Vec<f64>; 4] = Default::default();
        for _ in 0..ROUNDS {
            for ((times, reader), &iterations) in
                rounds.iter_mut().zip(Reader::ALL).zip(&iterations)
            {
                times.push(self.time(reader, secret, iterations));
            }
        }
        rounds.map(|mut times| {
            times.sort_by(f64::total_cmp);
            times[ROUNDS / 2]
        })
    }
}

fn per_iteration<R>(iterations: u64, mut run: impl FnMut() -> R) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(run());
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

/// As scripts/bench's tables write times.
fn format_ns(ns: f64) -> String {
    if ns < 1e4 {
        format!("{ns:.0} ns")
    } else if ns < 1e7 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

/// `1048576` as `1,048,576`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn read_bodies(dir: &Path) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    BODIES
        .into_iter()
        .map(|case| {
            let path = dir.join(format!("{case}.json"));
            std::fs::read(&path).map(|body| (case, body)).map_err(|e| {
                format!(
                    "cannot read {}: {e}; write the bodies first (scripts/bench, or `cargo run \
                     --release -p soketi-handler-kit --example bench_envelopes -- {}`)",
                    path.display(),
                    dir.display()
                )
            })
        })
        .collect()
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: json-reference DIR (the folder of a.json, b.json, c.json)");
        return ExitCode::from(2);
    };
    let bodies = match read_bodies(&PathBuf::from(dir)) {
        Ok(bodies) => bodies,
        Err(message) => {
            eprintln!("json-reference: {message}");
            return ExitCode::from(2);
        }
    };
    let secret = Secret::new(SECRET);

    let names = Reader::ALL.map(Reader::name);
    println!("| body | {} |", names.join(" | "));
    println!("|---|{}", "---:|".repeat(names.len()));
    for (case, body) in &bodies {
        let times = match Case::new(body) {
            Ok(case) => case.measure(&secret),
            Err(message) => {
                eprintln!("json-reference: {case}.json: {message}");
                return ExitCode::FAILURE;
            }
        };
        let floor = times[0];
        let cells: Vec<String> = times
            .iter()
            .map(|&ns| format!("{} ({:.1}×)", format_ns(ns), ns / floor))
            .collect();
        println!(
            "| {case} ({} B) | {} |",
            thousands(body.len()),
            cells.join(" | ")
        );
    }
    println!("(median of {ROUNDS} rounds, per invocation; sonic-rs as Cargo.lock pins it)");
    ExitCode::SUCCESS
}
