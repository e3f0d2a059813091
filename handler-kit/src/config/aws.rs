//! The AWS resources the environment names (features `secrets-manager`, `ssm`,
//! `idempotency-dynamodb`): the secret store the keyring is read from, and the idempotency
//! table.

use super::env::{ENV_IDEMPOTENCY_TABLE, ENV_SECRET_ARN, ENV_SECRET_PARAMETER, Env, feature_of};
use super::error::ConfigError;

/// Whether the variables name an AWS resource this build can read (then the AWS
/// configuration is loaded).
pub(super) fn is_needed(env: &Env<'_>) -> bool {
    [ENV_SECRET_ARN, ENV_SECRET_PARAMETER, ENV_IDEMPOTENCY_TABLE]
        .into_iter()
        .any(|name| feature_of(name).1 && env.is_set(name))
}

/// The secret store `store` names (with the optional `SOKETI_APP_KEY` for a plain secret),
/// to be kept current as `SOKETI_SECRET_REFRESH_SECONDS` and
/// `SOKETI_SECRET_MISMATCH_REFRESH_SECONDS` say; not read yet.
#[cfg(any(feature = "secrets-manager", feature = "ssm"))]
pub(super) fn secret_store(
    env: &Env<'_>,
    store: &'static str,
    aws: &aws_config::SdkConfig,
) -> Result<super::app_secret::SecretStore, ConfigError> {
    use super::env::{
        ENV_APP_KEY, ENV_SECRET_MISMATCH_REFRESH_SECONDS, ENV_SECRET_REFRESH_SECONDS,
    };
    use crate::secrets::{
        DEFAULT_REFRESH_EVERY, DEFAULT_REFRESH_ON_MISMATCH, RefreshPolicy, SecretSource,
    };
    if !feature_of(store).1 {
        return Err(super::env::needs_feature(store));
    }
    let name = env.get(store).unwrap_or_default().trim().to_owned();
    let app_key = env.get(ENV_APP_KEY).map(|key| key.trim().to_owned());
    let policy = RefreshPolicy::new()
        .every(env.seconds(ENV_SECRET_REFRESH_SECONDS, DEFAULT_REFRESH_EVERY)?)
        .on_mismatch(env.seconds(
            ENV_SECRET_MISMATCH_REFRESH_SECONDS,
            DEFAULT_REFRESH_ON_MISMATCH,
        )?);
    let source: Box<dyn SecretSource> = match store {
        #[cfg(feature = "secrets-manager")]
        ENV_SECRET_ARN => Box::new(crate::secrets::SecretsManagerSecret::new(
            aws_sdk_secretsmanager::Client::new(aws),
            name,
        )),
        #[cfg(feature = "ssm")]
        ENV_SECRET_PARAMETER => Box::new(crate::secrets::SsmParameter::new(
            aws_sdk_ssm::Client::new(aws),
            name,
        )),
        _ => return Err(super::env::needs_feature(store)),
    };
    Ok(super::app_secret::SecretStore {
        variable: store,
        source,
        policy,
        app_key,
    })
}

/// `webhooks` recording handled events in the DynamoDB table `SOKETI_IDEMPOTENCY_TABLE`
/// names, for `SOKETI_IDEMPOTENCY_TTL_SECONDS` (default 24 hours), under the namespace
/// `SOKETI_IDEMPOTENCY_NAMESPACE` (default: the function's name).
#[cfg(feature = "idempotency-dynamodb")]
pub(super) fn idempotent(
    webhooks: crate::router::Webhooks,
    env: &Env<'_>,
    aws: &aws_config::SdkConfig,
) -> Result<crate::router::Webhooks, ConfigError> {
    use super::env::{ENV_IDEMPOTENCY_NAMESPACE, ENV_IDEMPOTENCY_TTL_SECONDS};
    use crate::idempotency::{DEFAULT_TTL, DynamoDbStore};
    let table = env.get(ENV_IDEMPOTENCY_TABLE).unwrap_or_default();
    let ttl = env.seconds(ENV_IDEMPOTENCY_TTL_SECONDS, DEFAULT_TTL)?;
    if ttl.is_zero() {
        return Err(ConfigError::new(
            ENV_IDEMPOTENCY_TTL_SECONDS,
            "must be above 0: a handled event must be remembered longer than its retries",
        ));
    }
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(aws), table.trim());
    let webhooks = webhooks.idempotent(store).idempotency_ttl(ttl);
    Ok(match env.get(ENV_IDEMPOTENCY_NAMESPACE) {
        Some(namespace) => webhooks.idempotency_namespace(namespace.trim()),
        None => webhooks,
    })
}
