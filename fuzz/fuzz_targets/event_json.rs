//! Any text as one event: decoded or a typed error; a decoded event prints as JSON that reads
//! back and prints the same, and its client data reads as a JSON value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_handler_kit::wire::Event;

fuzz_target!(|text: &str| {
    if let Ok(event) = Event::from_json(text) {
        let json = event.to_json();
        let again = Event::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(again.to_json(), json);
        if let Event::ClientEvent(ev) = &event {
            let _ = ev.data_as::<serde_json::Value>();
        }
    }
});
