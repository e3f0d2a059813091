//! The delivery function's entry point: configuration from the environment (see the crate
//! docs), then one SQS batch per invocation, delivered before the invocation's deadline.

use delivery_function::config::{ENV_DEAD_LETTER_QUEUE_URL, base_sender, job_sender};
use delivery_function::{Delivery, SqsEvent, StartError};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use soketi_lambda_sender::deliver::Deadline;
use soketi_lambda_sender::jobs::DeadLetterQueue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    soketi_handler_kit::init_tracing();
    let lookup = |name: &str| std::env::var(name).ok();
    let aws = soketi_handler_kit::aws::config_loader().load().await;
    let base = base_sender(&lookup)?
        .build()
        .await
        .map_err(StartError::Build)?;
    let jobs = job_sender(&lookup, &base, &aws).await?;
    let dead_letters = lookup(ENV_DEAD_LETTER_QUEUE_URL)
        .filter(|url| !url.trim().is_empty())
        .map(|url| DeadLetterQueue::new(aws_sdk_sqs::Client::new(&aws), url.trim()));
    if dead_letters.is_none() {
        tracing::warn!(
            "{ENV_DEAD_LETTER_QUEUE_URL} is not set: rejected jobs return to the queue and hold \
             their message group until its redrive policy moves them"
        );
    }
    tracing::info!(
        apps = jobs.sender().apps().len(),
        source = jobs
            .describe_source()
            .unwrap_or_else(|| "the environment".to_owned()),
        "delivering soketi's queue jobs"
    );
    let delivery = Delivery {
        jobs,
        dead_letters,
        function: lookup("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "delivery-function".into()),
    };
    let delivery = &delivery;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let end = event.context.deadline();
        let deadline = if end > std::time::SystemTime::now() {
            Deadline::at_system_time(end)
        } else {
            // Lambda always gives a deadline ahead; one already past at the start means the
            // runtime gives none (an emulator): the retry policy alone bounds the batch.
            tracing::warn!(
                deadline_ms = event.context.deadline,
                "the invocation's deadline had passed when it started: delivering without one"
            );
            Deadline::none()
        };
        let (response, _) = delivery.handle(event.payload, deadline).await;
        Ok::<_, Error>(response)
    }))
    .await
}
