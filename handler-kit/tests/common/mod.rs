//! Loading the recorded soketi 1.6.1 requests (`tests/vectors/soketi-1.6.1`).
#![allow(dead_code)]

#[cfg(feature = "http")]
pub mod shapes;

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub files: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
pub struct Vector {
    pub file: String,
    pub transport: String,
    pub app_key: String,
    pub app_secret: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub http_headers: Vec<(String, String)>,
}

impl Vector {
    pub fn is_lambda(&self) -> bool {
        self.transport == "lambda-invoke"
    }

    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(dir().join(&self.file)).expect("vector file")
    }
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/soketi-1.6.1")
}

pub fn manifest() -> Manifest {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("manifest");
    let manifest: Manifest = serde_json::from_str(&text).expect("manifest JSON");
    assert!(
        manifest.files.len() >= 10,
        "the manifest lists the recorded requests"
    );
    manifest
}

/// `body` (a soketi envelope) through [`Webhooks::verify_and_receive`], as its summary.
pub async fn summary(
    webhooks: &soketi_handler_kit::Webhooks,
    body: &[u8],
    request_id: &str,
) -> Result<soketi_handler_kit::Summary, soketi_handler_kit::Error> {
    let response = webhooks.verify_and_receive(body, request_id).await?;
    Ok(response
        .into_summary()
        .expect("an envelope is answered with a summary"))
}
