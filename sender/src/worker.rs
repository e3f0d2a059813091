//! A long-running consumer of soketi's SQS webhook queue (feature `worker`): for those who do
//! not want Lambda between the queue and the webhooks.
//!
//! [`Worker::run`] runs `concurrency` pollers. Each long-polls the queue for a batch (up to 10
//! messages), delivers it with [`Sender::deliver_jobs`](crate::Sender::deliver_jobs) (FIFO
//! order per message group, a group stopping at its first failure), keeps the batch's messages invisible while it works
//! (visibility extended every half timeout, so a slow webhook does not let another consumer
//! take them), then deletes the delivered ones. Failed jobs are left to
//! reappear when their visibility timeout ends — a backoff — and the queue's redrive policy
//! moves those that keep failing to its dead-letter queue. Jobs not tried (behind a failure of
//! their group, or out of time) are made visible again at once; rejected jobs are sent to the
//! dead-letter queue at once ([`WorkerConfig::dead_letter_queue_url`]), or made visible again
//! at once so that the redrive policy moves them within seconds. So at most
//! `concurrency` × 10 jobs are in flight. A queue no receive reaches
//! ([`WorkerConfig::max_receive_failures`] in a row, with backoff) stops the worker with
//! [`WorkerError::Queue`].
//!
//! On shutdown the pollers stop receiving: a receive in flight is let finish (within the
//! long-polling wait) and what it got is made visible again at once; batches in flight are
//! finished (bounded by the retry policy's `max_elapsed`) and deleted as usual. With
//! [`WorkerConfig::drain`] each poller stops once a receive finds the queue empty. Nothing else is deleted: every message
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

use crate::deliver::Deadline;
use std::io::Write as _;

use crate::jobs::{
    BatchCounts, BatchMetrics, DeadLetterQueue, JobMessage, JobOutcome, JobSender, emf_line,
};

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
    /// Receives in a row that may fail (the queue unreachable, no credentials) before the
    /// worker gives up with [`WorkerError::Queue`] (default 5, about 30 s of backoff).
    pub max_receive_failures: u32,
    /// Where rejected jobs are moved at once (see [`DeadLetterQueue`]); without it they are
    /// made visible again at once, and the queue's redrive policy moves them after
    /// `maxReceiveCount` receives.
    pub dead_letter_queue_url: Option<String>,
    /// When set, one CloudWatch Embedded Metric Format line per batch on standard output,
    /// with this as its `Function` dimension (see [`emf_line`]).
    pub metrics_function: Option<String>,
    /// Stop once a receive finds no message (for batch jobs and tests); messages in flight
    /// elsewhere, or waiting out a visibility timeout, are not waited for.
    pub drain: bool,
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
            max_receive_failures: 5,
            dead_letter_queue_url: None,
            metrics_function: None,
            drain: false,
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

    /// Sets how many receives in a row may fail before the worker gives up (at least 1).
    pub fn max_receive_failures(mut self, failures: u32) -> Self {
        self.max_receive_failures = failures.max(1);
        self
    }

    /// Sets the dead-letter queue rejected jobs are moved to.
    pub fn dead_letter_queue_url(mut self, url: impl Into<String>) -> Self {
        self.dead_letter_queue_url = Some(url.into());
        self
    }

    /// Prints one Embedded Metric Format line per batch, dimension `Function` = `function`.
    pub fn metrics_function(mut self, function: impl Into<String>) -> Self {
        self.metrics_function = Some(function.into());
        self
    }

    /// Stops each poller once a receive finds no message.
    pub fn drain(mut self, drain: bool) -> Self {
        self.drain = drain;
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
    /// Rejected jobs moved to the dead-letter queue.
    pub dead_lettered: u64,
}

