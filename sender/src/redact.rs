//! What the sender never prints or stores: the one rule for URL passwords and credential
//! headers, used by every `Debug`, `Display`, log line, report and dead letter.
//!
//! - A URL's password (`https://user:PASSWORD@host/…`) is replaced by `***`, wherever a URL
//!   appears in text ([`url`], [`text`]). The user name stays: it helps to tell targets apart
//!   and is not a secret on its own.
//! - The value of a credential header ([`is_credential_header`]: `Authorization`,
//!   `Proxy-Authorization`, `Cookie`, `X-Api-Key`, any name with `auth`, `token`, `secret`,
//!   `passw`, `session`, `credential`, `cookie`, `private` or `api-key`/`apikey`/`api_key` in
//!   it, ASCII case ignored) is
//!   replaced by [`REDACTED`]. Dead letters do not store these values at all: they are taken
//!   from the configuration again on replay.
//!
//! ```
//! use soketi_lambda_sender::redact;
//! assert_eq!(redact::url("https://bot:hunter2@hooks.example/in"), "https://bot:***@hooks.example/in");
//! assert_eq!(redact::url("https://hooks.example/in"), "https://hooks.example/in");
//! assert!(redact::is_credential_header("authorization"));
//! assert!(redact::is_credential_header("X-Api-Key"));
//! assert!(!redact::is_credential_header("X-Pusher-Signature"));
//! assert_eq!(redact::header_value("Authorization", "Bearer t"), "<redacted>");
//! ```

use std::borrow::Cow;
use std::fmt;

/// What replaces a credential header's value in output.
pub const REDACTED: &str = "<redacted>";

/// What replaces a URL's password in output.
pub const PASSWORD_MASK: &str = "***";

/// Parts of a header name (lower case) that make it a credential header.
const CREDENTIAL_PARTS: [&str; 11] = [
    "auth",
    "token",
    "secret",
    "passw",
    "cookie",
    "session",
    "credential",
    "api-key",
    "apikey",
    "api_key",
    "private",
];

/// Whether a header's value is a credential that must not be printed or stored
/// (`Authorization`, `Proxy-Authorization`, `Cookie`, `X-Api-Key`, `X-Auth-Token`, …; ASCII
/// case ignored). `X-Pusher-Key` (public) and `X-Pusher-Signature` (covers only the payload,
/// and a dead letter needs it to be sent again unchanged) are not.
pub fn is_credential_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    CREDENTIAL_PARTS.iter().any(|part| lower.contains(part))
}

/// A header value as it may be shown: [`REDACTED`] for a credential header.
pub fn header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_credential_header(name) {
        REDACTED
    } else {
        value
    }
}

/// `url` with its password replaced by `***` (unchanged when it has none).
pub fn url(url: &str) -> Cow<'_, str> {
    text(url)
}

