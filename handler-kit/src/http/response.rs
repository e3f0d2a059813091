//! What an HTTP webhook request gets back: a status, and a JSON body that is either the
//! [`Summary`] or an error naming its stable kind.

use std::collections::BTreeMap;

use serde::Serialize;

use super::event::Origin;
use crate::error::Error;
use crate::kind::ErrorKind;
use crate::router::Summary;

/// The `errorType` of a request that is not a `POST` (HTTP only: 405).
pub const METHOD_NOT_ALLOWED: &str = "MethodNotAllowed";
/// The `errorType` of a body over the configured maximum (HTTP only: 413).
pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLarge";

/// The answer to one HTTP webhook request: a status and a JSON body, the [`Summary`] or an
/// error naming its stable kind (the table is in the [module docs](super)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpReply {
    status: u16,
    error_type: Option<&'static str>,
    body: String,
}

impl HttpReply {
    /// 200 with the summary.
    pub(crate) fn ok(summary: &Summary) -> Self {
        match serde_json::to_string(summary) {
            Ok(body) => HttpReply {
                status: 200,
                error_type: None,
                body,
            },
            Err(e) => HttpReply::failure(500, "Internal", &format!("summary not written: {e}")),
        }
    }

    /// The reply to a webhook that was rejected or whose callbacks failed.
    pub(crate) fn from_error(error: &Error) -> Self {
        let kind = error.kind();
        let status = status_for(kind);
        let message = match kind {
            ErrorKind::HandlerFailed => {
                "the webhook was verified but callbacks failed (details in the function's log); \
                 send it again"
                    .to_owned()
            }
            _ if status == 500 => "the webhook could not be handled".to_owned(),
            _ => error.to_string(),
        };
        HttpReply::failure(status, kind.as_str(), &message)
    }

    pub(crate) fn failure(status: u16, error_type: &'static str, message: &str) -> Self {
        let body = serde_json::json!({"errorType": error_type, "errorMessage": message});
        HttpReply {
            status,
            error_type: Some(error_type),
            body: body.to_string(),
        }
    }

    fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut headers = vec![("content-type", "application/json")];
        if self.error_type == Some(METHOD_NOT_ALLOWED) {
            headers.push(("allow", "POST"));
        }
        headers
    }

    /// As an `http::Response` (for `lambda_http` and axum).
    pub(crate) fn into_response(self) -> http::Response<lambda_http::Body> {
        let headers = self.headers();
        let mut response = http::Response::new(lambda_http::Body::Text(self.body));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::OK);
        for (name, value) in headers {
            response.headers_mut().insert(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        response
    }

    /// As the JSON response Lambda expects from a function behind `origin`.
    pub(crate) fn into_lambda(self, origin: Origin) -> LambdaHttpResponse {
        let headers: BTreeMap<&'static str, String> = self
            .headers()
            .into_iter()
            .map(|(n, v)| (n, v.to_owned()))
            .collect();
        let multi = || {
            Some(
                headers
                    .iter()
                    .map(|(n, v)| (*n, vec![v.clone()]))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let (status_description, multi_value_headers) = match origin {
            // As lambda_http writes it: an empty `multiValueHeaders` and `cookies` list (some
            // readers of this shape, such as cargo lambda's Function URL emulator, need them).
            Origin::FunctionUrlOrHttpApi => (None, Some(BTreeMap::new())),
            Origin::RestApi => (None, multi()),
            Origin::LoadBalancer => {
                let reason = http::StatusCode::from_u16(self.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or_default();
                (Some(format!("{} {reason}", self.status)), multi())
            }
        };
        LambdaHttpResponse {
            status_code: self.status,
            cookies: matches!(origin, Origin::FunctionUrlOrHttpApi).then(Vec::new),
            status_description,
            headers,
            multi_value_headers,
            body: self.body,
            is_base64_encoded: false,
        }
    }
}

/// The HTTP status for an error kind.
pub fn status_for(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::MissingSignature
        | ErrorKind::MalformedSignature
        | ErrorKind::MissingAppKey
        | ErrorKind::UnknownAppKey
        | ErrorKind::InvalidSignature
        | ErrorKind::Expired => 401,
        ErrorKind::MalformedEnvelope | ErrorKind::MalformedPayload => 400,
        _ => 500,
    }
}

/// The response of a function behind a Function URL, API Gateway or an ALB, as Lambda expects
/// it, in the shapes `lambda_http` writes: `{"statusCode":…,"headers":{…},"body":"…",
/// "isBase64Encoded":false}`, with `multiValueHeaders` (for ALB, used when the target group has
/// multi-value headers on), `statusDescription` for ALB, and `cookies` for Function URLs and
/// HTTP APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaHttpResponse {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    headers: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<BTreeMap<&'static str, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<String>>,
    body: String,
    is_base64_encoded: bool,
}

impl LambdaHttpResponse {
    /// The HTTP status code.
    pub fn status_code(&self) -> u16 {
        self.status_code
    }

    /// The JSON body.
    pub fn body(&self) -> &str {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_the_documented_status() {
        let expect = [
            (ErrorKind::MissingSignature, 401),
            (ErrorKind::MalformedSignature, 401),
            (ErrorKind::MissingAppKey, 401),
            (ErrorKind::UnknownAppKey, 401),
            (ErrorKind::InvalidSignature, 401),
            (ErrorKind::Expired, 401),
            (ErrorKind::MalformedEnvelope, 400),
            (ErrorKind::MalformedPayload, 400),
            (ErrorKind::HandlerFailed, 500),
            (ErrorKind::Config, 500),
            (ErrorKind::Runtime, 500),
        ];
        for (kind, status) in expect {
            assert_eq!(status_for(kind), status, "{kind}");
        }
    }

    #[test]
    fn lambda_responses_have_the_shape_of_their_origin() {
        let reply = HttpReply::failure(405, METHOD_NOT_ALLOWED, "use POST");
        let json = |origin| serde_json::to_value(reply.clone().into_lambda(origin)).unwrap();
        let url = json(Origin::FunctionUrlOrHttpApi);
        assert_eq!(url["statusCode"], 405);
        assert_eq!(url["headers"]["allow"], "POST");
        assert_eq!(url["isBase64Encoded"], false);
        assert_eq!(url["multiValueHeaders"], serde_json::json!({}));
        assert_eq!(url["cookies"], serde_json::json!([]));
        assert!(url.get("statusDescription").is_none());
        let rest = json(Origin::RestApi);
        assert_eq!(
            rest["multiValueHeaders"]["content-type"][0],
            "application/json"
        );
        assert!(rest.get("statusDescription").is_none());
        let alb = json(Origin::LoadBalancer);
        assert_eq!(alb["statusDescription"], "405 Method Not Allowed");
        assert_eq!(alb["multiValueHeaders"]["allow"][0], "POST");
        let body: serde_json::Value = serde_json::from_str(url["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["errorType"], "MethodNotAllowed");
    }
}
