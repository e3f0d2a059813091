//! Loading the recorded soketi 1.6.1 requests (`tests/vectors/soketi-1.6.1`).
#![allow(dead_code)]

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