/// `text` with the password of every URL in it replaced by `***`: a URL being
/// `scheme://user:password@host…`, the password ending at the last `@` before the end of the
/// authority (`/`, `?`, `#`, white space, a quote or the end of the text).
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = text[search..].find("://") {
        let authority_start = search + found + 3;
        let rest = &text[authority_start..];
        let authority_len = rest
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`' | ')')
                    || c.is_whitespace()
            })
            .unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        search = authority_start + authority_len;
        let Some(at) = authority.rfind('@') else {
            continue;
        };
        let Some(colon) = authority[..at].find(':') else {
            continue;
        };
        let password_start = authority_start + colon + 1;
        let password_end = authority_start + at;
        out.push_str(&text[copied..password_start]);
        out.push_str(PASSWORD_MASK);
        copied = password_end;
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// `text` with the contents of every double-quoted string left out (`"…"`) and cut to 300
/// characters: for messages of a JSON reader, which quote the values they could not read
/// (a header value, say).
pub fn quoted(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in text.chars() {
        if c == '"' {
            inside = !inside;
            out.push_str(if inside { "\"…" } else { "\"" });
        } else if !inside {
            out.push(c);
        }
    }
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    }
    out
}

/// Whether `url` holds a password (which [`url`] would hide).
pub fn has_password(url: &str) -> bool {
    matches!(text(url), Cow::Owned(_))
}

/// Headers as `Debug` shows them: credential values replaced by [`REDACTED`].
pub(crate) struct Headers<'a, V>(pub(crate) &'a [(String, V)]);

impl<V: AsRef<str>> fmt::Debug for Headers<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(name, value)| (name, header_value(name, value.as_ref()))),
            )
            .finish()
    }
}

/// A webhook URL: [`as_str`](WebhookUrl::as_str) gives it whole, to send to; `Display`,
/// `Debug` and serializing hide its password (see [`url`]), so that reports, logs, errors and
/// dead letters never show it.
///
/// ```
/// use soketi_lambda_sender::redact::WebhookUrl;
/// let url = WebhookUrl::new("https://bot:hunter2@hooks.example/in");
/// assert_eq!(url.as_str(), "https://bot:hunter2@hooks.example/in");
/// assert_eq!(url.to_string(), "https://bot:***@hooks.example/in");
/// assert!(!format!("{url:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The URL `url`.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookUrl(url.into())
    }

    /// The whole URL, password included: only to send requests to.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL with its password hidden.
    pub fn redacted(&self) -> Cow<'_, str> {
        url(&self.0)
    }

    /// Whether it holds a password.
    pub fn has_password(&self) -> bool {
        has_password(&self.0)
    }

    /// Whether its password is [`PASSWORD_MASK`]: a URL read back from a dead letter, which
    /// does not store passwords.
    pub fn password_hidden(&self) -> bool {
        self.0.contains(&format!(":{PASSWORD_MASK}@"))
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WebhookUrl").field(&self.redacted()).finish()
    }
}

/// Serialized (in dead letters) with its password hidden.
impl serde::Serialize for WebhookUrl {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(&self.redacted())
    }
}

impl<'de> serde::Deserialize<'de> for WebhookUrl {
    fn deserialize<D: serde::Deserializer<'de>>(input: D) -> Result<Self, D::Error> {
        String::deserialize(input).map(WebhookUrl)
    }
}

impl From<&str> for WebhookUrl {
    fn from(url: &str) -> Self {
        WebhookUrl::new(url)
    }
}

impl From<String> for WebhookUrl {
    fn from(url: String) -> Self {
        WebhookUrl(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_wherever_a_url_appears() {
        for (input, expected) in [
            ("https://u:p@h/x", "https://u:***@h/x"),
            ("http://u:p@h", "http://u:***@h"),
            ("https://u@h/x", "https://u@h/x"),
            ("https://h:8080/x", "https://h:8080/x"),
            ("https://u:p:q@w@h:1/x?y#z", "https://u:***@h:1/x?y#z"),
            (
                "error sending request for url (https://u:p@h/x): refused; then http://a:b@c",
                "error sending request for url (https://u:***@h/x): refused; then http://a:***@c",
            ),
            ("no url here: a:b@c", "no url here: a:b@c"),
            ("é://ü:ß@h é", "é://ü:***@h é"),
            ("://", "://"),
            ("x://:@", "x://:***@"),
        ] {
            assert_eq!(text(input), expected, "{input}");
        }
        assert!(has_password("https://u:p@h/"));
        assert!(!has_password("https://u@h/"));
    }

    #[test]
    fn credential_headers_are_known_by_name() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "X-Api-Key",
            "x-auth-token",
            "X-Session-Id",
            "X-Client-Secret",
            "api_key",
        ] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in [
            "Accept",
            "Content-Type",
            "User-Agent",
            "X-Pusher-Key",
            "X-Pusher-Signature",
            "X-Env",
        ] {
            assert!(!is_credential_header(name), "{name}");
        }
        let headers = vec![
            ("Authorization".to_owned(), "Bearer t0k".to_owned()),
            ("X-Env".to_owned(), "prod".to_owned()),
        ];
        let shown = format!("{:?}", Headers(&headers));
        assert!(!shown.contains("t0k") && shown.contains("prod"), "{shown}");
    }
}
