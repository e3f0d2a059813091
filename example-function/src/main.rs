//! A soketi webhook Lambda function: the Rust counterpart of the handler in soketi's docs.
//!
//! Configure with `SOKETI_SECRET_ARN` (a Secrets Manager secret: the recommended setup) or
//! `SOKETI_SECRET_PARAMETER` (an SSM SecureString), or `SOKETI_SECRET`; `SOKETI_APP_KEY` to
//! require that app's key, or `SOKETI_APP_SECRETS` (or a JSON secret) for several apps. With
//! `SOKETI_IDEMPOTENCY_TABLE`, each event's callbacks run once however often the payload is
//! delivered. Every webhook is verified before any callback runs.
//!
//! Both transports reach the same callbacks: soketi's `lambda_function` webhooks (the Lambda
//! envelope) and HTTP webhooks — soketi's `url` webhooks, Pusher Channels — through a Function
//! URL, API Gateway or an ALB (the kit's `http` feature; `run` tells them apart).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use soketi_handler_kit::wire::{
    ChannelOccupied, ChannelVacated, ClientEvent, MemberAdded, MemberRemoved,
};
use soketi_handler_kit::{Context, Webhooks};

/// State the callbacks share, kept while the Lambda environment is warm: how many members
/// each presence channel has, as far as this instance has seen. In your function this is a
/// database pool or an HTTP client, shared the same way.
#[derive(Default)]
struct Members(Mutex<HashMap<String, i64>>);

impl Members {
    /// Adds `change` to `channel`'s count; the count now.
    fn change(&self, channel: &str, change: i64) -> i64 {
        let mut counts = self.counts();
        let count = counts.entry(channel.to_owned()).or_default();
        *count += change;
        *count
    }

