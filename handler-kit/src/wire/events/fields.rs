//! Reading an event's fields from the spans the scanner recorded, and writing them back.

use std::borrow::Cow;

use super::super::js_json;
use super::super::names::Field;
use super::super::scan::{self, EventSpans};
use super::{ClientData, EventKind, UserId};

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A JSON string.
    Str,
    /// A JSON string or number (a presence user id).
    StrOrNumber,
    /// A non-negative integer.
    U64,
    /// Any JSON value (client data), kept as text.
    Any,
}

impl Shape {
    fn expected(self) -> &'static str {
        match self {
            Shape::Str => "a string",
            Shape::StrOrNumber => "a string or a number",
            Shape::U64 => "a non-negative integer",
            Shape::Any => "a JSON value",
        }
    }
}

/// Whether a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Required,
    Optional,
}

/// The fields of an event type, in soketi's key order: what `check` validates.
pub(crate) type Schema = &'static [(Field, Shape, Presence)];

/// A JSON number as JavaScript reads it: an integer that fits stays exact; anything else is
/// the correctly rounded double (std's parser; serde_json's default one is not always exact,
/// and a long integer would then print differently from what soketi prints). `None` for a
/// value that is not a number or does not fit a double (`1e400`).
fn json_number(raw: &str) -> Option<serde_json::Number> {
    if !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    if let Ok(n) = raw.parse::<u64>() {
        return Some(n.into());
    }
    if let Ok(n) = raw.parse::<i64>() {
        return Some(n.into());
    }
    raw.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

/// The recorded fields of one event, for its type's `decode`.
pub(crate) struct Fields<'t> {
    text: &'t str,
    spans: &'t EventSpans,
}

/// At most this much of a value is quoted in an error message.
const PREVIEW: usize = 40;

fn preview(raw: &str) -> String {
    match raw.char_indices().nth(PREVIEW) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_owned(),
    }
}

impl<'t> Fields<'t> {
    pub(crate) fn new(text: &'t str, spans: &'t EventSpans) -> Self {
        Fields { text, spans }
    }

    /// The value's JSON text, if the field is present.
    fn raw(&self, field: Field) -> Option<&'t str> {
        let span = self.spans.fields[field as usize];
        span.is_some().then(|| span.of(self.text))
    }

    /// The text of a string field as the reader found it (an escape-free literal borrowed
    /// without a search); `None` if the value is not a string.
    fn text_of(&self, field: Field, raw: &'t str) -> Option<Cow<'t, str>> {
        let escaped = self.spans.escaped & (1u8 << field as u8) != 0;
        scan::string_value_scanned(raw, escaped)
    }

    fn missing(field: Field) -> String {
        format!("missing field `{}`", field.as_str())
    }

    fn mistyped(field: Field, expected: &str, raw: &str) -> String {
        format!(
            "`{}` must be {expected}, found {}",
            field.as_str(),
            preview(raw)
        )
    }

    /// Checks the fields against `schema` without building anything: what an event nobody
    /// listens to costs. It accepts exactly what the type's `decode` accepts (a test holds
    /// the two together).
    pub(crate) fn check(&self, schema: Schema) -> Result<(), String> {
        for &(field, shape, presence) in schema {
            let Some(raw) = self.raw(field) else {
                if presence == Presence::Required {
                    return Err(Fields::missing(field));
                }
                continue;
            };
            let ok = match shape {
                Shape::Str => raw.starts_with('"'),
                Shape::StrOrNumber => raw.starts_with('"') || json_number(raw).is_some(),
                Shape::U64 => raw.parse::<u64>().is_ok(),
                Shape::Any => true,
            };
            if !ok {
                return Err(Fields::mistyped(field, shape.expected(), raw));
            }
        }
        Ok(())
    }

    /// The kind the event's `name` names, or, for a name this version does not know, the
    /// name. A known name is recognised in its literal as it came (a literal without escapes
    /// is its own text, and no known name needs one), so the usual event's name is neither
    /// searched for escapes nor copied; an escaped one is decoded first.
    pub(crate) fn kind(&self) -> Result<Result<EventKind, Cow<'t, str>>, String> {
        let literal = self
            .raw(Field::Name)
            .and_then(|raw| raw.strip_prefix('"')?.strip_suffix('"'));
        if let Some(kind) = literal.and_then(EventKind::from_name) {
            return Ok(Ok(kind));
        }
        let name = self.name()?;
        Ok(EventKind::from_name(&name).ok_or(name))
    }

    /// The event's `name`.
    pub(crate) fn name(&self) -> Result<Cow<'t, str>, String> {
        self.opt_str(Field::Name)?
            .ok_or_else(|| Fields::missing(Field::Name))
    }

    fn opt_str(&self, field: Field) -> Result<Option<Cow<'t, str>>, String> {
        match self.raw(field) {
            None => Ok(None),
            Some(raw) => self
                .text_of(field, raw)
                .map(Some)
                .ok_or_else(|| Fields::mistyped(field, Shape::Str.expected(), raw)),
        }
    }

    /// A string field that must be present.
    pub(crate) fn string(&self, field: Field) -> Result<String, String> {
        self.opt_string(field)?
            .ok_or_else(|| Fields::missing(field))
    }

    /// A string field that may be absent.
    pub(crate) fn opt_string(&self, field: Field) -> Result<Option<String>, String> {
        self.opt_str(field).map(|s| s.map(Cow::into_owned))
    }

    /// A user id (string or number) that must be present.
    pub(crate) fn user_id(&self, field: Field) -> Result<UserId, String> {
        self.opt_user_id(field)?
            .ok_or_else(|| Fields::missing(field))
    }

    /// A user id that may be absent.
    pub(crate) fn opt_user_id(&self, field: Field) -> Result<Option<UserId>, String> {
        let Some(raw) = self.raw(field) else {
            return Ok(None);
        };
        if let Some(text) = self.text_of(field, raw) {
            return Ok(Some(UserId::String(text.into_owned())));
        }
        json_number(raw)
            .map(|n| Some(UserId::Number(n)))
            .ok_or_else(|| Fields::mistyped(field, Shape::StrOrNumber.expected(), raw))
    }

    /// A non-negative integer that must be present.
    pub(crate) fn u64(&self, field: Field) -> Result<u64, String> {
        let raw = self.raw(field).ok_or_else(|| Fields::missing(field))?;
        raw.parse::<u64>()
            .map_err(|_| Fields::mistyped(field, Shape::U64.expected(), raw))
    }

    /// Any JSON value, kept as the text that arrived; `None` when absent (`null` is present).
    pub(crate) fn data(&self, field: Field) -> Option<ClientData> {
        self.raw(field).map(ClientData::from_checked)
    }
}

