//! What the two AWS stores share: the kind of a failed call, and what to do about it.

use super::SecretErrorKind;

/// The kind of a failed AWS call, from its error code (`None`: the service was not reached or
/// did not answer).
pub(super) fn error_kind(code: Option<&str>) -> SecretErrorKind {
    match code {
        Some("ResourceNotFoundException" | "ParameterNotFound" | "ParameterVersionNotFound") => {
            SecretErrorKind::NotFound
        }
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "DecryptionFailure"
            | "InvalidKeyId"
            | "KMSAccessDeniedException"
            | "ExpiredTokenException",
        ) => SecretErrorKind::AccessDenied,
        _ => SecretErrorKind::Unavailable,
    }
}

/// What to do about an error of `kind`, with `grant` the IAM action needed.
pub(super) fn advice(kind: SecretErrorKind, grant: &str) -> String {
    match kind {
        SecretErrorKind::NotFound => "it does not exist in this account and region: check the \
             name or ARN and the function's region"
            .to_owned(),
        SecretErrorKind::AccessDenied => format!(
            "access denied: allow {grant} on it to the function's role (and kms:Decrypt on its \
             KMS key if it is not the AWS managed one)"
        ),
        _ => "the service could not be reached or failed; it is read again later".to_owned(),
    }
}