    /// `channel`'s count.
    #[cfg(test)]
    fn count(&self, channel: &str) -> i64 {
        self.counts().get(channel).copied().unwrap_or_default()
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // A callback that panicked while holding the lock left the map whole: keep using it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The handlers, kept apart from `main` so the tests can drive them.
fn webhooks(base: Webhooks, members: Arc<Members>) -> Webhooks {
    base.on_channel_occupied(|ev: ChannelOccupied, _cx: Context| async move {
        tracing::info!(webhook = "channel_occupied", channel = %ev.channel, "{} is now occupied.", ev.channel);
        Ok(())
    })
    .on_channel_vacated(|ev: ChannelVacated, _cx: Context| async move {
        tracing::info!(webhook = "channel_vacated", channel = %ev.channel, "{} is now vacated.", ev.channel);
        Ok(())
    })
    // Shared state: clone the `Arc` into the closure, then once more per call before
    // `async move` (the closure runs for every event, so it must keep its own).
    .on_member_added({
        let members = Arc::clone(&members);
        move |ev: MemberAdded, _cx: Context| {
            let members = Arc::clone(&members);
            async move {
                let count = members.change(&ev.channel, 1);
                tracing::info!(webhook = "member_added", channel = %ev.channel, user_id = %ev.user_id, members = count, "{} joined {}.", ev.user_id, ev.channel);
                Ok(())
            }
        }
    })
    .on_member_removed(move |ev: MemberRemoved, _cx: Context| {
        let members = Arc::clone(&members);
        async move {
            let count = members.change(&ev.channel, -1);
            tracing::info!(webhook = "member_removed", channel = %ev.channel, user_id = %ev.user_id, members = count, "{} left {}.", ev.user_id, ev.channel);
            Ok(())
        }
    })
    .on_client_event(|ev: ClientEvent, cx: Context| async move {
        // `ev.data_as::<YourType>()?` reads the data whether the client sent an object or a
        // JSON-encoded string; here the raw JSON is logged as it arrived.
        let data = ev.data.as_ref().map(|d| d.as_json()).unwrap_or("");
        let user_id = ev.user_id.as_ref().map(ToString::to_string).unwrap_or_default();
        tracing::info!(
            webhook = "client_event", channel = %ev.channel, client_event = %ev.event,
            user_id = %user_id, data = %data, app_key = cx.app_key().unwrap_or_default(),
            "{} sent {} on {}.", ev.socket_id.as_deref().unwrap_or("a client"), ev.event, ev.channel
        );
        Ok(())
    })
    .on_unknown(|ev, _cx: Context| async move {
        tracing::warn!(webhook = %ev.name, "ignoring an event this version does not know.");
        Ok(())
    })
}

// Lambda hands a function one invocation at a time: a current-thread runtime serves it without
// starting worker threads at a cold start or waking another thread for each request.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), soketi_handler_kit::Error> {
    soketi_handler_kit::init_tracing();
    // Reads the secret store and the idempotency table when the environment names them.
    let members = Arc::new(Members::default());
    let webhooks = webhooks(Webhooks::from_env().await?, members);
    soketi_handler_kit::run(webhooks).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Members, webhooks};
    use soketi_handler_kit::testing::SignedEnvelope;
    use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};
    use soketi_handler_kit::{Error, ErrorKind, Keyring, Summary, Verifier, Webhooks};

    fn function() -> Webhooks {
        with_members(Arc::default())
    }

    fn with_members(members: Arc<Members>) -> Webhooks {
        let verifier = Verifier::new(Keyring::new().app("app-key", "app-secret"));
        webhooks(Webhooks::new(verifier), members)
    }

    /// A soketi envelope through the function, as `run` hands it over.
    async fn receive(function: &Webhooks, body: &[u8]) -> Result<Summary, Error> {
        let response = function.verify_and_receive(body, "req").await?;
        Ok(response.into_summary().expect("an envelope's summary"))
    }

    #[tokio::test]
    async fn handles_every_event_type_in_order() {
        let body = SignedEnvelope::new("app-key", "app-secret")
            .event(Event::channel_occupied("presence-room"))
            .event(Event::member_added("presence-room", 42u64))
            .event(
                ClientEvent::new("presence-room", "client-typing")
                    .with_data(ClientData::string(r#"{"text":"hi"}"#))
                    .with_user_id(42u64),
            )
            .event(Event::member_removed("presence-room", 42u64))
            .event(Event::channel_vacated("presence-room"))
            .to_bytes();
        let summary = receive(&function(), &body).await.expect("verified");
        assert_eq!(
            summary.events(),
            [
                "channel_occupied",
                "member_added",
                "client_event",
                "member_removed",
                "channel_vacated"
            ]
        );
        assert_eq!(summary.handled(), 5);
    }

    #[tokio::test]
    async fn rejects_a_wrong_secret_without_running_callbacks() {
        let body = SignedEnvelope::new("app-key", "not-the-secret")
            .event(Event::channel_occupied("c"))
            .to_bytes();
        let error = receive(&function(), &body).await.expect_err("rejected");
        assert_eq!(error.kind(), ErrorKind::InvalidSignature);
    }

    /// The same webhook as an HTTP request through a Function URL: verified and dispatched by
    /// the dispatcher `run` serves, answered with an HTTP response.
    #[tokio::test]
    async fn answers_http_webhooks_through_a_function_url() {
        let event = SignedEnvelope::new("app-key", "app-secret")
            .event(Event::channel_occupied("presence-room"))
            .to_function_url_event();
        let response = function()
            .verify_and_receive(&event, lambda_runtime::Context::default())
            .await
            .expect("answered");
        let response = response.http().expect("an HTTP answer");
        assert_eq!(response.status_code(), 200, "{}", response.body());
        let summary: serde_json::Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(summary["events"], serde_json::json!(["channel_occupied"]));
        assert_eq!(summary["handled"], 1);
    }

    #[tokio::test]
    async fn rejects_another_apps_key() {
        let body = SignedEnvelope::new("other-key", "app-secret")
            .event(Event::channel_occupied("c"))
            .to_bytes();
        let error = receive(&function(), &body).await.expect_err("rejected");
        assert_eq!(error.kind(), ErrorKind::UnknownAppKey);
    }

    /// The members count is shared by the callbacks and kept across invocations.
    #[tokio::test]
    async fn the_callbacks_share_state_across_invocations() {
        let members = Arc::new(Members::default());
        let function = with_members(Arc::clone(&members));
        let body = |event: Event| {
            SignedEnvelope::new("app-key", "app-secret")
                .event(event)
                .to_bytes()
        };
        for event in [
            Event::member_added("presence-room", 1u64),
            Event::member_added("presence-room", 2u64),
            Event::member_removed("presence-room", 1u64),
            Event::member_added("presence-other", 1u64),
        ] {
            receive(&function, &body(event)).await.expect("verified");
        }
        assert_eq!(members.count("presence-room"), 1);
        assert_eq!(members.count("presence-other"), 1);
    }
}
