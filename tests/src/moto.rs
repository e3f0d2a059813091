//! A local moto server (`moto_server` from the project's virtualenv, installed by
//! `scripts/setup-tools`) on 127.0.0.1 and a free port, and a small SQS client for it speaking
//! SQS's JSON protocol (moto checks no signature; fake credentials are given to everyone else).

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::process::{ProcessGuard, poll_until};
use crate::tools::{free_tcp_port, repo_root, run_dir};

/// The account moto uses in ARNs.
pub const ACCOUNT: &str = "123456789012";
/// The region everything runs in.
pub const REGION: &str = "us-east-1";

/// A running moto server.
pub struct Moto {
    process: ProcessGuard,
    pub port: u16,
    agent: ureq::Agent,
}

/// One message as `ReceiveMessage` returns it.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub receipt_handle: String,
    pub body: String,
    /// System attributes (`MessageGroupId`, `ApproximateReceiveCount`, …).
    pub attributes: serde_json::Map<String, Value>,
}

impl Message {
    pub fn group(&self) -> Option<&str> {
        self.attributes
            .get("MessageGroupId")
            .and_then(Value::as_str)
    }
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers.
    pub fn start(name: &str) -> Moto {
        let binary = repo_root().join(".tools/venv/bin/moto_server");
        assert!(
            binary.is_file(),
            "moto_server not found at {}: run `scripts/setup-tools` (it installs the pinned \
             moto into .tools/venv)",
            binary.display()
        );
        let port = free_tcp_port();
        let mut command = Command::new(binary);
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.to_ascii_lowercase().ends_with("_proxy") {
                command.env_remove(&key);
            }
        }
        let log = run_dir().join(format!("{name}.log"));
        let mut moto = Moto {
            process: ProcessGuard::spawn("moto_server", command, &log),
            port,
            agent: crate::lambda::agent(Duration::from_secs(30)),
        };
        let url = format!("{}/moto-api/", moto.endpoint());
        let agent = crate::lambda::agent(Duration::from_secs(2));
        let process = &mut moto.process;
        let tail = process.log_path().to_path_buf();
        poll_until(
            "moto_server to answer",
            Duration::from_secs(60),
            Duration::from_millis(100),
            || {
                if let Some(status) = process.exit_status() {
                    panic!(
                        "moto_server exited ({status})\n{}",
                        crate::process::log_tail(&tail, 40)
                    );
                }
                agent.get(&url).call().ok().map(|_| ())
            },
            || crate::process::log_tail(&tail, 40),
        );
        moto
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }

    /// Calls SQS action `action` with `input`; panics on an error answer.
    pub fn sqs(&self, action: &str, input: Value) -> Value {
        let mut response = self
            .agent
            .post(&format!("{}/", self.endpoint()))
            .header("X-Amz-Target", &format!("AmazonSQS.{action}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .send(input.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("SQS {action}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert!(status == 200, "SQS {action} answered {status}: {text}");
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("SQS {action}: {e}: {text}"))
        }
    }

    /// Creates a FIFO queue (content-based deduplication off: soketi sets the id) with
    /// `attributes`; returns its URL.
    pub fn create_fifo_queue(&self, name: &str, attributes: Value) -> String {
        let mut attrs = json!({"FifoQueue": "true", "ContentBasedDeduplication": "false"});
        if let (Some(into), Some(from)) = (attrs.as_object_mut(), attributes.as_object()) {
            into.extend(from.clone());
        }
        let answer = self.sqs(
            "CreateQueue",
            json!({"QueueName": name, "Attributes": attrs}),
        );
        answer["QueueUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("CreateQueue: {answer}"))
            .to_owned()
    }

    /// The queue's ARN.
    pub fn queue_arn(&self, url: &str) -> String {
        let name = url.rsplit('/').next().unwrap_or(url);
        format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
    }

    /// Up to `max` messages (long polling up to `wait_seconds`), with every system attribute.
    pub fn receive(&self, url: &str, max: u32, wait_seconds: u32) -> Vec<Message> {
        let answer = self.sqs(
            "ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": max, "WaitTimeSeconds": wait_seconds,
                   "AttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}),
        );
        answer["Messages"]
            .as_array()
            .map(|messages| {
                messages
                    .iter()
                    .map(|m| Message {
                        id: m["MessageId"].as_str().unwrap_or_default().to_owned(),
                        receipt_handle: m["ReceiptHandle"].as_str().unwrap_or_default().to_owned(),
                        body: m["Body"].as_str().unwrap_or_default().to_owned(),
                        attributes: m["Attributes"].as_object().cloned().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn delete(&self, url: &str, receipt_handle: &str) {
        self.sqs(
            "DeleteMessage",
            json!({"QueueUrl": url, "ReceiptHandle": receipt_handle}),
        );
    }

    /// `ApproximateNumberOfMessages` + `…NotVisible` (moto's are exact).
    pub fn count(&self, url: &str) -> (u64, u64) {
        let answer = self.sqs(
            "GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
        );
        let number = |k: &str| {
            answer["Attributes"][k]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            number("ApproximateNumberOfMessages"),
            number("ApproximateNumberOfMessagesNotVisible"),
        )
    }
}

/// The SQS event Lambda's event source mapping would hand a function for `messages` of the
/// queue `queue_arn`.
pub fn sqs_event(messages: &[Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": m.attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}
