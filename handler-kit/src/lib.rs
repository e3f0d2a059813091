//! Verified, typed soketi / Pusher webhooks for Rust AWS Lambda functions.
//!
//! soketi can deliver its webhooks by invoking a Lambda function with
//! `{"payload": {...}, "headers": {...}}`. This crate reads that envelope, verifies
//! `X-Pusher-Signature` in constant time over the **raw payload bytes** (never a
//! re-serialization, which would reject real soketi traffic), and dispatches typed events to
//! your async callbacks, in payload order.
//!
//! # A complete function
//!
//! ```no_run
//! use soketi_handler_kit::{Context, Webhooks};
//! use soketi_handler_kit::wire::{ChannelOccupied, ClientEvent, MemberAdded};
//!
//! #[derive(serde::Deserialize)]
//! struct Chat { text: String }
//!
//! # #[cfg(not(feature = "runtime"))] fn main() {}
//! # #[cfg(feature = "runtime")]
//! #[tokio::main]
//! async fn main() -> Result<(), soketi_handler_kit::Error> {
//!     let webhooks = Webhooks::from_env().await? // SOKETI_SECRET, optional SOKETI_APP_KEY
//!         .on_channel_occupied(|ev: ChannelOccupied, _cx: Context| async move {
//!             tracing::info!("{} is now occupied.", ev.channel);
//!             Ok(())
//!         })
//!         .on_member_added(|ev: MemberAdded, _cx: Context| async move {
//!             tracing::info!(user = %ev.user_id, "joined {}", ev.channel);
//!             Ok(())
//!         })
//!         .on_client_event(|ev: ClientEvent, _cx: Context| async move {
//!             let chat: Chat = ev.data_as()?; // object or JSON-string data alike
//!             tracing::info!("{} says {}", ev.channel, chat.text);
//!             Ok(())
//!         });
//!     soketi_handler_kit::run(webhooks).await
//! }
//! ```
//!
//! # Shared state in callbacks
//!
//! A callback runs once per event: clone an `Arc` into the closure, then once more per call
//! before `async move` (moving the captured one fails with E0507). See
//! [Sharing state with callbacks](Webhooks#sharing-state-with-callbacks).
//!
//! # Ways in
//!
//! - [`run`]: serve in Lambda (soketi's envelopes and, with `http`, Function URL, API Gateway
//!   and ALB events);
//! - [`Webhooks`] as a `tower::Service<http::Request<B>>` (feature `http`): mount in
//!   `lambda_http` or axum;
//! - [`Webhooks::verify_and_receive`]: one Lambda event, verified then dispatched (tests,
//!   custom runtimes);
//! - [`Webhooks::receive`]: a payload you already verified with a [`Verifier`] method.
//!
//! All of them go through one dispatcher, and callbacks see the invocation's Lambda context
//! ([`Context::deadline`], …) on every transport.
//!
//! # What happens to an invocation
//!
//! 1. One pass over the bytes reads the envelope: the payload is kept as the bytes that
//!    arrived, headers are looked up ignoring case, and each event is located, not yet decoded
//!    ([`wire::Envelope`]).
//! 2. The [`Verifier`] checks the signature against the app's secrets ([`Keyring`]): any
//!    current secret verifies, so secrets can be rotated. A rejected webhook runs no callback
//!    and fails the invocation with a stable [`ErrorKind`] (`InvalidSignature`,
//!    `UnknownAppKey`, `MissingSignature`, `MalformedEnvelope`, `Expired`, …).
//! 3. Events are decoded one by one from the spans already found and passed to the callbacks
//!    ([`Webhooks`]). Unknown event names are kept ([`wire::Event::Unknown`]), never errors.
//! 4. If callbacks fail (an error or a panic), the other events still run and the invocation fails with one
//!    aggregated error, so Lambda's retries or on-failure destination see it: make callbacks
//!    idempotent. Otherwise the invocation returns a [`Summary`].
//!
//! There is no default maximum age on `time_ms`: Lambda retries asynchronous invocations for
//! up to six hours, and a default window would silently lose those retries. Opt in with
//! [`Verifier::max_age`] or `SOKETI_MAX_AGE_SECONDS`.
//!
//! # Feature flags
//!
//! - `runtime` (default): the Lambda glue — [`run`], the Lambda context in [`Context`], and
//!   the conversion of errors into Lambda function errors. Without it, the crate is the wire
//!   format, verification and dispatch only, with no `lambda_runtime` dependency (this is how
//!   the `soketi-lambda-sender` crate uses it).
//! - `http` (default; implies `runtime`): HTTP webhooks — soketi `url` webhooks and Pusher
//!   Channels — arriving through a Lambda Function URL, API Gateway (REST and HTTP APIs) or an
//!   Application Load Balancer, with [`run`] then serving both transports, and [`Webhooks`] a
//!   `tower::Service` for `lambda_http` and axum; see the [`http`] module for statuses and the
//!   maximum body size.
//! - `secret-source`: a secret read from a `secrets::SecretSource` at start (an unreadable
//!   secret fails the start), cached, re-read when old and, within a small token bucket, when
//!   a signature does not match (`Verifier::from_source`, `secrets::CachedSecret`). No AWS
//!   dependency.
//! - `secrets-manager` (implies `secret-source`): the secret from AWS Secrets Manager
//!   (`SOKETI_SECRET_ARN`), `AWSCURRENT` and `AWSPREVIOUS` both verifying; read by
//!   [`Webhooks::from_env`].
//! - `ssm` (implies `secret-source`): the secret from an SSM SecureString
//!   (`SOKETI_SECRET_PARAMETER`), read decrypted.
//! - `idempotency`: `Webhooks::idempotent`, callbacks that run once per event of a payload
//!   (see the `idempotency` module: claims owned by one delivery, leases from the deadline,
//!   fail-closed store errors), with an in-memory store.
//! - `idempotency-dynamodb` (implies `idempotency`): the DynamoDB store
//!   (`SOKETI_IDEMPOTENCY_TABLE`, read by [`Webhooks::from_env`]).
//! - `aws` (implied by the three AWS features above): `aws::config_loader`, the AWS SDK
//!   configuration they load, with the SDK's HTTPS client on rustls + `ring` (no aws-lc: about
//!   half the bootstrap, no C library to build). `soketi-lambda-sender` loads its clients from
//!   it too.
//! - `aws-lc` / `aws-lc-fips` (imply `aws`): the same client on aws-lc-rs, the AWS SDK's
//!   default, or on aws-lc's FIPS module for deployments that require FIPS-validated
//!   cryptography (`ring` has no FIPS mode; building the FIPS module needs CMake and Go).
//!
//! These are off by default; a function without them compiles none of their code or
//! dependencies, and its verification path is unchanged.
//!
//! For tests, `proptest` (off by default) adds `testing::strategy`: proptest generators of any
//! event, which this crate's property tests and the sender's share.

