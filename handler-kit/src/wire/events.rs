//! The webhook events, with soketi's exact key order for writing and lenient reading.
//!
//! Reading never re-serializes: each event is decoded from the bytes that arrived, and client
//! `data` is kept as the raw JSON text. Writing produces what soketi's `JSON.stringify` prints.

use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::{Error as _, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::js_json;

/// The event types soketi and Pusher send, by their wire `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// `channel_occupied`: the first connection subscribed to a channel.
    ChannelOccupied,
    /// `channel_vacated`: the last connection left a channel.
    ChannelVacated,
    /// `member_added`: a user joined a presence channel.
    MemberAdded,
    /// `member_removed`: a user left a presence channel.
    MemberRemoved,
    /// `client_event`: a client sent a `client-*` event on a private or presence channel.
    ClientEvent,
    /// `cache_miss`: a cache channel was subscribed to while empty.
    CacheMiss,
    /// `subscription_count`: Pusher's subscription count change (soketi 1.6 does not send it).
    SubscriptionCount,
}

impl EventKind {
    /// Every kind, in the order of the table in the wire specification.
    pub const ALL: [EventKind; 7] = [
        EventKind::ChannelOccupied,
        EventKind::ChannelVacated,
        EventKind::MemberAdded,
        EventKind::MemberRemoved,
        EventKind::ClientEvent,
        EventKind::CacheMiss,
        EventKind::SubscriptionCount,
    ];

    /// The wire name, e.g. `"channel_occupied"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::ChannelOccupied => "channel_occupied",
            EventKind::ChannelVacated => "channel_vacated",
            EventKind::MemberAdded => "member_added",
            EventKind::MemberRemoved => "member_removed",
            EventKind::ClientEvent => "client_event",
            EventKind::CacheMiss => "cache_miss",
            EventKind::SubscriptionCount => "subscription_count",
        }
    }

    /// The kind with this wire name, or `None` for a name this version does not know.
    ///
    /// ```
    /// use soketi_handler_kit::wire::EventKind;
    /// assert_eq!(EventKind::from_name("member_added"), Some(EventKind::MemberAdded));
    /// assert_eq!(EventKind::from_name("Member_Added"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A presence user id: soketi passes on whatever the presence `channel_data` held, a string
/// or a number.
///
/// `Display` prints it as soketi would (numbers the JavaScript way).
///
/// ```
/// use soketi_handler_kit::wire::UserId;
/// assert_eq!(UserId::from("user-1").to_string(), "user-1");
/// assert_eq!(UserId::from(42u64).to_string(), "42");
/// assert_eq!(UserId::from(42u64).as_str(), None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum UserId {
    /// A string id, e.g. `"user-1"`.
    String(String),
    /// A numeric id, e.g. `42`.
    Number(serde_json::Number),
}

impl UserId {
    /// The id if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            UserId::String(s) => Some(s),
            UserId::Number(_) => None,
        }
    }

    /// The id as a JSON number printed the JavaScript way.
    fn js_number(n: &serde_json::Number) -> String {
        let mut out = String::new();
        // JavaScript numbers are doubles: that is what soketi had in hand and printed.
        js_json::write_number(&mut out, n.as_f64().unwrap_or(f64::NAN));
        out
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserId::String(s) => f.write_str(s),
            UserId::Number(n) => f.write_str(&UserId::js_number(n)),
        }
    }
}

impl From<&str> for UserId {
    fn from(s: &str) -> Self {
        UserId::String(s.to_owned())
    }
}

impl From<String> for UserId {
    fn from(s: String) -> Self {
        UserId::String(s)
    }
}

impl From<u64> for UserId {
    fn from(n: u64) -> Self {
        UserId::Number(n.into())
    }
}

impl From<i64> for UserId {
    fn from(n: i64) -> Self {
        UserId::Number(n.into())
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            UserId::String(s) => serializer.serialize_str(s),
            UserId::Number(n) => RawValue::from_string(UserId::js_number(n))
                .map_err(S::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            lenient_string(text)
                .map(UserId::String)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_str::<serde_json::Number>(text)
                .map(UserId::Number)
                .map_err(|_| D::Error::custom("user_id must be a string or a number"))
        }
    }
}