/// Writes one event object: `{"name":…` first, then each field in the order written.
pub(crate) struct EventWriter<'o> {
    out: &'o mut String,
}

impl<'o> EventWriter<'o> {
    pub(crate) fn new(out: &'o mut String, name: &str) -> Self {
        out.push_str("{\"name\":");
        js_json::write_str(out, name);
        EventWriter { out }
    }

    fn key(&mut self, field: Field) {
        self.out.push_str(",\"");
        self.out.push_str(field.as_str());
        self.out.push_str("\":");
    }

    pub(crate) fn string(&mut self, field: Field, value: &str) {
        self.key(field);
        js_json::write_str(self.out, value);
    }

    pub(crate) fn opt_string(&mut self, field: Field, value: Option<&str>) {
        if let Some(value) = value {
            self.string(field, value);
        }
    }

    pub(crate) fn user_id(&mut self, field: Field, value: &UserId) {
        self.key(field);
        value.write_json(self.out);
    }

    pub(crate) fn opt_user_id(&mut self, field: Field, value: Option<&UserId>) {
        if let Some(value) = value {
            self.user_id(field, value);
        }
    }

    pub(crate) fn u64(&mut self, field: Field, value: u64) {
        use std::fmt::Write as _;
        self.key(field);
        // Writing to a String cannot fail.
        let _ = write!(self.out, "{value}");
    }

    pub(crate) fn data(&mut self, field: Field, value: Option<&ClientData>) {
        if let Some(value) = value {
            self.key(field);
            self.out.push_str(value.as_json());
        }
    }

    pub(crate) fn finish(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: a 90-digit user id read by serde_json's default (inexact) float
    /// parser printed as 4.3999999999999995e+88, where JavaScript prints 4.4e+88.
    #[test]
    fn long_numbers_are_read_as_javascript_reads_them() {
        let digits = format!("44{}14347467612885206787", "0".repeat(67));
        let n = json_number(&digits).expect("a number");
        let mut printed = String::new();
        UserId::Number(n).write_json(&mut printed);
        assert_eq!(printed, "4.4e+88");
        assert_eq!(json_number("18446744073709551615"), Some(u64::MAX.into()));
        assert_eq!(json_number("-9223372036854775808"), Some(i64::MIN.into()));
        assert_eq!(json_number("1e400"), None);
        assert_eq!(json_number("true"), None);
    }
}