#![warn(missing_docs)]
// docs.rs (nightly, `--cfg docsrs`) labels each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

#[cfg(feature = "aws")]
pub mod aws;
mod config;
mod error;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "idempotency")]
pub mod idempotency;
mod keyring;
mod kind;
mod router;
mod runtime;
#[cfg(feature = "secret-source")]
pub mod secrets;
pub mod testing;
mod untrusted;
mod verify;
pub mod wire;

#[cfg(feature = "secret-source")]
pub use config::SecretStore;
pub use config::{
    AppSecret, ConfigError, ENV_APP_KEY, ENV_APP_SECRETS, ENV_IDEMPOTENCY_NAMESPACE,
    ENV_IDEMPOTENCY_TABLE, ENV_IDEMPOTENCY_TTL_SECONDS, ENV_MAX_AGE_SECONDS, ENV_PREVIOUS_SECRET,
    ENV_SECRET, ENV_SECRET_ARN, ENV_SECRET_MISMATCH_REFRESH_SECONDS, ENV_SECRET_PARAMETER,
    ENV_SECRET_REFRESH_SECONDS,
};
pub use error::Error;
pub use keyring::{Keyring, SingleSecret};
pub use kind::ErrorKind;
pub use router::{
    BoxError, CallbackResult, Context, EventFailure, FailureCause, HandlerFailures, Invocation,
    Summary, Webhooks,
};
pub use runtime::InvocationResponse;
#[cfg(feature = "runtime")]
pub use runtime::{init_tracing, run};
pub use verify::{DEFAULT_MAX_CLOCK_SKEW, Rejection, Verified, Verifier};