/// Decodes a JSON string literal; a lone surrogate (valid JSON, not valid UTF-8) becomes U+FFFD
/// instead of an error, so that no signed event is rejected for it.
fn lenient_string(literal: &str) -> Result<String, String> {
    match serde_json::from_str::<String>(literal) {
        Ok(s) => Ok(s),
        Err(_) => js_json::decode_string_lossy(literal).map_err(|e| e.to_string()),
    }
}

fn de_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let raw = <&RawValue>::deserialize(deserializer)?;
    if !raw.get().starts_with('"') {
        return Err(D::Error::custom(format_args!(
            "expected a string, found {}",
            raw.get()
        )));
    }
    lenient_string(raw.get()).map_err(D::Error::custom)
}

fn de_opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    de_string(deserializer).map(Some)
}

fn de_opt_user_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<UserId>, D::Error> {
    UserId::deserialize(deserializer).map(Some)
}

fn de_opt_data<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ClientData>, D::Error> {
    // Present means present, even when it is `null`: keep exactly what arrived.
    Box::<RawValue>::deserialize(deserializer).map(|raw| Some(ClientData(raw)))
}

/// The `data` of a client event, kept as the raw JSON text that arrived (or, when built for
/// sending, as `JSON.stringify` prints it).
///
/// soketi forwards an object; Pusher clients commonly send a JSON-encoded string. [`parse`]
/// reads both forms.
///
/// [`parse`]: ClientData::parse
///
/// ```
/// use soketi_handler_kit::wire::ClientData;
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Chat { text: String }
///
/// let soketi_form = ClientData::from_json(r#"{"text":"hi"}"#)?;
/// let pusher_form = ClientData::string(r#"{"text":"hi"}"#);
/// assert_eq!(pusher_form.as_json(), r#""{\"text\":\"hi\"}""#);
/// assert_eq!(soketi_form.parse::<Chat>()?, Chat { text: "hi".into() });
/// assert_eq!(pusher_form.parse::<Chat>()?, Chat { text: "hi".into() });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClientData(Box<RawValue>);

impl ClientData {
    /// Client data from JSON text, rewritten exactly as JavaScript's
    /// `JSON.stringify(JSON.parse(text))` prints it (what soketi would send).
    pub fn from_json(text: &str) -> Result<Self, js_json::JsJsonError> {
        let canonical = js_json::canonicalize(text)?;
        Ok(ClientData::from_canonical(canonical))
    }

    /// Client data from a JSON value, printed as `JSON.stringify` would.
    pub fn from_value(value: &serde_json::Value) -> Self {
        let canonical =
            js_json::canonicalize(&value.to_string()).unwrap_or_else(|_| "null".to_owned());
        ClientData::from_canonical(canonical)
    }

    /// Client data that is a JSON string, the form Pusher client libraries send
    /// (`channel.trigger("client-x", JSON.stringify(obj))`).
    pub fn string(text: &str) -> Self {
        let mut out = String::with_capacity(text.len() + 2);
        js_json::write_str(&mut out, text);
        ClientData::from_canonical(out)
    }

    fn from_canonical(text: String) -> Self {
        // Output of the canonicalizer is valid JSON by construction.
        match RawValue::from_string(text) {
            Ok(raw) => ClientData(raw),
            Err(_) => ClientData(RawValue::NULL.to_owned()),
        }
    }

    /// The raw JSON text of the data, exactly as it arrived.
    pub fn as_json(&self) -> &str {
        self.0.get()
    }

    /// The raw JSON value.
    pub fn as_raw(&self) -> &RawValue {
        &self.0
    }

    /// Whether the data is a JSON string (the Pusher form).
    pub fn is_string(&self) -> bool {
        self.0.get().starts_with('"')
    }

