//! Any text as soketi's apps file, read by the sender: apps or a typed error naming a field,
//! never a panic. Apps read are valid, and the receiver's reader (`parse_apps_file_credentials`,
//! used by `soketi-lambda verify --apps`) finds the same apps by the same rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_lambda_sender::config::{parse_apps_file, parse_apps_file_credentials};

fuzz_target!(|text: &str| {
    match parse_apps_file(text) {
        Ok(apps) => {
            let secrets = parse_apps_file_credentials(text)
                .unwrap_or_else(|e| panic!("the sender reads apps, the receiver's reader: {e}"));
            let ids: Vec<(&str, &str)> = apps
                .iter()
                .map(|a| (a.id.as_str(), a.key.as_str()))
                .collect();
            let same: Vec<(&str, &str)> = secrets
                .iter()
                .map(|a| (a.id.as_str(), a.key.as_str()))
                .collect();
            assert_eq!(ids, same);
            for app in &apps {
                app.validate().expect("an app read is valid");
                let _ = format!("{app:?}");
                for webhook in &app.webhooks {
                    let _ = webhook.target.describe();
                }
            }
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            let _ = error.kind().as_str();
        }
    }
});
