//! A presence user id: a string or a number.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::super::js_json;

/// A presence user id: soketi passes on whatever the presence `channel_data` held, a string
/// or a number.
///
/// `Display` prints it as soketi would (numbers the JavaScript way).
///
/// ```
/// use soketi_handler_kit::wire::UserId;
/// assert_eq!(UserId::from("user-1").to_string(), "user-1");
/// assert_eq!(UserId::from(42u64).to_string(), "42");
/// assert_eq!(UserId::from(42u64).as_str(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum UserId {
    /// A string id, e.g. `"user-1"`.
    String(String),
    /// A numeric id, e.g. `42`.
    Number(serde_json::Number),
}

impl UserId {
    /// The id if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            UserId::String(s) => Some(s),
            UserId::Number(_) => None,
        }
    }

    /// Appends the id as JSON, as `JSON.stringify` prints it.
    pub(crate) fn write_json(&self, out: &mut String) {
        match self {
            UserId::String(s) => js_json::write_str(out, s),
            // JavaScript numbers are doubles: that is what soketi had in hand and printed.
            UserId::Number(n) => js_json::write_number(out, n.as_f64().unwrap_or(f64::NAN)),
        }
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::String(s) => f.write_str(s),
            UserId::Number(_) => {
                let mut out = String::new();
                self.write_json(&mut out);
                f.write_str(&out)
            }
        }
    }
}

impl From<&str> for UserId {
    fn from(s: &str) -> Self {
        UserId::String(s.to_owned())
    }
}

impl From<String> for UserId {
    fn from(s: String) -> Self {
        UserId::String(s)
    }
}

impl From<u64> for UserId {
    fn from(n: u64) -> Self {
        UserId::Number(n.into())
    }
}

impl From<i64> for UserId {
    fn from(n: i64) -> Self {
        UserId::Number(n.into())
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            UserId::String(s) => serializer.serialize_str(s),
            UserId::Number(_) => {
                let mut out = String::new();
                self.write_json(&mut out);
                RawValue::from_string(out)
                    .map_err(serde::ser::Error::custom)?
                    .serialize(serializer)
            }
        }
    }
}
