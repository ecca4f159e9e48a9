//! Bad input gives typed errors, never a panic.

use proptest::{collection::vec, prelude::*};
use tributary_contracts::{CATALOG, ContractError, Event, events::AnyEvent, unframe};

#[test]
fn unknown_records_are_rejected_by_name() {
    let error =
        AnyEvent::decode("tributary.orders.OrderTeleported", &[], None).expect_err("unknown");
    assert!(
        matches!(&error, ContractError::UnknownRecord { full_name } if full_name == "tributary.orders.OrderTeleported"),
        "{error:?}"
    );
    assert_eq!(error.reason(), "unknown_record");
}

#[test]
fn trailing_bytes_are_a_decode_error() {
    let event = tributary_contracts::events::NotificationSent {
        envelope: tributary_contracts::Envelope::originating("test", "c", 0),
        notification_id: uuid::Uuid::from_u128(3),
        recipient: "a@example.com".to_owned(),
        channel: "email".to_owned(),
        kind: tributary_contracts::events::NotificationKind::Welcome,
        subject_id: "u".to_owned(),
    };
    let mut body = tributary_contracts::encode_body(&event).expect("encodes");
    body.push(0);
    let error = AnyEvent::decode(
        tributary_contracts::events::NotificationSent::FULL_NAME,
        &body,
        None,
    )
    .expect_err("trailing byte");
    assert!(matches!(error, ContractError::Decode { .. }), "{error:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Random bodies decode to an event or a `Decode` error, for every type,
    /// with our own schema and with the schema passed as writer schema.
    #[test]
    fn garbage_bodies_are_decode_errors(body in vec(any::<u8>(), 0..96), index in 0..CATALOG.len()) {
        let descriptor = &CATALOG[index];
        let writer = tributary_contracts::parse_schema(descriptor.schema_json).expect("schema parses");
        for writer_schema in [None, Some(&writer)] {
            match AnyEvent::decode(descriptor.full_name, &body, writer_schema) {
                Ok(event) => prop_assert_eq!(event.full_name(), descriptor.full_name),
                Err(ContractError::Decode { full_name, .. }) => prop_assert_eq!(full_name, descriptor.full_name),
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
    }

    /// Random payloads through the whole consumer path: unframe, then decode.
    #[test]
    fn garbage_payloads_are_typed_errors(payload in vec(any::<u8>(), 0..64), index in 0..CATALOG.len()) {
        match unframe(&payload) {
            Ok((_, body)) => {
                let _ = AnyEvent::decode(CATALOG[index].full_name, body, None);
            }
            Err(ContractError::TooShort { len }) => prop_assert!(len < 5),
            Err(ContractError::WrongMagicByte { found }) => prop_assert_ne!(found, 0),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}

/// Encoding is validated against the schema: a value the schema cannot
/// hold is an `Encode` error. (The generated types make most such values
/// unrepresentable; an out-of-range enum index is not possible either, so
/// this checks the error path with a hand-made mismatch.)
#[test]
fn encoding_against_the_wrong_schema_is_an_encode_error() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Mismatch {
        envelope: u8,
    }
    impl Event for Mismatch {
        const TOPIC: &'static str = "orders";
        const FULL_NAME: &'static str = "tributary.orders.OrderPlaced";
        const EVENT_TYPE: &'static str = "order.placed";
        const SCHEMA_JSON: &'static str = tributary_contracts::events::OrderPlaced::SCHEMA_JSON;
        fn schema() -> &'static apache_avro::Schema {
            tributary_contracts::events::OrderPlaced::schema()
        }
        fn wire_schema() -> &'static serde_avro_fast::Schema {
            tributary_contracts::events::OrderPlaced::wire_schema()
        }
        fn key(&self) -> std::borrow::Cow<'_, str> {
            "k".into()
        }
        fn envelope(&self) -> &tributary_contracts::Envelope {
            unreachable!("not called")
        }
    }
    let error = tributary_contracts::encode_body(&Mismatch { envelope: 1 }).expect_err("mismatch");
    assert!(matches!(error, ContractError::Encode { .. }), "{error:?}");
}
