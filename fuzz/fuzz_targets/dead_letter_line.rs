//! Any bytes as a dead-letter file: each line a letter or a reported skip, never a panic. A
//! letter read writes back as a line that reads as the same letter (but for a URL's password,
//! which a dead letter never stores: it is written as `***`) and writes the same, and rebuilding
//! its request (to the target named in the file) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_lambda_sender::config::Target;
use soketi_lambda_sender::deliver::{DeadLetter, Replay, parse_dead_letters};

fuzz_target!(|bytes: &[u8]| {
    let file = parse_dead_letters(bytes);
    for error in &file.skipped {
        assert!(error.line >= 1);
        assert!(!error.to_string().is_empty());
    }
    let anywhere = Replay::new().unconfigured_targets(true);
    for (line, letter) in &file.letters {
        assert!(file.line_bytes(*line).is_some());
        let written = letter.to_json_line();
        assert!(!written.contains('\n'), "{written}");
        let again = DeadLetter::from_json_line(&written)
            .unwrap_or_else(|e| panic!("{written} reads back as an error: {e}"));
        let password_written = match &letter.target {
            Target::Http(http) => http.url.has_password() && !http.url.password_hidden(),
            _ => false,
        };
        if !password_written {
            assert_eq!(&again, letter, "{written}");
        }
        assert_eq!(again.to_json_line(), written);
        let _ = letter.to_request(&[], &anywhere);
        let _ = letter.to_request(&[], &anywhere.resign_at(1));
    }
});