    /// Deserializes the data as `T`, whichever form it came in: an object or other JSON value
    /// (soketi) is read directly; a JSON string (Pusher) is read as the JSON document it
    /// contains, or, when that fails, as a plain string (so `T = String` gets the text).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, DataError> {
        let raw = self.0.get();
        if self.is_string() {
            let inner = lenient_string(raw).map_err(DataError::NotUtf8)?;
            if let Ok(value) = serde_json::from_str::<T>(&inner) {
                return Ok(value);
            }
        }
        serde_json::from_str::<T>(raw).map_err(DataError::Invalid)
    }
}

impl fmt::Debug for ClientData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientData({})", self.0.get())
    }
}

impl PartialEq for ClientData {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Serialize for ClientData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Why client data could not be read as the requested type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The client event carried no `data`.
    #[error("the client event has no data")]
    Missing,
    /// The data is a JSON string that could not be decoded.
    #[error("the client data string could not be decoded: {0}")]
    NotUtf8(String),
    /// The data does not have the shape of the requested type.
    #[error("the client data does not match the expected type: {0}")]
    Invalid(#[source] serde_json::Error),
}

macro_rules! channel_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            /// The channel name.
            #[serde(deserialize_with = "de_string")]
            pub channel: String,
        }

        impl $name {
            /// The event for `channel`.
            pub fn new(channel: impl Into<String>) -> Self {
                $name { channel: channel.into() }
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

macro_rules! member_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            /// The presence channel.
            #[serde(deserialize_with = "de_string")]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ClientEvent {
    /// The channel it was sent on.
    #[serde(deserialize_with = "de_string")]
    pub channel: String,
    /// The client's event name, e.g. `client-typing`.
    #[serde(deserialize_with = "de_string")]
    pub event: String,
    /// The data, exactly as received; `None` when the client sent none.
    #[serde(default, deserialize_with = "de_opt_data")]
    pub data: Option<ClientData>,
    /// The sending connection.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub socket_id: Option<String>,
    /// The sending user, on presence channels only.
    #[serde(default, deserialize_with = "de_opt_user_id")]
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

/// `subscription_count`: how many connections are subscribed to a channel (Pusher).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SubscriptionCount {
    /// The channel.
    #[serde(deserialize_with = "de_string")]
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

/// An event whose `name` this version does not know, kept whole for forward compatibility.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// Its `name`.
    pub name: String,
    raw: Box<RawValue>,
}

impl UnknownEvent {
    /// An event from a JSON object with a string `name`, printed as `JSON.stringify` would.
    ///
    /// ```
    /// use soketi_handler_kit::wire::UnknownEvent;
    /// let ev = UnknownEvent::from_json(r#"{"name":"future_thing","channel":"c"}"#)?;
    /// assert_eq!(ev.name, "future_thing");
    /// assert_eq!(ev.as_json(), r#"{"name":"future_thing","channel":"c"}"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self, EventDecodeError> {
        let canonical = js_json::canonicalize(text).map_err(|e| EventDecodeError::new(None, e))?;
        let raw = RawValue::from_string(canonical).map_err(|e| EventDecodeError::new(None, e))?;
        let name = event_name(&raw)?;
        Ok(UnknownEvent { name, raw })
    }

    /// The whole event object as the raw JSON text that arrived, `name` included.
    pub fn as_json(&self) -> &str {
        self.raw.get()
    }

    /// The whole event object as a raw JSON value.
    pub fn as_raw(&self) -> &RawValue {
        &self.raw
    }
}

impl PartialEq for UnknownEvent {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.raw.get() == other.raw.get()
    }
}

/// One event of a webhook payload.
///
/// Build events with the variant structs' constructors, e.g.
/// `Event::from(ChannelOccupied::new("c"))`, or the shortcuts on `Event`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// See [`ChannelOccupied`].
    ChannelOccupied(ChannelOccupied),
    /// See [`ChannelVacated`].
    ChannelVacated(ChannelVacated),
    /// See [`MemberAdded`].
    MemberAdded(MemberAdded),
    /// See [`MemberRemoved`].
    MemberRemoved(MemberRemoved),
    /// See [`ClientEvent`].
    ClientEvent(ClientEvent),
    /// See [`CacheMiss`].
    CacheMiss(CacheMiss),
    /// See [`SubscriptionCount`].
    SubscriptionCount(SubscriptionCount),
    /// An event with a name this version does not know.
    Unknown(UnknownEvent),
}

