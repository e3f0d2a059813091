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
//!     let webhooks = Webhooks::from_env()? // SOKETI_SECRET, optional SOKETI_APP_KEY
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
//! - `runtime` (default): the Lambda glue — [`run`], the `tower::Service` implementation and
//!   the conversion of errors into Lambda function errors. Without it, the crate is the wire
//!   format, verification and dispatch only, with no `lambda_runtime` dependency (this is how
//!   the `soketi-lambda-sender` crate uses it).
//! - `http` (default; implies `runtime`): HTTP webhooks — soketi `url` webhooks and Pusher
//!   Channels — arriving through a Lambda Function URL, API Gateway (REST and HTTP APIs) or an
//!   Application Load Balancer, with [`run`] then serving both transports; see the [`http`]
//!   module for statuses, the maximum body size, and mounting in `lambda_http` or axum apps.
//! - `secret-source`: the app secret from a `secrets::SecretSource`, read at start (an
//!   unreadable secret fails the start), cached, re-read when old and, at most once per
//!   interval, when a signature does not match (`Verifier::from_source`). No AWS dependency.
//! - `secrets-manager` (implies `secret-source`): the secret from AWS Secrets Manager
//!   (`SOKETI_SECRET_ARN`), `AWSCURRENT` and `AWSPREVIOUS` both verifying; read by
//!   [`Webhooks::from_env_async`].
//! - `ssm` (implies `secret-source`): the secret from an SSM SecureString
//!   (`SOKETI_SECRET_PARAMETER`), read decrypted.
//! - `idempotency`: `Webhooks::idempotent`, callbacks that run once per event of a payload
//!   (see the `idempotency` module: claims, leases, fail-closed store errors), with an
//!   in-memory store.
//! - `idempotency-dynamodb` (implies `idempotency`): the DynamoDB store
//!   (`SOKETI_IDEMPOTENCY_TABLE`, read by [`Webhooks::from_env_async`]).
//!
//! These four are off by default; a function without them compiles none of their code or
//! dependencies, and its verification path is unchanged.
//!
//! For tests, `proptest` (off by default) adds `testing::strategy`: proptest generators of any
//! event, which this crate's property tests and the sender's share.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod error;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "idempotency")]
pub mod idempotency;
mod keyring;
mod kind;
mod router;
#[cfg(feature = "runtime")]
mod runtime;
#[cfg(feature = "secret-source")]
pub mod secrets;
pub mod testing;
mod untrusted;
mod verify;
pub mod wire;

pub use config::{
    ConfigError, ENV_APP_KEY, ENV_APPS, ENV_IDEMPOTENCY_TABLE, ENV_IDEMPOTENCY_TTL_SECONDS,
    ENV_MAX_AGE_SECONDS, ENV_PREVIOUS_SECRET, ENV_SECRET, ENV_SECRET_ARN,
    ENV_SECRET_MISMATCH_REFRESH_SECONDS, ENV_SECRET_PARAMETER, ENV_SECRET_REFRESH_SECONDS,
};
pub use error::{BoxError, Error};
pub use keyring::{Keyring, SingleSecret};
pub use kind::ErrorKind;
pub use router::{
    CallbackResult, Context, EventFailure, FailureCause, HandlerFailures, Summary, Webhooks,
};
#[cfg(feature = "runtime")]
pub use runtime::{RawInvocation, init_tracing, run};
pub use verify::{DEFAULT_MAX_CLOCK_SKEW, Rejection, Verified, Verifier};
