//! Mounting the verifier on one route of an axum app that runs on Lambda through
//! `lambda_http` (behind a Function URL, API Gateway or an ALB). The other routes are yours;
//! `/webhooks/soketi` verifies and dispatches soketi and Pusher webhooks with the same callbacks
//! as a `lambda_function` webhook would reach.
//!
//! ```sh
//! cargo build -p soketi-handler-kit --example axum
//! ```

use axum::Router;
use axum::routing::get;
use soketi_handler_kit::wire::ChannelOccupied;
use soketi_handler_kit::{Context, Webhooks};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    soketi_handler_kit::init_tracing();
    let webhooks = Webhooks::from_env()
        .await? // SOKETI_SECRET, optional SOKETI_APP_KEY
        .on_channel_occupied(|ev: ChannelOccupied, cx: Context| async move {
            // The request's Lambda context (from lambda_http) reaches the callback.
            tracing::info!(deadline = ?cx.deadline(), "{} is now occupied.", ev.channel);
            Ok(())
        })
        .max_body_bytes(1024 * 1024);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        // 200 with a summary, 401 for a bad signature, 405 for a GET, 413 over 1 MiB, ...
        .route_service("/webhooks/soketi", webhooks);
    lambda_http::run(app).await
}
