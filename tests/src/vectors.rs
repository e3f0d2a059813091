//! The requests the real soketi 1.6.1 made, recorded byte for byte
//! (`handler-kit/tests/vectors/soketi-1.6.1/`, described by its `manifest.json`).
//!
//! The one loader of them: this crate's tests use it as `soketi_e2e_tests::vectors`, and the
//! sender's tests include this very file (`#[path]` in `sender/tests/common/mod.rs`), so it
//! depends on nothing but serde, serde_json and the kit, and finds the folder from the
//! including crate's manifest directory (every crate of the workspace is one level down).

use std::path::PathBuf;

use serde::Deserialize;
use soketi_handler_kit::wire::write_lambda_body;

/// The folder of the recorded requests.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../handler-kit/tests/vectors/soketi-1.6.1")
}

#[derive(Debug, Deserialize)]
struct Manifest {
    files: Vec<Vector>,
}

/// One recorded request.
#[derive(Debug, Clone, Deserialize)]
pub struct Vector {
    pub file: String,
    /// `lambda-invoke` (the file is the invocation body) or `http-post` (the file is the POST
    /// body; the headers are in `http_headers`).
    pub transport: String,
    pub invocation_type: Option<String>,
    /// The function invoked (`lambda-invoke`).
    pub function: Option<String>,
    pub app_key: String,
    pub app_secret: String,
    /// The event names in the payload, in order.
    pub events: Vec<String>,
    #[serde(default)]
    pub http_headers: Vec<(String, String)>,
    pub step: String,
}

impl Vector {
    /// Whether the file is a Lambda invocation body (else an HTTP POST body).
    pub fn is_lambda(&self) -> bool {
        self.transport == "lambda-invoke"
    }

    /// The value of a recorded HTTP header (`http-post`), by exact name.
    pub fn http_header(&self, name: &str) -> Option<&str> {
        self.http_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path of the recorded file.
    pub fn path(&self) -> PathBuf {
        dir().join(&self.file)
    }

    /// The recorded bytes, exactly as soketi sent them.
    pub fn raw(&self) -> Vec<u8> {
        let path = self.path();
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// A Lambda invocation body for this request: the file itself for `lambda-invoke`; for
    /// `http-post` the envelope `{"payload":<the recorded body, verbatim>,"headers":{<the
    /// recorded headers, in order>}}`.
    pub fn lambda_body(&self) -> Vec<u8> {
        let raw = self.raw();
        match self.transport.as_str() {
            "lambda-invoke" => raw,
            "http-post" => {
                assert!(
                    !self.http_headers.is_empty(),
                    "{}: http-post vector without headers",
                    self.file
                );
                let payload = std::str::from_utf8(raw.trim_ascii()).expect("UTF-8 body");
                write_lambda_body(payload, &self.http_headers).into_bytes()
            }
            other => panic!("{}: unknown transport {other}", self.file),
        }
    }
}

/// Every recorded request listed in the manifest.
pub fn all() -> Vec<Vector> {
    let path = dir().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let manifest: Manifest = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    assert!(!manifest.files.is_empty(), "empty manifest");
    manifest.files
}
