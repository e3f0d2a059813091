//! Reading and writing events: key order, every data form, user ids, unknown names.

use super::*;
use serde::Deserialize;

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
            .contains("`user_id` must be a string or a number"),
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

/// `check` (for events no callback wants) and `decode` accept exactly the same events: every
/// combination of absent, well-typed and mistyped values for each kind's fields.
#[test]
fn check_accepts_exactly_what_decode_accepts() {
    use crate::wire::scan;
    const VALUES: [Option<&str>; 8] = [
        None,
        Some(r#""text""#),
        Some(r#""esc\u00e9\ud800""#),
        Some("42"),
        Some("-1"),
        Some("1.5e400"),
        Some(r#"{"a":[1]}"#),
        Some("null"),
    ];
    let mut compared = 0;
    for kind in EventKind::ALL {
        let fields: Vec<&str> = Event::schema(kind)
            .iter()
            .map(|(f, _, _)| f.as_str())
            .collect();
        let combos = VALUES.len().pow(fields.len() as u32);
        for mut n in 0..combos {
            let mut json = format!(r#"{{"name":"{}""#, kind.as_str());
            for field in &fields {
                if let Some(value) = VALUES[n % VALUES.len()] {
                    json.push_str(&format!(r#","{field}":{value}"#));
                }
                n /= VALUES.len();
            }
            json.push('}');
            let spans = scan::event(&json).expect("valid JSON");
            let located = Located {
                text: &json,
                spans: &spans,
            };
            let name = located.identify().expect("known name");
            let checked = located.check(&name).map_err(|e| e.to_string());
            let decoded = located.decode(name).map(drop).map_err(|e| e.to_string());
            assert_eq!(checked, decoded, "{json}");
            compared += 1;
        }
    }
    assert!(compared > 30_000, "{compared}");
}

#[test]
fn a_name_is_the_same_name_escaped_or_not() {
    let cases = [
        (
            r#"{"name":"channel_occupied","channel":"c"}"#,
            Some(EventKind::ChannelOccupied),
        ),
        (
            r#"{"name":"channel\u005foccupied","channel":"c"}"#,
            Some(EventKind::ChannelOccupied),
        ),
        (
            r#"{"name":"\u0063ache_miss","channel":"c"}"#,
            Some(EventKind::CacheMiss),
        ),
        (r#"{"name":"channel_occupied ","channel":"c"}"#, None),
        (r#"{"name":"Channel_occupied","channel":"c"}"#, None),
        (r#"{"name":"channel\"occupied","channel":"c"}"#, None),
    ];
    for (text, kind) in cases {
        let event = Event::from_json(text).expect(text);
        assert_eq!(event.kind(), kind, "{text}");
        if kind.is_some() {
            assert_eq!(event.channel(), Some("c"), "{text}");
        }
    }
    let unknown = Event::from_json(r#"{"name":"channel\"occupied"}"#).expect("an unknown event");
    assert_eq!(unknown.name(), "channel\"occupied");
    let not_a_string = Event::from_json(r#"{"name":7,"channel":"c"}"#);
    assert!(not_a_string.is_err());
}

/// The reader notes which string values hold an escape, and only those are decoded: each
/// string field, escaped or not, reads as its text (the note follows the value when a field
/// is given twice, which is an error either way).
#[test]
fn escaped_and_plain_string_fields_read_as_their_text() {
    let event = Event::from_json(
        r#"{"name":"client_event","channel":"pri\u0076ate-c","event":"client-\"x\"","data":"d","socket_id":"1.2","user_id":"u\\1"}"#,
    )
    .expect("a client event");
    let Event::ClientEvent(ev) = event else {
        panic!("not a client event: {event:?}")
    };
    assert_eq!(ev.channel, "private-c");
    assert_eq!(ev.event, "client-\"x\"");
    assert_eq!(ev.socket_id.as_deref(), Some("1.2"));
    assert_eq!(ev.user_id, Some(UserId::from("u\\1")));
    let plain = Event::from_json(r#"{"name":"member_added","channel":"c\\","user_id":"a"}"#);
    assert_eq!(
        plain.expect("member_added").channel(),
        Some("c\\"),
        "an escaped backslash is one backslash"
    );
    for twice in [
        r#"{"name":"channel_occupied","channel":"a\u0062","channel":"c"}"#,
        r#"{"name":"channel_occupied","channel":"c","channel":"a\u0062"}"#,
    ] {
        assert!(Event::from_json(twice).is_err(), "{twice}");
    }
}
