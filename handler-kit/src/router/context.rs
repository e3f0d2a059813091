//! What a callback learns besides its event: the [`Context`], and the [`Invocation`] it
//! comes from.

use std::fmt;
use std::sync::Arc;

/// The invocation being served: its request id and, under Lambda, the whole Lambda context
/// (deadline, function ARN, X-Ray trace id, …). Every transport passes it on — soketi's
/// envelopes, Function URL, API Gateway and ALB events, the `tower::Service` that
/// `lambda_http` and axum mount — so [`Context::deadline`] is known wherever Lambda said it.
///
/// Tests and custom runtimes make one from a request id (`"req-1".into()`) or, with the
/// `runtime` feature, from a `lambda_runtime::Context`.
///
/// ```
/// use soketi_handler_kit::Invocation;
/// let outside_lambda = Invocation::from("req-1");
/// assert_eq!(outside_lambda.request_id(), "req-1");
/// # #[cfg(feature = "runtime")]
/// assert_eq!(outside_lambda.deadline(), None);
/// ```
#[derive(Clone)]
pub struct Invocation(Source);

/// Where an [`Invocation`] came from. A Lambda context is large (it has the client context and
/// identity of mobile SDK callers): boxed, it keeps the invocation (and everything that moves
/// one, the dispatcher's futures) small, and its request id is not copied.
#[derive(Clone)]
enum Source {
    Id(String),
    #[cfg(feature = "runtime")]
    Lambda(Box<lambda_runtime::Context>),
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation(Source::Id(String::new()))
    }
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Invocation");
        s.field("request_id", &self.request_id());
        #[cfg(feature = "runtime")]
        s.field("lambda", &self.lambda());
        s.finish()
    }
}

impl Invocation {
    /// An invocation outside Lambda, known by `request_id` only (no deadline).
    pub fn new(request_id: impl Into<String>) -> Self {
        Invocation(Source::Id(request_id.into()))
    }

    /// The request id (Lambda's, or the one given).
    pub fn request_id(&self) -> &str {
        match &self.0 {
            Source::Id(request_id) => request_id,
            #[cfg(feature = "runtime")]
            Source::Lambda(context) => &context.request_id,
        }
    }

    /// The Lambda context, when the invocation came through Lambda.
    #[cfg(feature = "runtime")]
    pub fn lambda(&self) -> Option<&lambda_runtime::Context> {
        match &self.0 {
            Source::Id(_) => None,
            Source::Lambda(context) => Some(context),
        }
    }

    /// When Lambda stops the invocation (`None` outside Lambda, or when the Lambda context
    /// carries no deadline).
    #[cfg(feature = "runtime")]
    pub fn deadline(&self) -> Option<std::time::SystemTime> {
        self.lambda()
            .filter(|context| context.deadline != 0)
            .map(lambda_runtime::Context::deadline)
    }

    /// The function's name, from the Lambda context (`None` outside Lambda).
    #[cfg(all(feature = "runtime", feature = "idempotency"))]
    pub(crate) fn function_name(&self) -> Option<&str> {
        self.lambda()
            .map(|context| context.env_config.function_name.as_str())
            .filter(|name| !name.is_empty())
    }
}

impl From<&str> for Invocation {
    fn from(request_id: &str) -> Self {
        Invocation::new(request_id)
    }
}

impl From<String> for Invocation {
    fn from(request_id: String) -> Self {
        Invocation::new(request_id)
    }
}

#[cfg(feature = "runtime")]
impl From<lambda_runtime::Context> for Invocation {
    fn from(context: lambda_runtime::Context) -> Self {
        Invocation(Source::Lambda(Box::new(context)))
    }
}

/// What a callback learns besides its event: the webhook's app key and time, the event's
/// place in the payload, and the [`Invocation`] (under Lambda, its Lambda context). Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Context {
    pub(super) shared: Arc<SharedContext>,
    pub(super) index: usize,
}

#[derive(Debug)]
pub(super) struct SharedContext {
    pub(super) app_key: Option<Arc<str>>,
    pub(super) time_ms: u64,
    pub(super) event_count: usize,
    pub(super) invocation: Invocation,
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

    /// The request id of this invocation (Lambda's, or the one the caller gave).
    pub fn request_id(&self) -> &str {
        self.shared.invocation.request_id()
    }

    /// The position of this event in the payload, from 0.
    pub fn event_index(&self) -> usize {
        self.index
    }

    /// How many events the payload holds.
    pub fn event_count(&self) -> usize {
        self.shared.event_count
    }

    /// The invocation this event came with.
    pub fn invocation(&self) -> &Invocation {
        &self.shared.invocation
    }

    /// The whole Lambda context of the invocation (`None` outside Lambda, e.g. in a test
    /// that passed a request id): client context, Cognito identity, tenant id, the function's
    /// configuration.
    #[cfg(feature = "runtime")]
    pub fn lambda(&self) -> Option<&lambda_runtime::Context> {
        self.shared.invocation.lambda()
    }

    /// When Lambda stops the invocation: leave time to finish, or hand work off. Known on
    /// every transport under Lambda.
    #[cfg(feature = "runtime")]
    pub fn deadline(&self) -> Option<std::time::SystemTime> {
        self.shared.invocation.deadline()
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