macro_rules! event_from {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Event {
            fn from(ev: $variant) -> Self {
                Event::$variant(ev)
            }
        }
    )*};
}
event_from!(
    ChannelOccupied,
    ChannelVacated,
    MemberAdded,
    MemberRemoved,
    ClientEvent,
    CacheMiss,
    SubscriptionCount
);

impl From<UnknownEvent> for Event {
    fn from(ev: UnknownEvent) -> Self {
        Event::Unknown(ev)
    }
}

impl Event {
    /// `channel_occupied` on `channel`.
    pub fn channel_occupied(channel: impl Into<String>) -> Self {
        ChannelOccupied::new(channel).into()
    }

    /// `channel_vacated` on `channel`.
    pub fn channel_vacated(channel: impl Into<String>) -> Self {
        ChannelVacated::new(channel).into()
    }

    /// `member_added` of `user_id` on `channel`.
    pub fn member_added(channel: impl Into<String>, user_id: impl Into<UserId>) -> Self {
        MemberAdded::new(channel, user_id).into()
    }

    /// `member_removed` of `user_id` on `channel`.
    pub fn member_removed(channel: impl Into<String>, user_id: impl Into<UserId>) -> Self {
        MemberRemoved::new(channel, user_id).into()
    }

    /// `cache_miss` on `channel`.
    pub fn cache_miss(channel: impl Into<String>) -> Self {
        CacheMiss::new(channel).into()
    }

    /// `subscription_count` of `channel`.
    pub fn subscription_count(channel: impl Into<String>, count: u64) -> Self {
        SubscriptionCount::new(channel, count).into()
    }

    /// The kind, or `None` for an unknown event.
    pub fn kind(&self) -> Option<EventKind> {
        Some(match self {
            Event::ChannelOccupied(_) => EventKind::ChannelOccupied,
            Event::ChannelVacated(_) => EventKind::ChannelVacated,
            Event::MemberAdded(_) => EventKind::MemberAdded,
            Event::MemberRemoved(_) => EventKind::MemberRemoved,
            Event::ClientEvent(_) => EventKind::ClientEvent,
            Event::CacheMiss(_) => EventKind::CacheMiss,
            Event::SubscriptionCount(_) => EventKind::SubscriptionCount,
            Event::Unknown(_) => return None,
        })
    }

    /// The wire `name`.
    pub fn name(&self) -> &str {
        match self {
            Event::Unknown(ev) => &ev.name,
            known => known.kind().map(EventKind::as_str).unwrap_or_default(),
        }
    }

    /// The channel, for every known kind (`None` for unknown events).
    pub fn channel(&self) -> Option<&str> {
        match self {
            Event::ChannelOccupied(ev) => Some(&ev.channel),
            Event::ChannelVacated(ev) => Some(&ev.channel),
            Event::MemberAdded(ev) => Some(&ev.channel),
            Event::MemberRemoved(ev) => Some(&ev.channel),
            Event::ClientEvent(ev) => Some(&ev.channel),
            Event::CacheMiss(ev) => Some(&ev.channel),
            Event::SubscriptionCount(ev) => Some(&ev.channel),
            Event::Unknown(_) => None,
        }
    }

    /// Decodes one event from its raw JSON object, as it arrived.
    ///
    /// An unknown `name` gives [`Event::Unknown`]; a known name with missing or mistyped
    /// fields is an error naming the field.
    pub fn from_raw(raw: &RawValue) -> Result<Event, EventDecodeError> {
        let name = event_name(raw)?;
        let text = raw.get();
        let wrap = |e: serde_json::Error| EventDecodeError::new(Some(name.clone()), e);
        let event = match EventKind::from_name(&name) {
            Some(EventKind::ChannelOccupied) => Event::ChannelOccupied(decode(text).map_err(wrap)?),
            Some(EventKind::ChannelVacated) => Event::ChannelVacated(decode(text).map_err(wrap)?),
            Some(EventKind::MemberAdded) => Event::MemberAdded(decode(text).map_err(wrap)?),
            Some(EventKind::MemberRemoved) => Event::MemberRemoved(decode(text).map_err(wrap)?),
            Some(EventKind::ClientEvent) => Event::ClientEvent(decode(text).map_err(wrap)?),
            Some(EventKind::CacheMiss) => Event::CacheMiss(decode(text).map_err(wrap)?),
            Some(EventKind::SubscriptionCount) => {
                Event::SubscriptionCount(decode(text).map_err(wrap)?)
            }
            None => Event::Unknown(UnknownEvent {
                name,
                raw: raw.to_owned(),
            }),
        };
        Ok(event)
    }
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}

