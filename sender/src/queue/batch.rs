//! An app's batch being filled, and when it is full.

use std::time::Duration;

use soketi_handler_kit::wire::Event;

use crate::route::WrittenEvents;

/// When an app's batch is sent: after `window` from its first event, or as soon as it holds
/// `max_events` events or `max_bytes` bytes of serialized events, whichever comes first.
/// `max_bytes` triggers a send; the hard per-request limits are
/// [`Limits`](crate::route::Limits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchLimits {
    /// How long the first event of a batch may wait for others (soketi's default: 50 ms).
    pub window: Duration,
    /// The most events in one batch.
    pub max_events: usize,
    /// The most serialized event bytes in one batch.
    pub max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            window: Duration::from_millis(50),
            max_events: 100,
            max_bytes: 1024 * 1024,
        }
    }
}

impl BatchLimits {
    /// Limits from their parts (`max_events` and `max_bytes` of 0 are treated as 1).
    pub fn new(window: Duration, max_events: usize, max_bytes: usize) -> Self {
        BatchLimits {
            window,
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
        }
    }
}

/// An app's batch being filled: its events, each written once as it stands in a payload (what
/// the batch's size is counted in, and what its requests are made of).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    events: Vec<Event>,
    written: WrittenEvents,
    bytes: usize,
}

impl Batch {
    /// Adds `event`; returns whether the batch is now full and should be sent.
    pub(crate) fn push(&mut self, event: Event, limits: &BatchLimits) -> bool {
        let len = self.written.push(&event);
        self.bytes = self.bytes.saturating_add(len + 1);
        self.events.push(event);
        self.events.len() >= limits.max_events || self.bytes >= limits.max_bytes
    }

    /// Takes the events out, with their texts, leaving the batch empty.
    pub(crate) fn take(&mut self) -> (Vec<Event>, WrittenEvents) {
        self.bytes = 0;
        (
            std::mem::take(&mut self.events),
            std::mem::take(&mut self.written),
        )
    }
}

#[cfg(test)]
mod tests {
    use soketi_handler_kit::wire::{ClientData, ClientEvent};

    use super::*;

    fn chat(text_len: usize) -> Event {
        ClientEvent::new("c", "client-msg")
            .with_data(ClientData::string(&"x".repeat(text_len)))
            .into()
    }

    #[test]
    fn batch_fills_by_count_or_bytes() {
        let by_count = BatchLimits::new(Duration::from_millis(50), 2, 1 << 20);
        let mut batch = Batch::default();
        assert!(!batch.push(Event::channel_occupied("a"), &by_count));
        assert!(
            batch.push(Event::channel_vacated("a"), &by_count),
            "full: send it now"
        );
        let (events, written) = batch.take();
        assert_eq!(events.len(), 2);
        assert_eq!(written.get(1), events[1].to_json());
        assert!(batch.events.is_empty());

        let by_bytes = BatchLimits::new(Duration::from_secs(1), 1_000, 200);
        let mut pushes = 0;
        while !batch.push(chat(30), &by_bytes) {
            pushes += 1;
            assert!(pushes < 10, "byte limit never reached");
        }
        assert!(batch.events.len() >= 2);
        assert_eq!(batch.take().0.len(), pushes + 1);
        assert!(!batch.push(chat(1), &by_bytes), "bytes reset by take");
    }
}
