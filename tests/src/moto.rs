//! A moto server on 127.0.0.1 (Secrets Manager, SSM, DynamoDB as their real APIs), started by
//! the tests themselves: one per test binary, stopped when it exits. Fake credentials; nothing
//! leaves loopback. `scripts/deploy-check` starts its own for the template (it is a shell
//! script); this is the one place the Rust tests start it.

use std::net::TcpStream;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::process::ProcessGuard;
use crate::tools::{free_tcp_port, moto_server, run_dir};

/// The region every client and the function use.
pub const REGION: &str = "us-east-1";
/// The fake credentials moto accepts.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    process: Mutex<ProcessGuard>,
    port: u16,
}

impl Moto {
    /// One server per test binary; the binary's exit hook stops it.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    fn start() -> Moto {
        let port = free_tcp_port();
        let log = run_dir().join("moto.log");
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
        aws_config::defaults(aws_config::BehaviorVersion::latest())
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
