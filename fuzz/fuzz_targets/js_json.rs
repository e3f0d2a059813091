//! Any text through the JSON.stringify printer: what it accepts, it prints as JSON that
//! serde_json reads and that prints the same again (the printer is idempotent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soketi_handler_kit::wire::js_json;

fuzz_target!(|text: &str| {
    if let Ok(printed) = js_json::canonicalize(text) {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(&printed).is_ok(),
            "{printed}"
        );
        let again = js_json::canonicalize(&printed).expect("the printer reads its own output");
        assert_eq!(again, printed);
    }
});
