//! {{ project_name }}: a soketi webhook Lambda function. Every webhook is verified (the
//! `X-Pusher-Signature` HMAC over the raw payload, in constant time) before any callback runs.
//!
//! Configuration, read by `Webhooks::from_env`: `SOKETI_SECRET_ARN` (a Secrets Manager secret,
//! as template.yaml deploys it) or `SOKETI_SECRET` (plain, for local runs), and
//! `SOKETI_APP_KEY` to accept that app's key only.

use soketi_handler_kit::wire::{
    ChannelOccupied, ChannelVacated, ClientEvent, MemberAdded, MemberRemoved,
};
use soketi_handler_kit::{Context, Webhooks};

/// The callbacks, one per event type you care about; events without one are acknowledged.
/// Kept apart from `main` so the tests can drive them.
fn webhooks(base: Webhooks) -> Webhooks {
    base.on_channel_occupied(|ev: ChannelOccupied, _cx: Context| async move {
        tracing::info!(channel = %ev.channel, "channel occupied");
        Ok(())
    })
    .on_channel_vacated(|ev: ChannelVacated, _cx: Context| async move {
        tracing::info!(channel = %ev.channel, "channel vacated");
        Ok(())
    })
    .on_member_added(|ev: MemberAdded, _cx: Context| async move {
        tracing::info!(channel = %ev.channel, user_id = %ev.user_id, "member added");
        Ok(())
    })
    .on_member_removed(|ev: MemberRemoved, _cx: Context| async move {
        tracing::info!(channel = %ev.channel, user_id = %ev.user_id, "member removed");
        Ok(())
    })
    .on_client_event(|ev: ClientEvent, _cx: Context| async move {
        tracing::info!(channel = %ev.channel, event = %ev.event, "client event");
        Ok(())
    })
}

#[tokio::main]
async fn main() -> Result<(), soketi_handler_kit::Error> {
    soketi_handler_kit::init_tracing();
    let webhooks = webhooks(Webhooks::from_env().await?);
    soketi_handler_kit::run(webhooks).await
}

#[cfg(test)]
mod tests {
    use super::webhooks;
    use soketi_handler_kit::testing::SignedEnvelope;
    use soketi_handler_kit::wire::Event;
    use soketi_handler_kit::{ErrorKind, Keyring, Verifier, Webhooks};

    fn function() -> Webhooks {
        webhooks(Webhooks::new(Verifier::new(
            Keyring::new().app("app-key", "app-secret"),
        )))
    }

    #[tokio::test]
    async fn handles_a_signed_webhook() {
        // The invocation soketi sends: {payload, headers}, signed with the app secret.
        let body = SignedEnvelope::new("app-key", "app-secret")
            .event(Event::channel_occupied("presence-room"))
            .event(Event::member_added("presence-room", "alice"))
            .to_bytes();
        let response = function().verify_and_receive(&body, "request-id").await;
        let summary = response
            .expect("verified")
            .into_summary()
            .expect("a summary");
        assert_eq!(summary.events(), ["channel_occupied", "member_added"]);
        assert_eq!(summary.handled(), 2);
    }

    #[tokio::test]
    async fn rejects_a_webhook_signed_with_another_secret() {
        let body = SignedEnvelope::new("app-key", "not-the-secret")
            .event(Event::channel_occupied("presence-room"))
            .to_bytes();
        let error = function()
            .verify_and_receive(&body, "request-id")
            .await
            .expect_err("rejected");
        assert_eq!(error.kind(), ErrorKind::InvalidSignature);
    }
}
