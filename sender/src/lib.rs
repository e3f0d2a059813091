//! Deliver soketi-format webhooks to AWS Lambda and HTTP endpoints, byte for byte as soketi
//! sends them — without soketi's defects.
//!
//! A Lambda webhook is invoked with soketi's envelope `{"payload": …, "headers": {…}}`, an
//! HTTP webhook gets the payload as its body; the payload, its signature and the header order
//! are those of soketi 1.6.1 (checked against recorded requests), written by the handler kit's
//! [`wire`](soketi_handler_kit::wire) module so that sender and receiver share one definition.
//!
//! What differs from soketi (see the README): each webhook receives only its own events,
//! signed over exactly what it receives; batches are per app; failed deliveries are retried
//! with backoff and, when they still fail, returned in a [`deliver::Report`] with the signed
//! request — never dropped silently; a webhook without a `lambda` object or with only the
//! documented `region` works.
//!
//! - [`config`]: soketi's app and webhook JSON, validated;
//! - [`route`]: which events go to which webhook, split under the size limits, each request
//!   signed in one place (pure);
//! - [`deliver`]: retry policy, transports, reports, dead letters and their replay;
//! - [`Sender`]: all of it together; [`Queue`] batches in the background;
//! - [`input`]: events from JSON text, as `JSON.stringify` would print them;
//! - [`redact`]: the one rule for what is never printed or stored (URL passwords, credential
//!   headers).
//! - [`jobs`]: soketi's webhook queue (`queue.driver: "sqs"`): its jobs verified and
//!   delivered ([`Sender::deliver_job`]), a batch of queue messages with FIFO order per message
//!   group and partial failures ([`Sender::deliver_jobs`]);
//! - `worker` (feature `worker`): a long-running consumer of that queue on SQS.
//!
//! # Features
//!
//! - `cli` (default): the `soketi-lambda` command-line tool (clap, tracing-subscriber); turns
//!   on `worker` for its `worker` command.
//! - `secret-stores` (default; turns on `cli`): the worker's `--apps-secret-arn` and
//!   `--apps-parameter`, soketi's apps read from Secrets Manager or SSM (their SDK clients).
//! - `worker`: `worker::Worker`, a long-running consumer of soketi's SQS webhook queue (the
//!   AWS SDK's SQS client); turns on `sqs`.
//! - `sqs`: `jobs::DeadLetterQueue`, rejected queue jobs moved to the dead-letter queue at
//!   once (the AWS SDK's SQS client). The library without these (`default-features = false`)
//!   is what a Lambda function embeds.
//! - `aws-lc` / `aws-lc-fips`: TLS on aws-lc (or its FIPS module) instead of ring.
//!
//! # Example
//!
//! Plan the requests for a batch (no network), then check them as a receiver would:
//!
//! ```
//! use soketi_handler_kit::wire::Event;
//! use soketi_handler_kit::{Keyring, Verifier};
//! use soketi_lambda_sender::config::App;
//! use soketi_lambda_sender::{RegionFallback, Sender};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::from_json(r#"{
//!     "id": "1", "key": "app1key", "secret": "app1secret",
//!     "webhooks": [
//!         {"lambda_function": "presence", "event_types": ["member_added"],
//!          "filter": {"channel_name_starts_with": "presence-"},
//!          "lambda": {"async": true, "region": "eu-west-1"}},
//!         {"url": "http://127.0.0.1:8080/hook", "event_types": ["channel_occupied"]}
//!     ]}"#)?;
//! let sender = Sender::builder()
//!     .app(app)
//!     .region_fallback(RegionFallback::None)
//!     .build()
//!     .await?;
//! let plan = sender.plan("1", 1_700_000_000_000, &[
//!     Event::member_added("presence-lobby", "u1"),
//!     Event::channel_occupied("private-a"),
//! ])?;
//! assert_eq!(plan.requests.len(), 2); // one per webhook, each with its own event
//!
//! let verifier = Verifier::new(Keyring::new().app("app1key", "app1secret"));
//! let lambda = &plan.requests[0];
//! let verified = verifier.verify_lambda_body(lambda.body.as_bytes())?;
//! assert_eq!(verified.payload().len(), 1);
//! // `sender.send("1", events).await?` would deliver them and return a report.
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
// docs.rs (nightly, `--cfg docsrs`) labels each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod deliver;
pub mod input;
pub mod jobs;
mod queue;
pub mod redact;
pub mod route;
mod sender;
#[cfg(feature = "worker")]
pub mod worker;

pub use queue::{BatchLimits, Queue, QueueConfig, QueueError, QueueReport};
pub use sender::{BuildError, RegionFallback, Sender, SenderBuilder, UnknownApp};

/// The README's examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
