//! The three invocation bodies the receive-path benchmarks use, built as soketi builds them
//! (deterministic: the same bytes on every run and machine).
//!
//! - `a`: one `channel_occupied` event, an 88-byte payload (soketi's recorded request 001);
//! - `b`: 100 mixed events, about 10 KB;
//! - `c`: about 1 MB, about 880 client events with object data.

use soketi_handler_kit::testing::SignedEnvelope;
use soketi_handler_kit::wire::{ClientData, ClientEvent, Event};

/// The app key every envelope is signed for.
pub const APP_KEY: &str = "app1key";
/// The secret every envelope is signed with.
pub const APP_SECRET: &str = "app1secret";
const TIME_MS: u64 = 1_795_877_256_368;

/// `(name, body)` for each case, smallest first.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![("a", case_a()), ("b", case_b()), ("c", case_c())]
}

fn envelope() -> SignedEnvelope {
    SignedEnvelope::new(APP_KEY, APP_SECRET)
        .time_ms(TIME_MS)
        .process_id(26548)
}

fn case_a() -> Vec<u8> {
    envelope()
        .event(Event::channel_occupied("public-chan"))
        .to_bytes()
}

/// A small deterministic generator, so the bodies never change.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn client_event(rng: &mut Lcg, text_len: usize) -> Event {
    let n = rng.next();
    // Chat-like text: mostly ASCII words, some non-ASCII, now and then a quoted word (which
    // JSON escapes) and characters HTML-minded encoders would escape (JSON does not).
    const WORDS: [&str; 16] = [
        "hello",
        "héllo",
        "world",
        "😀",
        "</script>",
        "soketi",
        "ok",
        "the",
        "a",
        "webhook",
        "lambda",
        "naïve",
        "über",
        "&",
        "is",
        "fast",
    ];
    let mut text = String::new();
    while text.len() < text_len {
        let r = rng.next();
        if r.is_multiple_of(40) {
            text.push_str("\"quoted\"");
        } else {
            text.push_str(WORDS[(r % 16) as usize]);
        }
        text.push(' ');
    }
    let data = serde_json::json!({
        "id": n,
        "who": format!("user-{}", n % 50),
        "text": text,
        "tags": ["a", "b", n % 7],
        "meta": {"seq": n % 1000, "ok": true, "ratio": 0.25},
    });
    Event::from(
        ClientEvent::new(format!("presence-room-{}", n % 10), "client-message")
            .with_data(ClientData::from_value(&data))
            .with_socket_id(format!(
                "{}.{}",
                1_000_000_000 + n % 1000,
                2_000_000_000 + n
            ))
            .with_user_id(format!("user-{}", n % 50)),
    )
}

fn case_b() -> Vec<u8> {
    let mut rng = Lcg(7);
    let events = (0..100u64).map(|i| {
        let channel = format!("presence-room-{}", i % 10);
        match i % 6 {
            0 => Event::channel_occupied(channel),
            1 => Event::member_added(channel, format!("user-{i}")),
            2 => client_event(&mut rng, 20),
            3 => Event::member_removed(channel, i),
            4 => Event::channel_vacated(channel),
            _ => Event::cache_miss(format!("cache-{channel}")),
        }
    });
    envelope().events(events).to_bytes()
}

fn case_c() -> Vec<u8> {
    let mut rng = Lcg(11);
    let events = (0..880).map(|_| client_event(&mut rng, 850));
    envelope().events(events).to_bytes()
}
