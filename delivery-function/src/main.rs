//! The delivery function's entry point: configuration from the environment (see the crate
//! docs), then one SQS batch per invocation.

use delivery_function::{SqsEvent, apps_from_env, handle, policy_from_env, sender};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    soketi_handler_kit::init_tracing();
    let apps = apps_from_env()?;
    let sender = sender(apps, policy_from_env()?).await?;
    tracing::info!(apps = sender.apps().len(), "delivering soketi's queue jobs");
    let sender = &sender;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let (response, _) = handle(sender, event.payload).await;
        Ok::<_, Error>(response)
    }))
    .await
}
