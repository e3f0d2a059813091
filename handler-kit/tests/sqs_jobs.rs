//! soketi 1.6.1's queue jobs, as the real soketi wrote them to an SQS FIFO queue
//! (`tests/vectors/sqs-jobs/`, recorded by the `record` script there): each one reads, verifies
//! over the payload's exact bytes, holds the events the manifest lists, and is written back
//! byte for byte by the kit's writers.

use serde_json::Value;
use sha2::{Digest, Sha256};
use soketi_handler_kit::wire::{Event, JOB_QUEUES, Payload, QueueJob, Secret, write_job};
use soketi_handler_kit::{ErrorKind, Keyring, Rejection, Verified, Verifier};

/// Checks `job`'s signature with `secrets` of its app, as a consumer of the queue does.
fn verify<'a>(job: &QueueJob<'a>, secrets: &[&str]) -> Result<Verified<'a>, Rejection> {
    let keyring = secrets.iter().fold(Keyring::new(), |keyring, secret| {
        keyring.app(job.app_key(), secret)
    });
    let signature = job.signature().to_string();
    Verifier::new(keyring).verify_parts(
        job.payload_json().as_bytes(),
        Some(job.app_key()),
        Some(&signature),
    )
}

struct Recorded {
    file: String,
    body: String,
    group: String,
    dedup: String,
    events: Vec<String>,
    batching: bool,
}

fn recorded() -> (Vec<Recorded>, String, String, String) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/sqs-jobs");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/manifest.json")).unwrap())
            .unwrap();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap().to_owned();
    let jobs = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Recorded {
            file: text(f, "file"),
            body: std::fs::read_to_string(format!("{dir}/{}", text(f, "file"))).unwrap(),
            group: text(f, "message_group_id"),
            dedup: text(f, "message_deduplication_id"),
            events: f["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect(),
            batching: f["batching"].as_bool().unwrap(),
        })
        .collect();
    (
        jobs,
        text(&manifest, "app_id"),
        text(&manifest, "app_key"),
        text(&manifest, "app_secret"),
    )
}

#[test]
fn every_recorded_job_verifies_and_holds_its_events() {
    let (jobs, app_id, app_key, secret) = recorded();
    assert!(jobs.len() >= 20, "too few recorded jobs: {}", jobs.len());
    assert!(jobs.iter().any(|j| j.batching && j.events.len() > 1));
    for job in &jobs {
        let parsed = QueueJob::parse(&job.body).unwrap_or_else(|e| panic!("{}: {e}", job.file));
        assert_eq!((parsed.app_key(), parsed.app_id()), (&*app_key, &*app_id));
        let verified = verify(&parsed, &[&secret]).unwrap_or_else(|e| panic!("{}: {e}", job.file));
        let events: Vec<Event> = verified
            .payload()
            .events()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", job.file));
        let names: Vec<&str> = events.iter().map(Event::name).collect();
        assert_eq!(names, job.events, "{}", job.file);
        // The payload re-written by the kit is the bytes soketi signed, and so is the job.
        let rewritten = Payload::new(verified.payload().time_ms(), events).to_json();
        assert_eq!(rewritten, parsed.payload_json(), "{}", job.file);
        assert_eq!(
            write_job(&app_key, &app_id, &rewritten, &Secret::new(&secret)),
            job.body,
            "{}",
            job.file
        );
    }
}

#[test]
fn message_groups_and_deduplication_ids_are_as_soketi_sets_them() {
    let (jobs, app_id, _, _) = recorded();
    for job in &jobs {
        let queue = job
            .group
            .strip_prefix(&format!("{app_id}_"))
            .unwrap_or_else(|| panic!("{}: group {}", job.file, job.group));
        assert!(JOB_QUEUES.contains(&queue), "{}: {queue}", job.file);
        assert_eq!(
            job.dedup,
            hex::encode(Sha256::digest(job.body.as_bytes())),
            "{}",
            job.file
        );
        // Unbatched, each job sits in the queue of its event type.
        if !job.batching {
            assert_eq!(queue, format!("{}_webhooks", job.events[0]), "{}", job.file);
        }
    }
}

#[test]
fn a_previous_secret_verifies_and_a_changed_byte_does_not() {
    let (jobs, _, _, secret) = recorded();
    let rotated = ["the-new-secret", secret.as_str()];
    for job in &jobs {
        let parsed = QueueJob::parse(&job.body).unwrap();
        // Signed by the previous secret: it verifies with it, not with the new one alone.
        assert!(verify(&parsed, &rotated).is_ok(), "{}", job.file);
        assert_eq!(
            verify(&parsed, &rotated[..1]).unwrap_err().kind(),
            ErrorKind::InvalidSignature
        );
        // One byte of the payload changed (a channel name's first letter): rejected.
        let at = job.body.find("\"channel\":\"").unwrap() + 11;
        let mut tampered = job.body.clone().into_bytes();
        tampered[at] ^= 0x01;
        let tampered = String::from_utf8(tampered).unwrap();
        let error = verify(&QueueJob::parse(&tampered).unwrap(), &[&secret]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidSignature, "{}", job.file);
    }
}
