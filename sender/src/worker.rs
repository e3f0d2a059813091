//! A long-running consumer of soketi's SQS webhook queue (feature `worker`): for those who do
//! not want Lambda between the queue and the webhooks.
//!
//! [`Worker::run`] runs `concurrency` pollers. Each long-polls the queue for a batch (up to 10
//! messages), delivers it with [`Sender::deliver_jobs`] (FIFO order per message group, a group
//! stopping at its first failure), keeps the batch's messages invisible while it works
//! (visibility extended every half timeout, so a slow webhook does not let another consumer
//! take them), then deletes the delivered ones. The others are left to reappear when their
//! visibility timeout ends — a backoff — and the queue's redrive policy moves those that keep
//! failing to its dead-letter queue. So at most `concurrency` × 10 jobs are in flight.
//!
//! On shutdown the pollers stop receiving; batches in flight are finished (bounded by the
//! retry policy's `max_elapsed`) and deleted as usual. Nothing else is deleted: every message
//! not delivered stays in the queue, to be delivered by the next consumer.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName,
};
use tokio::sync::watch;

use crate::Sender;
use crate::jobs::{BatchCounts, JobMessage};

/// How the worker polls.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerConfig {
    /// The queue's URL (soketi's `queue.sqs.queueUrl`).
    pub queue_url: String,
    /// Pollers, each with one batch in flight at most (default 4).
    pub concurrency: usize,
    /// Messages per receive, 1 to 10 (default 10).
    pub batch_size: u8,
    /// Long polling: seconds a receive waits for messages, 0 to 20 (default 20).
    pub wait_seconds: u8,
    /// How long received messages stay invisible to other consumers; extended every half of
    /// it while their batch is being delivered (default 60 s).
    pub visibility_timeout: Duration,
}

impl WorkerConfig {
    /// The defaults for the queue at `queue_url`.
    pub fn new(queue_url: impl Into<String>) -> Self {
        WorkerConfig {
            queue_url: queue_url.into(),
            concurrency: 4,
            batch_size: 10,
            wait_seconds: 20,
            visibility_timeout: Duration::from_secs(60),
        }
    }

    /// Sets the number of pollers (at least 1).
    pub fn concurrency(mut self, pollers: usize) -> Self {
        self.concurrency = pollers.max(1);
        self
    }

    /// Sets the messages per receive (1 to 10).
    pub fn batch_size(mut self, messages: u8) -> Self {
        self.batch_size = messages.clamp(1, 10);
        self
    }

    /// Sets the long-polling wait (0 to 20 s).
    pub fn wait_seconds(mut self, seconds: u8) -> Self {
        self.wait_seconds = seconds.min(20);
        self
    }

    /// Sets the visibility timeout (at least 2 s, whole seconds).
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout.max(Duration::from_secs(2));
        self
    }
}

/// What the worker has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerProgress {
    /// Jobs by outcome.
    pub jobs: BatchCounts,
    /// Messages received and not yet finished.
    pub in_flight: usize,
    /// Receives that failed (and were retried).
    pub receive_errors: u64,
    /// Delivered messages whose deletion failed: they will be delivered again.
    pub delete_errors: u64,
}

/// Why the worker stopped on its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The queue cannot be read: it does not exist, or access is denied. Fix the URL or the
    /// credentials.
    #[error("cannot receive from the queue {queue_url}: {message}")]
    Queue {
        /// The queue.
        queue_url: String,
        /// The service's error.
        message: String,
    },
}

impl WorkerError {
    /// The stable name: `Queue`.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkerError::Queue { .. } => "Queue",
        }
    }
}

