//! A soketi webhook Lambda function: the Rust counterpart of the handler in soketi's docs.
//!
//! Configure with `SOKETI_SECRET_ARN` (a Secrets Manager secret: the recommended setup) or
//! `SOKETI_SECRET_PARAMETER` (an SSM SecureString), or `SOKETI_SECRET`; `SOKETI_APP_KEY` to
//! require that app's key, or `SOKETI_APPS` (or a JSON secret) for several apps. With
//! `SOKETI_IDEMPOTENCY_TABLE`, each event's callbacks run once however often the payload is
//! delivered. Every webhook is verified before any callback runs.
//!
//! Both transports reach the same callbacks: soketi's `lambda_function` webhooks (the Lambda
//! envelope) and HTTP webhooks — soketi's `url` webhooks, Pusher Channels — through a Function
//! URL, API Gateway or an ALB (the kit's `http` feature; `run` tells them apart).

use soketi_handler_kit::wire::{
    ChannelOccupied, ChannelVacated, ClientEvent, MemberAdded, MemberRemoved,
};
use soketi_handler_kit::{Context, Webhooks};

/// The handlers, kept apart from `main` so the tests can drive them.
fn webhooks(base: Webhooks) -> Webhooks {
    base.on_channel_occupied(|ev: ChannelOccupied, _cx: Context| async move {
        tracing::info!(webhook = "channel_occupied", channel = %ev.channel, "{} is now occupied.", ev.channel);
        Ok(())
    })
    .on_channel_vacated(|ev: ChannelVacated, _cx: Context| async move {
        tracing::info!(webhook = "channel_vacated", channel = %ev.channel, "{} is now vacated.", ev.channel);
        Ok(())
    })
    .on_member_added(|ev: MemberAdded, _cx: Context| async move {
        tracing::info!(webhook = "member_added", channel = %ev.channel, user_id = %ev.user_id, "{} joined {}.", ev.user_id, ev.channel);
        Ok(())
    })
    .on_member_removed(|ev: MemberRemoved, _cx: Context| async move {
        tracing::info!(webhook = "member_removed", channel = %ev.channel, user_id = %ev.user_id, "{} left {}.", ev.user_id, ev.channel);
        Ok(())
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

#[tokio::main]
async fn main() -> Result<(), soketi_handler_kit::Error> {
    soketi_handler_kit::init_tracing();
    // Reads the secret store and the idempotency table when the environment names them.
    let webhooks = webhooks(Webhooks::from_env_async().await?);
    soketi_handler_kit::run(webhooks).await
}

#[cfg(test)]
mod tests {
    use super::webhooks;
    use soketi_handler_kit::testing::SignedEnvelope;
    use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};
    use soketi_handler_kit::{ErrorKind, Keyring, Verifier, Webhooks};

    fn function() -> Webhooks {
        webhooks(Webhooks::new(Verifier::new(
            Keyring::new().app("app-key", "app-secret"),
        )))
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
        let summary = function().handle(&body, "req-1").await.expect("verified");
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
        let error = function()
            .handle(&body, "req-2")
            .await
            .expect_err("rejected");
        assert_eq!(error.kind(), ErrorKind::InvalidSignature);
    }

    /// The same webhook as an HTTP request through a Function URL: verified and dispatched by
    /// the service `run` serves, answered with an HTTP response.
    #[tokio::test]
    async fn answers_http_webhooks_through_a_function_url() {
        use soketi_handler_kit::http::{HttpWebhooks, InvocationResponse};
        use tower::Service as _;

        let signed = SignedEnvelope::new("app-key", "app-secret")
            .event(Event::channel_occupied("presence-room"))
            .signed();
        let headers: serde_json::Map<String, serde_json::Value> = signed
            .headers::<&str, &str>("test", &[])
            .into_iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.into()))
            .collect();
        let event = serde_json::json!({
            "version": "2.0", "rawPath": "/", "headers": headers,
            "requestContext": {"http": {"method": "POST", "path": "/"}},
            "body": signed.json(), "isBase64Encoded": false
        });
        let mut service = HttpWebhooks::new(function());
        let invocation = lambda_runtime::LambdaEvent::new(
            serde_json::value::to_raw_value(&event).unwrap(),
            lambda_runtime::Context::default(),
        );
        let InvocationResponse::Http(response) = service.call(invocation).await.unwrap() else {
            panic!("not answered as HTTP");
        };
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
        let error = function()
            .handle(&body, "req-3")
            .await
            .expect_err("rejected");
        assert_eq!(error.kind(), ErrorKind::UnknownAppKey);
    }
}
