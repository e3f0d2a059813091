//! Showing text that came from a request, in error messages and logs: bounded, and with
//! control characters escaped, so that a sender cannot flood a log line or forge new ones.

use std::fmt;

/// At most this many characters of a value are shown.
const SHOWN_CHARS: usize = 64;

/// Displays request text escaped (as Rust's `escape_debug` does: `\n`, `\u{1b}`, …) and cut
/// after 64 characters, saying how long it was.
pub(crate) struct Untrusted<'a>(pub(crate) &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(SHOWN_CHARS) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            write!(f, "… ({} bytes in all)", self.0.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Untrusted;

    #[test]
    fn long_values_are_cut_and_newlines_escaped() {
        assert_eq!(Untrusted("app1key").to_string(), "app1key");
        assert_eq!(
            Untrusted("a\nWARN forged line").to_string(),
            "a\\nWARN forged line"
        );
        let long = "k".repeat(1 << 20);
        let shown = Untrusted(&long).to_string();
        assert!(shown.len() < 100, "{}", shown.len());
        assert!(shown.ends_with("… (1048576 bytes in all)"), "{shown}");
    }
}
