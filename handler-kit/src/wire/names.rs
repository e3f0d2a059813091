//! The names of the wire format's JSON members, in one place: the envelope's two, the payload's
//! two (and the queue consumers' `job_events`), and every event field an event type reads. The scanner, the readers and the writers
//! take them from here; this module imports nothing, so it sits below all of them.

/// The envelope member holding the payload (the bytes the signature covers).
pub(crate) const PAYLOAD: &str = "payload";
/// The envelope member holding the headers.
pub(crate) const HEADERS: &str = "headers";
/// The payload member holding the time stamp.
pub(crate) const TIME_MS: &str = "time_ms";
/// The payload member holding the events.
pub(crate) const EVENTS: &str = "events";
/// The payload member holding each event's queue job (see `job_events.rs`): written only by
/// consumers of soketi's queue, never by soketi.
pub(crate) const JOB_EVENTS: &str = "job_events";

/// Every field name an event type reads. The scanner records where each one's value lies, so
/// an event is decoded without walking its bytes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Channel,
    Event,
    Data,
    SocketId,
    UserId,
    SubscriptionCount,
}

impl Field {
    pub(crate) const COUNT: usize = 7;
    #[cfg(test)]
    pub(crate) const ALL: [Field; Field::COUNT] = [
        Field::Name,
        Field::Channel,
        Field::Event,
        Field::Data,
        Field::SocketId,
        Field::UserId,
        Field::SubscriptionCount,
    ];

    /// The key on the wire.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Channel => "channel",
            Field::Event => "event",
            Field::Data => "data",
            Field::SocketId => "socket_id",
            Field::UserId => "user_id",
            Field::SubscriptionCount => "subscription_count",
        }
    }

    /// The field named exactly `name` (a match, so that a key costs a length check and at
    /// most one comparison; a test checks it against [`Field::as_str`]).
    #[inline]
    pub(crate) fn from_name(name: &[u8]) -> Option<Field> {
        Some(match name {
            b"name" => Field::Name,
            b"channel" => Field::Channel,
            b"event" => Field::Event,
            b"data" => Field::Data,
            b"socket_id" => Field::SocketId,
            b"user_id" => Field::UserId,
            b"subscription_count" => Field::SubscriptionCount,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Field;

    #[test]
    fn every_field_is_found_by_its_name_and_only_by_it() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.as_str().as_bytes()), Some(field));
        }
        assert_eq!(Field::from_name(b"Name"), None);
        assert_eq!(
            Field::ALL.iter().map(|f| *f as usize).max(),
            Some(Field::COUNT - 1)
        );
    }
}
