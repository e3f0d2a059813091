//! The checks every webhook passes, whether read from JSON or built in code.

use soketi_handler_kit::wire::headers::is_reserved;

use super::error::{ConfigError, ConfigErrorKind};
use super::model::Webhook;

impl Webhook {
    /// Checks webhook number `index`; errors name the field under `prefix`. What depends on
    /// the kind of target is checked by [`Target::check`](super::Target).
    pub(super) fn validate(&self, index: usize, prefix: &str) -> Result<(), ConfigError> {
        let at = |field: &str| format!("{prefix}webhooks[{index}]{field}");
        if self.event_types.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::NoEventTypes,
                Some(index),
                at(".event_types"),
                "must list at least one event type".to_owned(),
            ));
        }
        if let Some((name, _)) = self.headers.iter().find(|(name, _)| is_reserved(name)) {
            return Err(reserved_header(index, at(".headers"), name));
        }
        self.target.check(&self.headers, index, &at)
    }
}

pub(super) fn reserved_header(index: usize, field: String, name: &str) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::ReservedHeader,
        Some(index),
        field,
        format!(
            "custom header `{name}` is not allowed: X-Pusher-Key and X-Pusher-Signature are \
             always set by the sender (key and signature of the payload)"
        ),
    )
}
