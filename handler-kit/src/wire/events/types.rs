//! The event types, each declared once: its fields, how they are read from the wire and how
//! they are written back in soketi's key order. List a new type in `with_event_types!` too.

use serde::de::DeserializeOwned;

use super::fields::{Presence::*, Schema, Shape::*};
use super::{ClientData, DataError, EventFields, EventWriter, Field, Fields, UserId};

/// Declares an event whose only field is its channel.
macro_rules! channel_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            /// The channel name.
            pub channel: String,
        }

        impl $name {
            /// The event for `channel`.
            pub fn new(channel: impl Into<String>) -> Self {
                $name { channel: channel.into() }
            }
        }

        impl EventFields for $name {
            const SCHEMA: Schema = &[(Field::Channel, Str, Required)];

            fn decode(f: &Fields<'_>) -> Result<Self, String> {
                Ok($name { channel: f.string(Field::Channel)? })
            }

            fn encode(&self, out: &mut EventWriter<'_>) {
                out.string(Field::Channel, &self.channel);
            }

            fn channel(&self) -> &str {
                &self.channel
            }
        }
    };
}

channel_event!(
    /// `channel_occupied`: the first connection subscribed to `channel`.
    ChannelOccupied
);
channel_event!(
    /// `channel_vacated`: the last connection left `channel`.
    ChannelVacated
);
channel_event!(
    /// `cache_miss`: a cache channel was subscribed to with nothing cached.
    CacheMiss
);

/// Declares a presence event: a channel and a user.
macro_rules! member_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            /// The presence channel.
            pub channel: String,
            /// The user, a string or a number.
            pub user_id: UserId,
        }

        impl $name {
            /// The event for `user_id` on `channel`.
            pub fn new(channel: impl Into<String>, user_id: impl Into<UserId>) -> Self {
                $name { channel: channel.into(), user_id: user_id.into() }
            }
        }

        impl EventFields for $name {
            const SCHEMA: Schema = &[
                (Field::Channel, Str, Required),
                (Field::UserId, StrOrNumber, Required),
            ];

            fn decode(f: &Fields<'_>) -> Result<Self, String> {
                Ok($name {
                    channel: f.string(Field::Channel)?,
                    user_id: f.user_id(Field::UserId)?,
                })
            }

            fn encode(&self, out: &mut EventWriter<'_>) {
                out.string(Field::Channel, &self.channel);
                out.user_id(Field::UserId, &self.user_id);
            }

            fn channel(&self) -> &str {
                &self.channel
            }
        }
    };
}

member_event!(
    /// `member_added`: a user joined a presence channel.
    MemberAdded
);
member_event!(
    /// `member_removed`: a user left a presence channel.
    MemberRemoved
);

/// `client_event`: a client sent a `client-*` event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientEvent {
    /// The channel it was sent on.
    pub channel: String,
    /// The client's event name, e.g. `client-typing`.
    pub event: String,
    /// The data, exactly as received; `None` when the client sent none.
    pub data: Option<ClientData>,
    /// The sending connection.
    pub socket_id: Option<String>,
    /// The sending user, on presence channels only.
    pub user_id: Option<UserId>,
}

impl ClientEvent {
    /// A client event with no data, socket id or user id; see the `with_*` methods.
    ///
    /// ```
    /// use soketi_handler_kit::wire::{ClientData, ClientEvent};
    /// let ev = ClientEvent::new("presence-room", "client-typing")
    ///     .with_data(ClientData::from_json(r#"{"who":"u1"}"#)?)
    ///     .with_socket_id("123.456")
    ///     .with_user_id("u1");
    /// assert_eq!(ev.data.as_ref().map(|d| d.as_json()), Some(r#"{"who":"u1"}"#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(channel: impl Into<String>, event: impl Into<String>) -> Self {
        ClientEvent {
            channel: channel.into(),
            event: event.into(),
            data: None,
            socket_id: None,
            user_id: None,
        }
    }

    /// Sets the data.
    pub fn with_data(mut self, data: ClientData) -> Self {
        self.data = Some(data);
        self
    }

    /// Sets the sending socket id.
    pub fn with_socket_id(mut self, socket_id: impl Into<String>) -> Self {
        self.socket_id = Some(socket_id.into());
        self
    }

    /// Sets the sending user id (presence channels).
    pub fn with_user_id(mut self, user_id: impl Into<UserId>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// The data deserialized as `T`, in either the object or the JSON-string form;
    /// see [`ClientData::parse`].
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, DataError> {
        self.data.as_ref().ok_or(DataError::Missing)?.parse()
    }
}