/// A consumer of soketi's SQS webhook queue; see the module docs.
///
/// ```no_run
/// use soketi_lambda_sender::config::parse_apps_file;
/// use soketi_lambda_sender::worker::{Worker, WorkerConfig};
/// use soketi_lambda_sender::Sender;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let sender = Sender::builder().apps(parse_apps_file(&std::fs::read_to_string("apps.json")?)?).build().await?;
/// let sqs = aws_sdk_sqs::Client::new(&soketi_handler_kit::aws::config_loader().load().await);
/// let worker = Worker::new(sender, sqs, WorkerConfig::new("https://sqs.eu-west-1.amazonaws.com/123456789012/soketi.fifo"));
/// // Runs for an hour, then finishes the batches in flight (a CLI would wait for a signal).
/// let done = worker.run(tokio::time::sleep(std::time::Duration::from_secs(3600))).await?;
/// eprintln!("{}", done.jobs);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Worker {
    sender: Sender,
    client: Client,
    config: Arc<WorkerConfig>,
    progress: Arc<Mutex<WorkerProgress>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker delivering with `sender` the jobs of the queue `config.queue_url`, read with
    /// `client`.
    pub fn new(sender: Sender, client: Client, config: WorkerConfig) -> Self {
        Worker {
            sender,
            client,
            config: Arc::new(config),
            progress: Arc::new(Mutex::new(WorkerProgress::default())),
        }
    }

    /// What it has done so far.
    pub fn progress(&self) -> WorkerProgress {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut WorkerProgress)) {
        f(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Polls and delivers until `shutdown` completes (then finishes the batches in flight), or
    /// until the queue cannot be read at all.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<WorkerProgress, WorkerError> {
        let (stop, stopped) = watch::channel(false);
        let mut pollers = tokio::task::JoinSet::new();
        for _ in 0..self.config.concurrency {
            let worker = self.clone();
            let stopped = stopped.clone();
            pollers.spawn(async move { worker.poll(stopped).await });
        }
        tokio::pin!(shutdown);
        let mut result = Ok(());
        let mut stopping = false;
        loop {
            tokio::select! {
                () = &mut shutdown, if !stopping => {
                    stopping = true;
                    let _ = stop.send(true);
                }
                joined = pollers.join_next() => match joined {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => {
                        // One poller cannot read the queue: none can. Stop them all.
                        if result.is_ok() {
                            result = Err(e);
                        }
                        stopping = true;
                        let _ = stop.send(true);
                    }
                    Some(Err(e)) => tracing::error!("a poller task failed: {e}"),
                },
            }
        }
        result.map(|()| self.progress())
    }

    async fn poll(&self, mut stopped: watch::Receiver<bool>) -> Result<(), WorkerError> {
        let config = &self.config;
        let visibility = i32::try_from(config.visibility_timeout.as_secs()).unwrap_or(43_200);
        loop {
            if *stopped.borrow() {
                return Ok(());
            }
            let receive = self
                .client
                .receive_message()
                .queue_url(&config.queue_url)
                .max_number_of_messages(i32::from(config.batch_size))
                .wait_time_seconds(i32::from(config.wait_seconds))
                .visibility_timeout(visibility)
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .send();
            let received = tokio::select! {
                received = receive => received,
                _ = stopped.changed() => return Ok(()),
            };
            let messages = match received {
                Ok(output) => output.messages.unwrap_or_default(),
                Err(e) => {
                    let code = e.code().unwrap_or_default().to_owned();
                    let message = e
                        .message()
                        .map(str::to_owned)
                        .unwrap_or_else(|| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string());
                    if [
                        "NonExistentQueue",
                        "QueueDoesNotExist",
                        "AccessDenied",
                        "InvalidAddress",
                    ]
                    .iter()
                    .any(|fatal| code.contains(fatal))
                    {
                        return Err(WorkerError::Queue {
                            queue_url: config.queue_url.clone(),
                            message: format!("{code}: {message}"),
                        });
                    }
                    tracing::warn!(code = %code, "receiving from the queue failed, retrying in 1 s: {message}");
                    self.update(|p| p.receive_errors += 1);
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stopped.changed() => return Ok(()),
                    }
                    continue;
                }
            };
            if !messages.is_empty() {
                self.deliver_batch(messages, visibility).await;
            }
        }
    }

    /// Delivers one received batch, keeping it invisible meanwhile, and deletes what was
    /// delivered.
    async fn deliver_batch(&self, messages: Vec<aws_sdk_sqs::types::Message>, visibility: i32) {
        let count = messages.len();
        self.update(|p| p.in_flight += count);
        // (id, receipt handle) of each message; the id is the message id, unique in a batch.
        let mut receipts = Vec::with_capacity(count);
        let mut jobs = Vec::with_capacity(count);
        for message in messages {
            let (Some(id), Some(receipt)) = (message.message_id, message.receipt_handle) else {
                tracing::error!("SQS returned a message without an id or receipt handle");
                continue;
            };
            let group = message
                .attributes
                .and_then(|mut a| a.remove(&MessageSystemAttributeName::MessageGroupId));
            receipts.push((id.clone(), receipt));
            jobs.push(JobMessage::new(id, group, message.body.unwrap_or_default()));
        }
        let heartbeat = tokio::spawn(self.clone().extend_visibility(receipts.clone(), visibility));
        let outcome = self.sender.deliver_jobs(jobs).await;
        heartbeat.abort();
        let delivered: Vec<&(String, String)> = receipts
            .iter()
            .filter(|(id, _)| {
                outcome
                    .outcomes
                    .iter()
                    .any(|(o, r)| o == id && r.is_delivered())
            })
            .collect();
        let mut delete_errors = 0;
        for chunk in delivered.chunks(10) {
            let entries: Vec<DeleteMessageBatchRequestEntry> = chunk
                .iter()
                .filter_map(|(id, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"))
                        .receipt_handle(receipt)
                        .build()
                        .ok()
                })
                .collect();
            match self
                .client
                .delete_message_batch()
                .queue_url(&self.config.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) => delete_errors += output.failed.len() as u64,
                Err(e) => {
                    tracing::warn!(
                        "deleting delivered messages failed; they will be delivered again: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    );
                    delete_errors += chunk.len() as u64;
                }
            }
        }
        let counts = outcome.counts();
        self.update(|p| {
            p.in_flight -= count;
            p.jobs.add(counts);
            p.delete_errors += delete_errors;
        });
    }

    /// Every half visibility timeout, makes the batch's messages invisible for another full
    /// timeout; runs until aborted.
    async fn extend_visibility(self, receipts: Vec<(String, String)>, visibility: i32) {
        let every = Duration::from_secs(u64::try_from(visibility / 2).unwrap_or(1).max(1));
        loop {
            tokio::time::sleep(every).await;
            for chunk in receipts.chunks(10) {
                let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
                    .iter()
                    .filter_map(|(id, receipt)| {
                        ChangeMessageVisibilityBatchRequestEntry::builder()
                            .id(id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"))
                            .receipt_handle(receipt)
                            .visibility_timeout(visibility)
                            .build()
                            .ok()
                    })
                    .collect();
                if let Err(e) = self
                    .client
                    .change_message_visibility_batch()
                    .queue_url(&self.config.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                {
                    tracing::warn!(
                        "extending the visibility of a batch in delivery failed: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    );
                }
            }
        }
    }
}
