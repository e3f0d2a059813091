//! What a callback learns besides its event.

use std::sync::Arc;

/// What a callback learns besides its event: the webhook's app key and time, the event's
/// place in the payload, and (under Lambda) the invocation's Lambda context. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Context {
    pub(super) shared: Arc<SharedContext>,
    pub(super) index: usize,
}

#[derive(Debug)]
pub(super) struct SharedContext {
    pub(super) app_key: Option<String>,
    pub(super) time_ms: u64,
    pub(super) request_id: String,
    pub(super) event_count: usize,
    #[cfg(feature = "runtime")]
    pub(super) lambda: Option<lambda_runtime::Context>,
}

impl Context {
    /// The app the webhook came from: the `X-Pusher-Key` whose secret verified it (`None` in
    /// single-secret mode, where the header is not proof of anything; see
    /// [`Keyring::single_secret`](crate::Keyring::single_secret)).
    pub fn app_key(&self) -> Option<&str> {
        self.shared.app_key.as_deref()
    }

    /// The payload's `time_ms`: when soketi built it, in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.shared.time_ms
    }

    /// The Lambda request id of this invocation (empty outside Lambda).
    pub fn request_id(&self) -> &str {
        &self.shared.request_id
    }

    /// The position of this event in the payload, from 0.
    pub fn event_index(&self) -> usize {
        self.index
    }

    /// How many events the payload holds.
    pub fn event_count(&self) -> usize {
        self.shared.event_count
    }

    /// The whole Lambda context of the invocation (`None` when the router was called directly,
    /// e.g. with [`Webhooks::handle`](crate::Webhooks::handle) in a test): client context,
    /// Cognito identity, tenant id, the function's configuration.
    #[cfg(feature = "runtime")]
    pub fn lambda(&self) -> Option<&lambda_runtime::Context> {
        self.shared.lambda.as_ref()
    }

    /// When Lambda stops the invocation: leave time to finish, or hand work off.
    #[cfg(feature = "runtime")]
    pub fn deadline(&self) -> Option<std::time::SystemTime> {
        self.lambda().map(lambda_runtime::Context::deadline)
    }

    /// The ARN the function was invoked with (it names the version or alias).
    #[cfg(feature = "runtime")]
    pub fn invoked_function_arn(&self) -> Option<&str> {
        self.lambda().map(|c| c.invoked_function_arn.as_str())
    }

    /// The X-Ray trace id of the invocation, when tracing is on.
    #[cfg(feature = "runtime")]
    pub fn xray_trace_id(&self) -> Option<&str> {
        self.lambda().and_then(|c| c.xray_trace_id.as_deref())
    }
}