/// Why the worker stopped on its own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The queue cannot be read: it does not exist, access is denied, or every receive failed
    /// (unreachable, no credentials) for [`WorkerConfig::max_receive_failures`] tries in a row.
    /// Fix the URL, the endpoint or the credentials.
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
    sender: JobSender,
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
    /// A worker delivering with `sender` (a [`Sender`](crate::Sender), or a [`JobSender`]
    /// keeping soketi's apps current from a secret store) the jobs of the queue
    /// `config.queue_url`, read with `client`.
    pub fn new(sender: impl Into<JobSender>, client: Client, config: WorkerConfig) -> Self {
        Worker {
            sender: sender.into(),
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
        let mut failures_in_a_row = 0u32;
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
            // A receive in flight is not dropped on shutdown: SQS would still hand it messages,
            // invisible for a whole timeout to everyone. It ends (within the long-polling
            // wait), and what it got is handed back below.
            let received = receive.await;
            // The messages stay this worker's while its heartbeat extends their visibility, so
            // the batch is bounded by the retry policy, not by the first visibility timeout (a
            // fixed deadline there would starve a target slower than a short timeout).
            let deadline = Deadline::none();
            let messages = match received {
                Ok(output) => {
                    failures_in_a_row = 0;
                    output.messages.unwrap_or_default()
                }
                Err(_) if *stopped.borrow() => return Ok(()),
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
                    failures_in_a_row += 1;
                    self.update(|p| p.receive_errors += 1);
                    if failures_in_a_row >= config.max_receive_failures {
                        return Err(WorkerError::Queue {
                            queue_url: config.queue_url.clone(),
                            message: format!(
                                "{failures_in_a_row} receives in a row failed; the last: \
                                 {code}{}{message}",
                                if code.is_empty() { "" } else { ": " }
                            ),
                        });
                    }
                    // 1, 2, 4, 8, ... s, at most 16.
                    let wait = Duration::from_secs(1 << (failures_in_a_row - 1).min(4));
                    tracing::warn!(
                        code = %code,
                        queue_url = %config.queue_url,
                        "receiving from the queue failed ({failures_in_a_row} in a row), retrying \
                         in {} s: {message}",
                        wait.as_secs()
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stopped.changed() => return Ok(()),
                    }
                    continue;
                }
            };
            if *stopped.borrow() {
                let receipts: Vec<(String, String)> = messages
                    .into_iter()
                    .filter_map(|m| Some((m.message_id?, m.receipt_handle?)))
                    .collect();
                self.change_visibility(&receipts, 0).await;
                return Ok(());
            }
            if messages.is_empty() && config.drain {
                return Ok(());
            }
            if !messages.is_empty() {
                self.deliver_batch(messages, visibility, deadline).await;
            }
        }
    }

    /// Delivers one received batch, keeping it invisible meanwhile, and deletes what was
    /// delivered.
    async fn deliver_batch(
        &self,
        messages: Vec<aws_sdk_sqs::types::Message>,
        visibility: i32,
        deadline: Deadline,
    ) {
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
        let outcome = self.sender.deliver_jobs(jobs.clone(), deadline).await;
        heartbeat.abort();
        let moved = match &self.config.dead_letter_queue_url {
            Some(url) => {
                DeadLetterQueue::new(self.client.clone(), url)
                    .move_rejected(&jobs, &outcome)
                    .await
            }
            None => Vec::new(),
        };
        // Not tried (skipped), and rejected jobs not moved: visible again at once, so that the
        // next consumer takes them (or the redrive policy moves them) without waiting out the
        // visibility timeout. A failed job waits it out: that is its backoff.
        let release: Vec<(String, String)> = receipts
            .iter()
            .filter(|(id, _)| {
                outcome.outcomes.iter().any(|(o, r)| {
                    o == id
                        && match r {
                            JobOutcome::Skipped => true,
                            JobOutcome::Rejected(_) => !moved.contains(id),
                            _ => false,
                        }
                })
            })
            .cloned()
            .collect();
        self.change_visibility(&release, 0).await;
        let delivered: Vec<&(String, String)> = receipts
            .iter()
            .filter(|(id, _)| {
                moved.contains(id)
                    || outcome
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
        if let Some(function) = &self.config.metrics_function {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let metrics = BatchMetrics::of(&outcome, moved.len());
            // A closed standard output loses the line, never the batch.
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                emf_line(function, &metrics, now_ms)
            );
        }
        self.update(|p| {
            p.in_flight -= count;
            p.jobs.add(counts);
            p.delete_errors += delete_errors;
            p.dead_lettered += moved.len() as u64;
        });
    }

    /// Every half visibility timeout, makes the batch's messages invisible for another full
    /// timeout; runs until aborted.
    async fn extend_visibility(self, receipts: Vec<(String, String)>, visibility: i32) {
        let every = Duration::from_secs(u64::try_from(visibility / 2).unwrap_or(1).max(1));
        loop {
            tokio::time::sleep(every).await;
            self.change_visibility(&receipts, visibility).await;
        }
    }

    /// Sets the visibility timeout of the messages `receipts` to `visibility` seconds (0: they
    /// are visible again now).
    async fn change_visibility(&self, receipts: &[(String, String)], visibility: i32) {
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
                    "changing the visibility of received messages to {visibility} s failed: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                );
            }
        }
    }
}