/// Reads the `name` of an event object without decoding the rest.
fn event_name(raw: &RawValue) -> Result<String, EventDecodeError> {
    #[derive(Deserialize)]
    struct Name {
        #[serde(deserialize_with = "de_string")]
        name: String,
    }
    if !raw.get().starts_with('{') {
        return Err(EventDecodeError::new(
            None,
            "an event must be a JSON object",
        ));
    }
    serde_json::from_str::<Name>(raw.get())
        .map(|n| n.name)
        .map_err(|e| EventDecodeError::new(None, e))
}

impl Serialize for Event {
    /// Writes the event with soketi's key order: `name` first, then the table's fields; optional
    /// client-event fields are left out when absent.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = self.name();
        match self {
            Event::ChannelOccupied(ChannelOccupied { channel })
            | Event::ChannelVacated(ChannelVacated { channel })
            | Event::CacheMiss(CacheMiss { channel }) => {
                let mut s = serializer.serialize_struct("Event", 2)?;
                s.serialize_field("name", name)?;
                s.serialize_field("channel", channel)?;
                s.end()
            }
            Event::MemberAdded(MemberAdded { channel, user_id })
            | Event::MemberRemoved(MemberRemoved { channel, user_id }) => {
                let mut s = serializer.serialize_struct("Event", 3)?;
                s.serialize_field("name", name)?;
                s.serialize_field("channel", channel)?;
                s.serialize_field("user_id", user_id)?;
                s.end()
            }
            Event::ClientEvent(ev) => {
                let mut s = serializer.serialize_struct("Event", 6)?;
                s.serialize_field("name", name)?;
                s.serialize_field("channel", &ev.channel)?;
                s.serialize_field("event", &ev.event)?;
                if let Some(data) = &ev.data {
                    s.serialize_field("data", data)?;
                }
                if let Some(socket_id) = &ev.socket_id {
                    s.serialize_field("socket_id", socket_id)?;
                }
                if let Some(user_id) = &ev.user_id {
                    s.serialize_field("user_id", user_id)?;
                }
                s.end()
            }
            Event::SubscriptionCount(ev) => {
                let mut s = serializer.serialize_struct("Event", 3)?;
                s.serialize_field("name", name)?;
                s.serialize_field("channel", &ev.channel)?;
                s.serialize_field("subscription_count", &ev.subscription_count)?;
                s.end()
            }
            Event::Unknown(ev) => ev.raw.serialize(serializer),
        }
    }
}

/// An event that could not be decoded: not an object, no string `name`, or a known name with
/// missing or mistyped fields.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", match name { Some(n) => format!("event `{n}` is malformed"), None => "event is malformed".to_owned() })]
pub struct EventDecodeError {
    name: Option<String>,
    reason: String,
}

impl EventDecodeError {
    fn new(name: Option<String>, reason: impl fmt::Display) -> Self {
        EventDecodeError {
            name,
            reason: reason.to_string(),
        }
    }

