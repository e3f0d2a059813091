//! Rejected jobs moved to the queue's dead-letter queue at once (feature `sqs`):
//! [`DeadLetterQueue`].
//!
//! A job that no secret verifies, of an unknown app, or malformed, can never be delivered. Left
//! to SQS's redrive, it would come back `maxReceiveCount` times, each time after the visibility
//! timeout, and on a FIFO queue hold its whole message group meanwhile (360 s × 5 = 30 min with
//! the template's values). The consumer instead sends it to the dead-letter queue itself — its
//! body unchanged, its group kept, the reason in message attributes — and then reports it done
//! (deleted), so the group moves on within the batch.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;

use super::{BatchOutcome, JobError, JobMessage, JobOutcome};

/// The message attribute holding the rejection's stable kind (`UnknownApp`,
/// `SignatureMismatch`, `Malformed`, ...).
pub const ATTRIBUTE_REJECTION: &str = "SoketiRejection";
/// The message attribute holding the rejection's message (cut to 1,000 characters).
pub const ATTRIBUTE_REASON: &str = "SoketiRejectionReason";
/// The message attribute holding the job's message group in the source queue.
pub const ATTRIBUTE_GROUP: &str = "SoketiMessageGroupId";
/// The message attribute holding the job's message id in the source queue.
pub const ATTRIBUTE_MESSAGE_ID: &str = "SoketiMessageId";

/// The dead-letter queue rejected jobs are moved to. Needs `sqs:SendMessage` on it.
#[derive(Clone, Debug)]
pub struct DeadLetterQueue {
    client: Client,
    url: String,
}

impl DeadLetterQueue {
    /// The queue at `url`, written with `client`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        DeadLetterQueue {
            client,
            url: url.into(),
        }
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `message`, rejected for `error`, to the queue: its body as it is, in its message
    /// group (a FIFO queue; deduplicated by its message id), the reason in attributes.
    pub async fn send(&self, message: &JobMessage, error: &JobError) -> Result<(), String> {
        let text = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| e.to_string())
        };
        let reason: String = error.to_string().chars().take(1000).collect();
        let group = message
            .group
            .clone()
            .unwrap_or_else(|| "rejected".to_owned());
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(&message.body)
            .message_attributes(ATTRIBUTE_REJECTION, text(error.kind())?)
            .message_attributes(ATTRIBUTE_REASON, text(&reason)?)
            .message_attributes(ATTRIBUTE_MESSAGE_ID, text(&message.id)?);
        if let Some(group) = &message.group {
            send = send.message_attributes(ATTRIBUTE_GROUP, text(group)?);
        }
        if self.url.ends_with(".fifo") {
            send = send
                .message_group_id(group)
                .message_deduplication_id(dedup_id(&message.id));
        }
        send.send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
    }

    /// Moves every rejected job of `outcome` (whose messages are `messages`) to the queue;
    /// returns the ids of those moved, which the caller reports done. A job that could not be
    /// sent is logged and stays rejected (returned to its queue, which redrives it).
    pub async fn move_rejected(
        &self,
        messages: &[JobMessage],
        outcome: &BatchOutcome,
    ) -> Vec<String> {
        let mut moved = Vec::new();
        for (id, result) in &outcome.outcomes {
            let JobOutcome::Rejected(error) = result else {
                continue;
            };
            let Some(message) = messages.iter().find(|m| &m.id == id) else {
                continue;
            };
            match self.send(message, error).await {
                Ok(()) => {
                    tracing::warn!(
                        message_id = %id,
                        kind = error.kind(),
                        dead_letter_queue = %self.url,
                        "a rejected queue job was moved to the dead-letter queue"
                    );
                    moved.push(id.clone());
                }
                Err(e) => tracing::error!(
                    message_id = %id,
                    dead_letter_queue = %self.url,
                    "a rejected queue job could not be sent to the dead-letter queue; it returns \
                     to its queue, whose redrive policy moves it later: {e}"
                ),
            }
        }
        moved
    }
}

/// A deduplication id from a message id: at most 128 characters of those SQS allows.
fn dedup_id(id: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            match c.is_ascii_alphanumeric() || "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".contains(c) {
                true => c,
                false => '_',
            }
        })
        .take(128)
        .collect();
    if id.is_empty() {
        "rejected".to_owned()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dedup_ids_are_what_sqs_accepts() {
        assert_eq!(super::dedup_id("11d6ee51-4cc7"), "11d6ee51-4cc7");
        assert_eq!(super::dedup_id("a b\u{e9}"), "a_b_");
        assert_eq!(super::dedup_id(&"x".repeat(300)).len(), 128);
        assert_eq!(super::dedup_id(""), "rejected");
    }
}
