//! A moto server on 127.0.0.1 (Secrets Manager, SSM, DynamoDB, SQS as their real APIs), started
//! by the tests themselves: one shared per test binary ([`Moto::shared`]) or one of a test's
//! own ([`Moto::start`]), stopped when it is dropped or the binary exits. Fake credentials;
//! nothing leaves loopback. A small SQS client speaking SQS's JSON protocol is here too (moto
//! checks no signature). `scripts/deploy-check` starts its own for the template (it is a shell
//! script); this is the one place the Rust tests start it.

use std::net::TcpStream;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::process::ProcessGuard;
use crate::tools::{free_tcp_port, moto_server, run_dir};

/// The region every client and the function use.
pub const REGION: &str = "us-east-1";
/// The account moto uses in ARNs.
pub const ACCOUNT: &str = "123456789012";
/// The fake credentials moto accepts.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    process: Mutex<ProcessGuard>,
    pub port: u16,
    agent: ureq::Agent,
}

impl Moto {
    /// One server per test binary; the binary's exit hook stops it.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(|| Moto::start("moto"))
    }

    /// A server of the caller's own, logging to `<name>.log` in the run directory.
    pub fn start(name: &str) -> Moto {
        let port = free_tcp_port();
        let log = run_dir().join(format!("{name}.log"));
        let mut command = Command::new(moto_server());
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        let process = ProcessGuard::spawn("moto_server", command, &log);
        let moto = Moto {
            process: Mutex::new(process),
            port,
            agent: crate::lambda::agent(Duration::from_secs(30)),
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let mut process = moto.process.lock().unwrap();
            if let Some(status) = process.exit_status() {
                panic!(
                    "moto_server exited ({status}) at start\n{}",
                    process.log_tail(30)
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "moto_server did not listen on 127.0.0.1:{port} within {READY_TIMEOUT:?}\n{}",
                    process.log_tail(30)
                );
            }
            drop(process);
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The AWS configuration of a client of this server: its endpoint, the fake credentials,
    /// [`REGION`].
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        let credentials = aws_credential_types::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "moto",
        );
        soketi_handler_kit::aws::config_loader()
            .region(aws_config::Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(credentials)
            .load()
            .await
    }

    /// The environment that points a function's AWS SDK at this server.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.process
            .lock()
            .map(|p| p.log_tail(lines))
            .unwrap_or_default()
    }

    /// Calls SQS action `action` with `input`; panics on an error answer.
    pub fn sqs(&self, action: &str, input: Value) -> Value {
        let mut response = self
            .agent
            .post(&format!("{}/", self.endpoint_url()))
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

/// A name no other test of this run uses: `<prefix>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Creates a DynamoDB table as the template's idempotency table is: partition key `id` (a
/// string), on demand, TTL on `expires_at`.
pub async fn create_idempotency_table(aws: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("create the idempotency table in moto");
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(true)
                .build()
                .expect("ttl specification"),
        )
        .send()
        .await
        .expect("enable TTL on the idempotency table");
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
