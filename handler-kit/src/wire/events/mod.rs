//! The webhook events: read from the bytes that arrived, written with soketi's key order.
//!
//! Each event type is declared once, in [`types`](self) (its struct, how its fields are read,
//! how they are written), and listed once in the table of [`with_event_types!`]. Everything
//! that concerns every type — [`EventKind`], [`Event`], the name lookup, the router's `on_*`
//! methods — is generated from that table, so adding the next event soketi sends is a struct
//! and a line.
//!
//! Reading never re-serializes: client `data` and unknown events are kept as the JSON text
//! that arrived.

mod client_data;
mod fields;
mod types;
mod user_id;

use std::borrow::Cow;
use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

pub(crate) use super::names::Field;
pub use client_data::{ClientData, DataError};
pub(crate) use fields::{EventWriter, Fields, Schema};
pub use types::{
    CacheMiss, ChannelOccupied, ChannelVacated, ClientEvent, MemberAdded, MemberRemoved,
    SubscriptionCount, UnknownEvent,
};
pub use user_id::UserId;

use super::scan::{self, EventSpans};

/// The table of known event types: `Type => "wire_name", on_method, "doc"`. Calls `$m!` with
/// it. Add a line here (and the type in `types.rs`) to teach the kit a new event.
macro_rules! with_event_types {
    ($m:ident) => {
        $m! {
            ChannelOccupied => "channel_occupied", on_channel_occupied,
                "`channel_occupied`: the first connection subscribed to a channel.";
            ChannelVacated => "channel_vacated", on_channel_vacated,
                "`channel_vacated`: the last connection left a channel.";
            MemberAdded => "member_added", on_member_added,
                "`member_added`: a user joined a presence channel.";
            MemberRemoved => "member_removed", on_member_removed,
                "`member_removed`: a user left a presence channel.";
            ClientEvent => "client_event", on_client_event,
                "`client_event`: a client sent a `client-*` event on a private or presence channel.";
            CacheMiss => "cache_miss", on_cache_miss,
                "`cache_miss`: a cache channel was subscribed to while empty.";
            SubscriptionCount => "subscription_count", on_subscription_count,
                "`subscription_count`: Pusher's subscription count change (soketi 1.6 does not send it).";
        }
    };
}
pub(crate) use with_event_types;

/// A known event type: its [`EventKind`], and its place in [`Event`]. Implemented by each
/// event struct; [`Webhooks::on`](crate::Webhooks::on) takes callbacks for any of them.
pub trait KnownEvent: Into<Event> + TryFrom<Event, Error = Event> + Send + 'static {
    /// The kind, and so the wire `name`.
    const KIND: EventKind;
}

/// How an event type reads its fields from the bytes and writes them back (crate-internal:
/// the one place per type where the wire format of its fields is written down).
pub(crate) trait EventFields: Sized {
    /// The fields, their shapes and whether they are required, in soketi's key order.
    const SCHEMA: Schema;
    /// Reads the event from its recorded field spans. The message names the field at fault.
    /// Accepts exactly what [`Fields::check`] accepts with [`EventFields::SCHEMA`].
    fn decode(fields: &Fields<'_>) -> Result<Self, String>;
    /// Writes the fields after `name`, in soketi's key order.
    fn encode(&self, out: &mut EventWriter<'_>);
    /// The channel the event is about (every known event has one).
    fn channel(&self) -> &str;
}

macro_rules! define_events {
    ($($ty:ident => $name:literal, $on:ident, $doc:literal;)*) => {
        /// The event types soketi and Pusher send, by their wire `name`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            $(#[doc = $doc] $ty,)*
        }

        impl EventKind {
            /// Every kind, in the order of the table in the wire specification.
            pub const ALL: [EventKind; [$(EventKind::$ty),*].len()] = [$(EventKind::$ty),*];

            /// The wire name, e.g. `"channel_occupied"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$ty => $name,)*
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
                match name {
                    $($name => Some(EventKind::$ty),)*
                    _ => None,
                }
            }
        }

        /// One event of a webhook payload.
        ///
        /// Build events with the variant structs' constructors, e.g.
        /// `Event::from(ChannelOccupied::new("c"))`, or the shortcuts on `Event`.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            $(#[doc = concat!("See [`", stringify!($ty), "`].")] $ty($ty),)*
            /// An event with a name this version does not know.
            Unknown(UnknownEvent),
        }

