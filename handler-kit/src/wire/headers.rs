//! Header names and the order in which soketi sends them.
//!
//! soketi builds its webhook headers as the JavaScript object
//! `{Accept, Content-Type, User-Agent, ...customHeaders, X-Pusher-Key, X-Pusher-Signature}`.
//! The same names and order are used for the Lambda envelope's `headers` object and for the
//! real HTTP headers of `url` webhooks. Receivers must look names up case-insensitively.

/// `Accept` header name.
pub const ACCEPT: &str = "Accept";
/// `Content-Type` header name.
pub const CONTENT_TYPE: &str = "Content-Type";
/// `User-Agent` header name.
pub const USER_AGENT: &str = "User-Agent";
/// The header carrying the app key the payload was signed for.
pub const X_PUSHER_KEY: &str = "X-Pusher-Key";
/// The header carrying the lowercase hex HMAC-SHA256 of the payload.
pub const X_PUSHER_SIGNATURE: &str = "X-Pusher-Signature";
/// The media type soketi sends in `Accept` and `Content-Type`.
pub const APPLICATION_JSON: &str = "application/json";

/// The `User-Agent` soketi sends, naming the sending process id.
///
/// ```
/// use soketi_handler_kit::wire::headers::user_agent;
/// assert_eq!(user_agent(26548), "SoketiWebhooksAxiosClient/1.0 (Process: 26548)");
/// ```
pub fn user_agent(process_id: u32) -> String {
    format!("SoketiWebhooksAxiosClient/1.0 (Process: {process_id})")
}

/// Whether `name` is one of the two headers a custom header may never replace
/// (`X-Pusher-Key`, `X-Pusher-Signature`), compared case-insensitively.
pub fn is_reserved(name: &str) -> bool {
    name.eq_ignore_ascii_case(X_PUSHER_KEY) || name.eq_ignore_ascii_case(X_PUSHER_SIGNATURE)
}

/// The complete header list of one webhook request, in soketi's order.
///
/// `custom` headers follow JavaScript object-spread rules, as in soketi: a custom header whose
/// name equals (exactly, case included) `Accept`, `Content-Type` or `User-Agent` replaces that
/// value in place; any other name is appended in the order given (a repeated name keeps its
/// first position and its last value). Custom headers named `X-Pusher-Key` or
/// `X-Pusher-Signature` in any case are skipped: the key and signature always come last and
/// always come from the signer. Senders should refuse such configurations up front
/// (see [`is_reserved`]).
///
/// ```
/// use soketi_handler_kit::wire::headers::{user_agent, webhook_headers};
/// let h = webhook_headers(&user_agent(1), &[("X-Custom", "v")], "key", "sig");
/// let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(
///     names,
///     ["Accept", "Content-Type", "User-Agent", "X-Custom", "X-Pusher-Key", "X-Pusher-Signature"]
/// );
/// ```
pub fn webhook_headers<N, V>(
    user_agent: &str,
    custom: &[(N, V)],
    app_key: &str,
    signature: &str,
) -> Vec<(String, String)>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut headers: Vec<(String, String)> = vec![
        (ACCEPT.to_owned(), APPLICATION_JSON.to_owned()),
        (CONTENT_TYPE.to_owned(), APPLICATION_JSON.to_owned()),
        (USER_AGENT.to_owned(), user_agent.to_owned()),
    ];
    for (name, value) in custom {
        let (name, value) = (name.as_ref(), value.as_ref());
        if is_reserved(name) {
            continue;
        }
        match headers.iter_mut().find(|(existing, _)| existing == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => headers.push((name.to_owned(), value.to_owned())),
        }
    }
    headers.push((X_PUSHER_KEY.to_owned(), app_key.to_owned()));
    headers.push((X_PUSHER_SIGNATURE.to_owned(), signature.to_owned()));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_headers_follow_object_spread_rules() {
        let custom = [
            ("X-A", "1"),
            ("Accept", "text/plain"),
            ("X-B", "2"),
            ("X-A", "3"),
            ("x-pusher-signature", "forged"),
            ("X-Pusher-Key", "forged"),
        ];
        let h = webhook_headers("ua", &custom, "k", "s");
        let expected = [
            ("Accept", "text/plain"),
            ("Content-Type", "application/json"),
            ("User-Agent", "ua"),
            ("X-A", "3"),
            ("X-B", "2"),
            ("X-Pusher-Key", "k"),
            ("X-Pusher-Signature", "s"),
        ];
        let got: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn reserved_names_are_case_insensitive() {
        assert!(is_reserved("x-PUSHER-key"));
        assert!(is_reserved("X-Pusher-Signature"));
        assert!(!is_reserved("X-Pusher-Keys"));
    }
}
