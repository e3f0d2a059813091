//! Runs one receive path over one benchmark body in a loop, for profilers (`perf record`,
//! `valgrind --tool=callgrind`), which want a plain program rather than a harness.
//!
//! `cargo run --release -p soketi-handler-kit --example receive_loop -- PATH CASE ITERATIONS`
//! with PATH one of `floor`, `scan` (read the envelope only), `verify`, `handle` and CASE one of `a`, `b`, `c`.

use std::hint::black_box;
use std::process::ExitCode;

use soketi_handler_kit::wire::{Envelope, Secret};

#[path = "../benches/support/envelopes.rs"]
mod envelopes;
#[path = "../benches/support/router.rs"]
mod router;

use router::run_ready;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, case, iterations] = args.as_slice() else {
        eprintln!("usage: receive_loop floor|scan|verify|handle a|b|c ITERATIONS");
        return ExitCode::from(2);
    };
    let Some((_, body)) = envelopes::all().into_iter().find(|(name, _)| name == case) else {
        eprintln!("unknown case `{case}`: use a, b or c");
        return ExitCode::from(2);
    };
    let Ok(iterations) = iterations.parse::<u64>() else {
        eprintln!("ITERATIONS must be a whole number");
        return ExitCode::from(2);
    };
    let secret = Secret::new(envelopes::APP_SECRET);
    let verifier = router::verifier();
    let webhooks = router::webhooks();
    let payload = match Envelope::parse(&body) {
        Ok(envelope) => envelope.payload_json().as_bytes().to_vec(),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ok = 0u64;
    for _ in 0..iterations {
        ok += match path.as_str() {
            "floor" => u64::from(black_box(secret.sign(black_box(&payload))).as_bytes()[0] < 255),
            "scan" => Envelope::parse(black_box(&body))
                .map(|e| e.payload_json().len() as u64)
                .unwrap_or(0),
            "verify" => verifier
                .verify_lambda_body(black_box(&body))
                .map(|v| v.payload().events().filter(Result::is_ok).count() as u64)
                .unwrap_or(0),
            "handle" => run_ready(webhooks.verify_and_receive(black_box(&body), "loop"))
                .ok()
                .and_then(|r| r.summary().map(|s| s.handled() as u64))
                .unwrap_or(0),
            other => {
                eprintln!("unknown path `{other}`: use floor, scan, verify or handle");
                return ExitCode::from(2);
            }
        };
    }
    println!("{ok}");
    ExitCode::SUCCESS
}