        $(
            impl KnownEvent for $ty {
                const KIND: EventKind = EventKind::$ty;
            }

            impl From<$ty> for Event {
                fn from(ev: $ty) -> Self {
                    Event::$ty(ev)
                }
            }

            impl TryFrom<Event> for $ty {
                type Error = Event;

                /// The event if it is of this type; otherwise the event back.
                fn try_from(event: Event) -> Result<Self, Event> {
                    match event {
                        Event::$ty(ev) => Ok(ev),
                        other => Err(other),
                    }
                }
            }
        )*

        impl Event {
            /// The kind, or `None` for an unknown event.
            pub fn kind(&self) -> Option<EventKind> {
                match self {
                    $(Event::$ty(_) => Some(EventKind::$ty),)*
                    Event::Unknown(_) => None,
                }
            }

            /// The channel, for every known kind (`None` for unknown events).
            pub fn channel(&self) -> Option<&str> {
                match self {
                    $(Event::$ty(ev) => Some(ev.channel()),)*
                    Event::Unknown(_) => None,
                }
            }

            fn schema(kind: EventKind) -> Schema {
                match kind {
                    $(EventKind::$ty => $ty::SCHEMA,)*
                }
            }

            fn decode_known(kind: EventKind, fields: &Fields<'_>) -> Result<Event, String> {
                match kind {
                    $(EventKind::$ty => $ty::decode(fields).map(Event::$ty),)*
                }
            }

            fn encode_known(&self, out: &mut EventWriter<'_>) {
                match self {
                    $(Event::$ty(ev) => ev.encode(out),)*
                    Event::Unknown(_) => {}
                }
            }
        }
    };
}

with_event_types!(define_events);

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<UnknownEvent> for Event {
    fn from(ev: UnknownEvent) -> Self {
        Event::Unknown(ev)
    }
}

impl TryFrom<Event> for UnknownEvent {
    type Error = Event;

    /// The event if its name is unknown; otherwise the event back.
    fn try_from(event: Event) -> Result<Self, Event> {
        match event {
            Event::Unknown(ev) => Ok(ev),
            other => Err(other),
        }
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

    /// The wire `name`.
    pub fn name(&self) -> &str {
        match (self, self.kind()) {
            (Event::Unknown(ev), _) => &ev.name,
            (_, Some(kind)) => kind.as_str(),
            (_, None) => "",
        }
    }

    /// Decodes one event from its JSON text, as it arrived.
    ///
    /// An unknown `name` gives [`Event::Unknown`]; a known name with missing or mistyped
    /// fields is an error naming the field.
    ///
    /// ```
    /// use soketi_handler_kit::wire::Event;
    /// let ev = Event::from_json(r#"{"name":"member_added","channel":"presence-r","user_id":7}"#)?;
    /// assert_eq!(ev, Event::member_added("presence-r", 7u64));
    /// assert!(Event::from_json(r#"{"name":"member_added","channel":"presence-r"}"#).is_err());
    /// # Ok::<(), soketi_handler_kit::wire::EventDecodeError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Event, EventDecodeError> {
        let spans = scan::event(text).map_err(|e| EventDecodeError::new(None, e))?;
        Event::decode(text, &spans)
    }

    /// Decodes one event from its raw JSON value; see [`Event::from_json`].
    pub fn from_raw(raw: &RawValue) -> Result<Event, EventDecodeError> {
        Event::from_json(raw.get())
    }

    /// Decodes the event recorded at `spans` in `text` (which the scanner already checked).
    pub(crate) fn decode(text: &str, spans: &EventSpans) -> Result<Event, EventDecodeError> {
        let located = Located { text, spans };
        let name = located.identify()?;
        located.decode(name)
    }

