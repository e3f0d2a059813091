//! [`DynamoDbStore`]: idempotency records in a DynamoDB table (feature `idempotency-dynamodb`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Claim, IdempotencyKey, IdempotencyStore, Owner, Settled, StoreError, StoreFuture};

/// The partition key (a string): `[<namespace>#]<signature>#<index>`.
pub const KEY_ATTRIBUTE: &str = "id";
/// `in_progress` or `done`.
pub const STATE_ATTRIBUTE: &str = "state";
/// The [`Owner`] token of an "in progress" claim.
pub const OWNER_ATTRIBUTE: &str = "owner";
/// When an "in progress" claim ends, in milliseconds since the Unix epoch.
pub const LEASE_ATTRIBUTE: &str = "lease_until_ms";
/// When the record may go, in seconds since the Unix epoch: the table's TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";

const IN_PROGRESS: &str = "in_progress";
const DONE: &str = "done";

/// Idempotency records in a DynamoDB table whose partition key is the string attribute `id`,
/// with TTL enabled on the number attribute `expires_at` (the template's idempotency table is
/// one). A claim is one conditional `PutItem`, so of concurrent deliveries exactly one runs
/// the callbacks; completing (`PutItem`) and releasing (`DeleteItem`) are conditional on the
/// claim's `owner` token, so a delivery whose lease ended cannot touch the claim of the one
/// that took over. Records past `expires_at` count as absent whether or not DynamoDB's TTL has
/// deleted them yet. The function's role needs `dynamodb:GetItem`, `PutItem` and `DeleteItem`
/// on the table.
///
/// ```no_run
/// # async fn example() {
/// use soketi_handler_kit::idempotency::DynamoDbStore;
/// use soketi_handler_kit::{Keyring, Verifier, Webhooks};
/// let aws = soketi_handler_kit::aws::config_loader().load().await;
/// let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), "soketi-idempotency");
/// let webhooks = Webhooks::new(Verifier::new(Keyring::single_secret("s3cret"))).idempotent(store);
/// # let _ = webhooks;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// The table `table`, written with `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDbStore {
            client,
            table: table.into(),
        }
    }

    fn failed<
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    >(
        &self,
        what: &str,
        key: &IdempotencyKey,
        error: SdkError<E, R>,
    ) -> StoreError {
        StoreError::new(format!(
            "{what} of {key} in DynamoDB table {} failed (check that it exists, with the \
             string partition key `{KEY_ATTRIBUTE}`, and that the function's role may \
             GetItem, PutItem and DeleteItem on it): {}",
            self.table,
            DisplayErrorContext(&error)
        ))
    }

    /// After a refused claim: what the record says.
    async fn holder(&self, key: &IdempotencyKey) -> Result<Claim, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, AttributeValue::S(key.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", key, e))?;
        let state = item
            .item()
            .and_then(|item| item.get(STATE_ATTRIBUTE))
            .and_then(|v| v.as_s().ok());
        // Gone between the two calls (released by a failed run): someone else is on it; a
        // retry claims it.
        Ok(match state.map(String::as_str) {
            Some(DONE) => Claim::Done,
            _ => Claim::InProgress,
        })
    }
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

fn number(n: u128) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The condition under which a claim is still `owner`'s: what completing and releasing need.
const HELD_BY_OWNER: &str = "#state = :in_progress AND #owner = :owner";

impl IdempotencyStore for DynamoDbStore {
    fn claim<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let now = since_epoch();
            let lease_end = now + lease;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(KEY_ATTRIBUTE, AttributeValue::S(key.as_str().to_owned()))
                .item(STATE_ATTRIBUTE, AttributeValue::S(IN_PROGRESS.to_owned()))
                .item(
                    OWNER_ATTRIBUTE,
                    AttributeValue::S(owner.as_str().to_owned()),
                )
                .item(LEASE_ATTRIBUTE, number(lease_end.as_millis()))
                // Kept a minute past the lease, then DynamoDB may delete it.
                .item(TTL_ATTRIBUTE, number(u128::from(lease_end.as_secs() + 60)))
                .condition_expression(
                    "attribute_not_exists(#id) OR #exp < :now_s \
                     OR (#state = :in_progress AND #lease < :now_ms)",
                )
                .expression_attribute_names("#id", KEY_ATTRIBUTE)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_names("#state", STATE_ATTRIBUTE)
                .expression_attribute_names("#lease", LEASE_ATTRIBUTE)
                .expression_attribute_values(":now_s", number(u128::from(now.as_secs())))
                .expression_attribute_values(":now_ms", number(now.as_millis()))
                .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
                .send()
                .await;
            match put {
                Ok(_) => Ok(Claim::Run),
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    self.holder(key).await
                }
                Err(error) => Err(self.failed("PutItem (claim)", key, error)),
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
        ttl: Duration,
    ) -> StoreFuture<'a, Settled> {
        Box::pin(async move {
            let expires = since_epoch() + ttl;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(KEY_ATTRIBUTE, AttributeValue::S(key.as_str().to_owned()))
                .item(STATE_ATTRIBUTE, AttributeValue::S(DONE.to_owned()))
                .item(TTL_ATTRIBUTE, number(u128::from(expires.as_secs())))
                .condition_expression(HELD_BY_OWNER)
                .expression_attribute_names("#state", STATE_ATTRIBUTE)
                .expression_attribute_names("#owner", OWNER_ATTRIBUTE)
                .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
                .expression_attribute_values(":owner", AttributeValue::S(owner.as_str().into()))
                .send()
                .await;
            match put {
                Ok(_) => Ok(Settled::Recorded),
                // Not this owner's claim any more: taken over after its lease ended.
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    Ok(Settled::NotOwner)
                }
                Err(error) => Err(self.failed("PutItem (done)", key, error)),
            }
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a IdempotencyKey,
        owner: &'a Owner,
    ) -> StoreFuture<'a, Settled> {
        Box::pin(async move {
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(KEY_ATTRIBUTE, AttributeValue::S(key.as_str().to_owned()))
                .condition_expression(HELD_BY_OWNER)
                .expression_attribute_names("#state", STATE_ATTRIBUTE)
                .expression_attribute_names("#owner", OWNER_ATTRIBUTE)
                .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
                .expression_attribute_values(":owner", AttributeValue::S(owner.as_str().into()))
                .send()
                .await;
            match deleted {
                Ok(_) => Ok(Settled::Recorded),
                Err(SdkError::ServiceError(e))
                    if e.err().is_conditional_check_failed_exception() =>
                {
                    Ok(Settled::NotOwner)
                }
                Err(error) => Err(self.failed("DeleteItem (release)", key, error)),
            }
        })
    }

    fn describe(&self) -> String {
        format!("DynamoDB table {}", self.table)
    }
}