impl EventFields for ClientEvent {
    const SCHEMA: Schema = &[
        (Field::Channel, Str, Required),
        (Field::Event, Str, Required),
        (Field::Data, Any, Optional),
        (Field::SocketId, Str, Optional),
        (Field::UserId, StrOrNumber, Optional),
    ];

    fn decode(f: &Fields<'_>) -> Result<Self, String> {
        Ok(ClientEvent {
            channel: f.string(Field::Channel)?,
            event: f.string(Field::Event)?,
            data: f.data(Field::Data),
            socket_id: f.opt_string(Field::SocketId)?,
            user_id: f.opt_user_id(Field::UserId)?,
        })
    }

    fn encode(&self, out: &mut EventWriter<'_>) {
        out.string(Field::Channel, &self.channel);
        out.string(Field::Event, &self.event);
        out.data(Field::Data, self.data.as_ref());
        out.opt_string(Field::SocketId, self.socket_id.as_deref());
        out.opt_user_id(Field::UserId, self.user_id.as_ref());
    }

    fn channel(&self) -> &str {
        &self.channel
    }
}

/// `subscription_count`: how many connections are subscribed to a channel (Pusher).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SubscriptionCount {
    /// The channel.
    pub channel: String,
    /// The number of subscriptions.
    pub subscription_count: u64,
}

impl SubscriptionCount {
    /// The event for `channel`.
    pub fn new(channel: impl Into<String>, subscription_count: u64) -> Self {
        SubscriptionCount {
            channel: channel.into(),
            subscription_count,
        }
    }
}

impl EventFields for SubscriptionCount {
    const SCHEMA: Schema = &[
        (Field::Channel, Str, Required),
        (Field::SubscriptionCount, U64, Required),
    ];

    fn decode(f: &Fields<'_>) -> Result<Self, String> {
        Ok(SubscriptionCount {
            channel: f.string(Field::Channel)?,
            subscription_count: f.u64(Field::SubscriptionCount)?,
        })
    }

    fn encode(&self, out: &mut EventWriter<'_>) {
        out.string(Field::Channel, &self.channel);
        out.u64(Field::SubscriptionCount, self.subscription_count);
    }

    fn channel(&self) -> &str {
        &self.channel
    }
}

/// An event whose `name` this version does not know, kept whole for forward compatibility.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// Its `name`.
    pub name: String,
    json: Box<str>,
}

impl UnknownEvent {
    pub(crate) fn from_parts(name: String, json: &str) -> Self {
        UnknownEvent {
            name,
            json: json.into(),
        }
    }

    /// An event from a JSON object with a string `name`, printed as `JSON.stringify` would.
    ///
    /// ```
    /// use soketi_handler_kit::wire::UnknownEvent;
    /// let ev = UnknownEvent::from_json(r#"{"name":"future_thing", "channel":"c"}"#)?;
    /// assert_eq!(ev.name, "future_thing");
    /// assert_eq!(ev.as_json(), r#"{"name":"future_thing","channel":"c"}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, super::EventDecodeError> {
        use super::super::js_json;
        let canonical =
            js_json::canonicalize(text).map_err(|e| super::EventDecodeError::new(None, e))?;
        let spans =
            super::scan::event(&canonical).map_err(|e| super::EventDecodeError::new(None, e))?;
        let name = Fields::new(&canonical, &spans)
            .name()
            .map_err(|reason| super::EventDecodeError::new(None, reason))?
            .into_owned();
        Ok(UnknownEvent {
            name,
            json: canonical.into(),
        })
    }

    /// The whole event object as the JSON text that arrived, `name` included.
    pub fn as_json(&self) -> &str {
        &self.json
    }
}