    /// The event as JSON text, exactly as soketi's `JSON.stringify` prints it: `name` first,
    /// then the type's fields in soketi's order; optional client-event fields left out when
    /// absent.
    ///
    /// ```
    /// use soketi_handler_kit::wire::Event;
    /// assert_eq!(
    ///     Event::member_added("presence-r", 42u64).to_json(),
    ///     r#"{"name":"member_added","channel":"presence-r","user_id":42}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write_json(&mut out);
        out
    }

    /// Appends [`Event::to_json`] to `out`.
    pub fn write_json(&self, out: &mut String) {
        if let Event::Unknown(ev) = self {
            out.push_str(ev.as_json());
            return;
        }
        let mut writer = EventWriter::new(out, self.name());
        self.encode_known(&mut writer);
        writer.finish();
    }
}

impl Serialize for Event {
    /// Writes the event as [`Event::to_json`] does.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self.to_json();
        let raw: &RawValue = serde_json::from_str(&json).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// An event located in a payload and not decoded yet: the router identifies it by name, then
/// decodes it only if a callback will take it (otherwise it only checks it).
pub(crate) struct Located<'t> {
    pub(crate) text: &'t str,
    pub(crate) spans: &'t EventSpans,
}

/// What an event's `name` says.
#[derive(Clone)]
pub(crate) enum Name<'t> {
    Known(EventKind),
    Unknown(Cow<'t, str>),
}

impl Name<'_> {
    /// The name, without allocating for a known kind.
    pub(crate) fn to_cow(&self) -> Cow<'static, str> {
        match self {
            Name::Known(kind) => Cow::Borrowed(kind.as_str()),
            Name::Unknown(name) => Cow::Owned(name.to_string()),
        }
    }

    /// The kind, `None` for an unknown name.
    pub(crate) fn kind(&self) -> Option<EventKind> {
        match self {
            Name::Known(kind) => Some(*kind),
            Name::Unknown(_) => None,
        }
    }
}

impl<'t> Located<'t> {
    /// Reads the event's `name`; for a known kind, also checks that no field it reads appears
    /// twice.
    pub(crate) fn identify(&self) -> Result<Name<'t>, EventDecodeError> {
        let spans = self.spans;
        if spans.not_object {
            return Err(EventDecodeError::new(
                None,
                "an event must be a JSON object",
            ));
        }
        let kind = Fields::new(self.text, spans)
            .kind()
            .map_err(|reason| EventDecodeError::new(None, reason))?;
        if spans.duplicate == Some(Field::Name) {
            return Err(EventDecodeError::new(None, "duplicate field `name`"));
        }
        match kind {
            Ok(kind) => match spans.duplicate {
                Some(field) => Err(EventDecodeError::new(
                    Some(kind.as_str().to_owned()),
                    format!("duplicate field `{}`", field.as_str()),
                )),
                None => Ok(Name::Known(kind)),
            },
            Err(name) => Ok(Name::Unknown(name)),
        }
    }

    /// Decodes the event (identified by `name`).
    pub(crate) fn decode(&self, name: Name<'t>) -> Result<Event, EventDecodeError> {
        match name {
            Name::Known(kind) => Event::decode_known(kind, &Fields::new(self.text, self.spans))
                .map_err(|reason| EventDecodeError::new(Some(kind.as_str().to_owned()), reason)),
            Name::Unknown(name) => Ok(Event::Unknown(UnknownEvent::from_parts(
                name.into_owned(),
                self.spans.span.of(self.text),
            ))),
        }
    }

    /// Checks the event as [`Located::decode`] would, building nothing.
    pub(crate) fn check(&self, name: &Name<'t>) -> Result<(), EventDecodeError> {
        match name {
            Name::Known(kind) => Fields::new(self.text, self.spans)
                .check(Event::schema(*kind))
                .map_err(|reason| EventDecodeError::new(Some(kind.as_str().to_owned()), reason)),
            Name::Unknown(_) => Ok(()),
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
    pub(crate) fn new(name: Option<String>, reason: impl fmt::Display) -> Self {
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
mod tests;
