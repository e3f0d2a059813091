//! Shared harness of the end-to-end and interop tests (see `tests/README.md`):
//!
//! - [`tools`]: where cargo-lambda, node and the npm install are, with panics naming the script
//!   that installs what is missing;
//! - [`process`]: child processes owned by a guard that stops exactly their process group;
//! - [`watch`]: the example function under `cargo lambda watch` on 127.0.0.1;
//! - [`lambda`]: a plain Invoke API client and the outcome of an invocation;
//! - [`function_url`]: the function's Function URL under watch, and a recording HTTP proxy;
//! - [`proxy`]: a recording Invoke proxy (what soketi is pointed at);
//! - [`soketi`]: the real soketi 1.6.1 on loopback, and Node scripts of `tests/interop`;
//! - [`moto`]: a moto server (Secrets Manager, SSM, DynamoDB) on 127.0.0.1, and its clients;
//! - [`vectors`]: the recorded soketi 1.6.1 requests;
//! - [`flog`]: the function's JSON log lines, one per dispatched event;
//! - [`driver`]: the events `driver.mjs` expects and those of a payload, to compare;
//! - [`moto`]: a local moto server and an SQS client for it;
//! - [`broken`]: a deliberately broken verifier (`E2E_BROKEN_VERIFIER=reserialize`).

pub mod broken;
pub mod driver;
pub mod flog;
pub mod function_url;
pub mod lambda;
pub mod moto;
pub mod process;
pub mod proxy;
pub mod soketi;
pub mod tools;
pub mod vectors;
pub mod watch;