    /// The event's `name`, when it had a readable one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("test JSON")
    }

    #[test]
    fn writes_soketi_key_order() {
        let ev = Event::from(
            ClientEvent::new("presence-room", "client-typing")
                .with_data(ClientData::from_json(r#"{"who":"user-2"}"#).expect("json"))
                .with_socket_id("5460767047.7868393145")
                .with_user_id("user-2"),
        );
        assert_eq!(
            serde_json::to_string(&ev).expect("serialize"),
            r#"{"name":"client_event","channel":"presence-room","event":"client-typing","data":{"who":"user-2"},"socket_id":"5460767047.7868393145","user_id":"user-2"}"#
        );
        assert_eq!(
            serde_json::to_string(&Event::member_added("presence-numeric", 42u64)).expect("ser"),
            r#"{"name":"member_added","channel":"presence-numeric","user_id":42}"#
        );
    }

    #[test]
    fn reads_data_in_every_form_and_keeps_it_raw() {
        let cases = [
            (
                r#"{"name":"client_event","channel":"c","event":"client-x","socket_id":"1.2"}"#,
                None,
            ),
            (
                r#"{"name":"client_event","channel":"c","event":"client-x","data":null}"#,
                Some("null"),
            ),
            (
                r#"{"name":"client_event","channel":"c","event":"client-x","data": {"a" : 1.0}}"#,
                Some(r#"{"a" : 1.0}"#),
            ),
            (
                r#"{"name":"client_event","channel":"c","event":"client-x","data":"\ud800 lone"}"#,
                Some(r#""\ud800 lone""#),
            ),
        ];
        for (text, expected) in cases {
            match Event::from_raw(&raw(text)) {
                Ok(Event::ClientEvent(ev)) => {
                    assert_eq!(
                        ev.data.as_ref().map(ClientData::as_json),
                        expected,
                        "{text}"
                    )
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn user_id_is_a_string_or_a_number_and_nothing_else() {
        let ok = Event::from_raw(&raw(
            r#"{"name":"member_added","channel":"p","user_id":42}"#,
        ));
        assert!(matches!(
            ok,
            Ok(Event::MemberAdded(MemberAdded {
                user_id: UserId::Number(_),
                ..
            }))
        ));
        let bad = Event::from_raw(&raw(
            r#"{"name":"member_added","channel":"p","user_id":true}"#,
        ))
        .expect_err("bool user id");
        assert_eq!(bad.name(), Some("member_added"));
        assert!(
            bad.to_string()
                .contains("user_id must be a string or a number"),
            "{bad}"
        );
        let missing = Event::from_raw(&raw(r#"{"name":"member_added","channel":"p"}"#))
            .expect_err("missing user id");
        assert!(missing.to_string().contains("user_id"), "{missing}");
    }

    #[test]
    fn unknown_names_are_kept_whole() {
        let text = r#"{"name":"brand_new","channel":"c","x":[1,2]}"#;
        match Event::from_raw(&raw(text)) {
            Ok(Event::Unknown(ev)) => {
                assert_eq!(ev.name, "brand_new");
                assert_eq!(ev.as_json(), text);
                assert_eq!(
                    serde_json::to_string(&Event::Unknown(ev)).expect("ser"),
                    text
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lone_surrogates_in_names_do_not_reject_the_event() {
        let ev = Event::from_raw(&raw(
            r#"{"name":"member_added","channel":"p","user_id":"a\udc00b"}"#,
        ))
        .expect("lenient");
        assert_eq!(ev, Event::member_added("p", "a\u{fffd}b"));
    }

    #[test]
    fn data_as_reads_object_and_string_forms() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Msg {
            n: u32,
        }
        let object = ClientEvent::new("c", "client-x")
            .with_data(ClientData::from_json(r#"{"n":1}"#).expect("json"));
        let string = ClientEvent::new("c", "client-x").with_data(ClientData::string(r#"{"n":1}"#));
        let plain = ClientEvent::new("c", "client-x").with_data(ClientData::string("hello"));
        assert_eq!(object.data_as::<Msg>().expect("object"), Msg { n: 1 });
        assert_eq!(string.data_as::<Msg>().expect("string"), Msg { n: 1 });
        assert_eq!(plain.data_as::<String>().expect("plain"), "hello");
        assert!(matches!(plain.data_as::<Msg>(), Err(DataError::Invalid(_))));
        assert!(matches!(
            ClientEvent::new("c", "e").data_as::<Msg>(),
            Err(DataError::Missing)
        ));
    }
}
