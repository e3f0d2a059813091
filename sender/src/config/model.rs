//! The configuration's values: apps, webhooks and their filters (targets are in
//! [`target`](super::target)); built in code or read by [`apps_file`](super::apps_file).

use std::fmt;

use soketi_handler_kit::wire::{Event, EventKind, Secret};

use super::error::ConfigError;
use super::target::{
    HttpTarget, InvocationMode, LambdaTarget, RegionSource, StaticCredentials, Target,
};
use crate::redact;

/// One soketi app: its id, key, secret and webhooks.
///
/// `Debug` never shows the secret.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct App {
    /// The app id (soketi's `id`).
    pub id: String,
    /// The app key, sent in `X-Pusher-Key`.
    pub key: String,
    /// The app secret, which signs every payload of this app.
    pub secret: Secret,
    /// The webhooks, in configuration order (their index is the one reports use).
    pub webhooks: Vec<Webhook>,
    /// Secrets the app used before [`App::secret`], still accepted on soketi's queue jobs so
    /// that a rotation between enqueue and delivery drops nothing (the apps file's
    /// `previous_secrets`, which soketi ignores). Nothing is signed with them.
    pub previous_secrets: Vec<Secret>,
}

impl App {
    /// An app with no webhook; add them with [`App::webhook`].
    ///
    /// ```
    /// use soketi_lambda_sender::config::{App, Webhook};
    /// use soketi_handler_kit::wire::EventKind;
    /// let app = App::new("1", "app1key", "app1secret")
    ///     .webhook(Webhook::lambda("my-function").region("eu-west-1").event_types([EventKind::ChannelOccupied]));
    /// assert_eq!(app.webhooks.len(), 1);
    /// assert!(!format!("{app:?}").contains("app1secret"));
    /// ```
    pub fn new(id: impl Into<String>, key: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        App {
            id: id.into(),
            key: key.into(),
            secret: Secret::new(secret),
            webhooks: Vec::new(),
            previous_secrets: Vec::new(),
        }
    }

    /// Also accepts `secret` on queue jobs (see [`App::previous_secrets`]).
    ///
    /// ```
    /// use soketi_lambda_sender::config::App;
    /// let app = App::new("1", "app1key", "new-secret").previous_secret("old-secret");
    /// assert_eq!(app.secrets().count(), 2);
    /// ```
    pub fn previous_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.previous_secrets.push(Secret::new(secret));
        self
    }

    /// The secrets a queue job of this app may be signed with: the current one first, then the
    /// previous ones.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.secret).chain(&self.previous_secrets)
    }

    /// Adds a webhook.
    pub fn webhook(mut self, webhook: Webhook) -> Self {
        self.webhooks.push(webhook);
        self
    }

    /// Checks the webhooks: a target, at least one event type, no reserved custom header, and
    /// for `url` webhooks custom headers that HTTP can carry. Apps built in code are checked by
    /// the sender's builder; parsed apps are checked while parsing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, webhook) in self.webhooks.iter().enumerate() {
            webhook.validate(index, "")?;
        }
        Ok(())
    }
}

/// The channel-name filter of a webhook. Empty strings mean no constraint; matching is
/// case-sensitive, as in soketi.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Filter {
    /// `channel_name_starts_with`.
    pub starts_with: String,
    /// `channel_name_ends_with`.
    pub ends_with: String,
}

impl Filter {
    /// A filter on both ends of the channel name (empty = no constraint).
    pub fn new(starts_with: impl Into<String>, ends_with: impl Into<String>) -> Self {
        Filter {
            starts_with: starts_with.into(),
            ends_with: ends_with.into(),
        }
    }

    /// Whether `channel` passes. An event without a channel passes only an empty filter.
    ///
    /// ```
    /// use soketi_lambda_sender::config::Filter;
    /// let f = Filter::new("presence-", "");
    /// assert!(f.matches(Some("presence-room")));
    /// assert!(!f.matches(Some("Presence-room")));
    /// assert!(Filter::default().matches(None));
    /// ```
    pub fn matches(&self, channel: Option<&str>) -> bool {
        if self.starts_with.is_empty() && self.ends_with.is_empty() {
            return true;
        }
        match channel {
            Some(c) => c.starts_with(&self.starts_with) && c.ends_with(&self.ends_with),
            None => false,
        }
    }
}

/// One webhook of an app. `Debug` hides credential header values and URL passwords (see
/// [`redact`]).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Webhook {
    /// Where its events go.
    pub target: Target,
    /// The event types it wants (`event_types`).
    pub event_types: Vec<EventKind>,
    /// The channel filter (`filter`).
    pub filter: Filter,
    /// Custom headers (`headers`), in configuration order.
    pub headers: Vec<(String, String)>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("target", &self.target)
            .field("event_types", &self.event_types)
            .field("filter", &self.filter)
            .field("headers", &redact::Headers(&self.headers))
            .finish()
    }
}

impl Webhook {
    /// A Lambda webhook for `function` (`RequestResponse`, no region, no event type yet).
    pub fn lambda(function: impl Into<String>) -> Self {
        Webhook::with_target(Target::Lambda(LambdaTarget::new(function)))
    }

    /// An HTTP webhook POSTing to `url` (no event type yet).
    pub fn http(url: impl Into<String>) -> Self {
        Webhook::with_target(Target::Http(HttpTarget::new(url)))
    }

    /// A webhook for `target`.
    pub fn with_target(target: Target) -> Self {
        Webhook {
            target,
            event_types: Vec::new(),
            filter: Filter::default(),
            headers: Vec::new(),
        }
    }

    /// Sets the event types.
    pub fn event_types(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        self.event_types = kinds.into_iter().collect();
        self
    }

    /// Sets the channel filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Adds a custom header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Lambda only: invoke asynchronously (`Event`) when `true`.
    pub fn async_invocation(mut self, is_async: bool) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.mode = if is_async {
                InvocationMode::Event
            } else {
                InvocationMode::RequestResponse
            };
        }
        self
    }

    /// Lambda only: the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.region = Some(region.into());
            lambda.region_source = Some(RegionSource::Code);
        }
        self
    }

    /// Lambda only: the endpoint (a local emulator, for instance).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.endpoint = Some(endpoint.into());
        }
        self
    }

    /// Lambda only: explicit credentials instead of the AWS default chain.
    pub fn credentials(mut self, credentials: StaticCredentials) -> Self {
        if let Target::Lambda(lambda) = &mut self.target {
            lambda.credentials = Some(credentials);
        }
        self
    }

    /// Whether this webhook wants `event`: its name is one of the `event_types` and its
    /// channel passes the filter. Unknown events match no webhook.
    pub fn matches(&self, event: &Event) -> bool {
        match event.kind() {
            Some(kind) => self.event_types.contains(&kind) && self.filter.matches(event.channel()),
            None => false,
        }
    }
}
