//! The `data` of a client event, kept as the JSON text that arrived.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::super::{js_json, scan};

/// The `data` of a client event, kept as the raw JSON text that arrived (or, when built for
/// sending, as `JSON.stringify` prints it).
///
/// soketi forwards an object; Pusher clients commonly send a JSON-encoded string. [`parse`]
/// reads both forms.
///
/// [`parse`]: ClientData::parse
///
/// ```
/// use soketi_handler_kit::wire::ClientData;
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Chat { text: String }
///
/// let soketi_form = ClientData::from_json(r#"{"text":"hi"}"#)?;
/// let pusher_form = ClientData::string(r#"{"text":"hi"}"#);
/// assert_eq!(pusher_form.as_json(), r#""{\"text\":\"hi\"}""#);
/// assert_eq!(soketi_form.parse::<Chat>()?, Chat { text: "hi".into() });
/// assert_eq!(pusher_form.parse::<Chat>()?, Chat { text: "hi".into() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientData(Box<str>);

impl ClientData {
    /// Client data from JSON text, rewritten exactly as JavaScript's
    /// `JSON.stringify(JSON.parse(text))` prints it (what soketi would send).
    pub fn from_json(text: &str) -> Result<Self, js_json::JsJsonError> {
        js_json::canonicalize(text).map(|canonical| ClientData(canonical.into()))
    }

    /// Client data from a JSON value, printed as `JSON.stringify` would.
    pub fn from_value(value: &serde_json::Value) -> Self {
        let canonical =
            js_json::canonicalize(&value.to_string()).unwrap_or_else(|_| "null".to_owned());
        ClientData(canonical.into())
    }

    /// Client data that is a JSON string, the form Pusher client libraries send
    /// (`channel.trigger("client-x", JSON.stringify(obj))`).
    pub fn string(text: &str) -> Self {
        let mut out = String::with_capacity(text.len() + 2);
        js_json::write_str(&mut out, text);
        ClientData(out.into())
    }

    /// Data whose text the scanner already checked to be one JSON value.
    pub(crate) fn from_checked(json: &str) -> Self {
        ClientData(json.into())
    }

    /// The raw JSON text of the data, exactly as it arrived.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// Whether the data is a JSON string (the Pusher form).
    pub fn is_string(&self) -> bool {
        self.0.starts_with('"')
    }

    /// Deserializes the data as `T`, whichever form it came in: an object or other JSON value
    /// (soketi) is read directly; a JSON string (Pusher) is read as the JSON document it
    /// contains, or, when that fails, as a plain string (so `T = String` gets the text).
    ///
    /// When both readings of a string fail, the error is the one of the document inside it
    /// (e.g. "missing field `text`"), which is the form Pusher clients send.
    ///
    /// ```
    /// use soketi_handler_kit::wire::ClientData;
    /// #[derive(serde::Deserialize, Debug)]
    /// struct Chat { #[allow(dead_code)] text: String }
    /// let err = ClientData::string(r#"{"txt":"hi"}"#).parse::<Chat>().unwrap_err();
    /// assert!(err.to_string().contains("missing field `text`"), "{err}");
    /// ```
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, DataError> {
        let raw = self.as_json();
        if self.is_string() {
            let inner = scan::string_value(raw)
                .ok_or_else(|| DataError::NotUtf8("not a JSON string".to_owned()))?;
            return match serde_json::from_str::<T>(&inner) {
                Ok(value) => Ok(value),
                Err(inner_error) => match serde_json::from_str::<T>(raw) {
                    Ok(value) => Ok(value),
                    // The text is a JSON document whose shape is wrong: say what is wrong
                    // with it. Plain text (not JSON) is reported as a string of the wrong type.
                    Err(outer_error) if inner_error.is_data() => {
                        drop(outer_error);
                        Err(DataError::Invalid(inner_error))
                    }
                    Err(outer_error) => Err(DataError::Invalid(outer_error)),
                },
            };
        }
        serde_json::from_str::<T>(raw).map_err(DataError::Invalid)
    }
}

impl fmt::Debug for ClientData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientData({})", self.0)
    }
}

impl Serialize for ClientData {
    /// Writes the JSON text as it is.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Why client data could not be read as the requested type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The client event carried no `data`.
    #[error("the client event has no data")]
    Missing,
    /// The data is a JSON string that could not be decoded.
    #[error("the client data string could not be decoded: {0}")]
    NotUtf8(String),
    /// The data does not have the shape of the requested type.
    #[error("the client data does not match the expected type: {0}")]
    Invalid(#[source] serde_json::Error),
}
