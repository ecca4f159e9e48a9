//! Hand-checked wire details: uuids as text, enums by symbol index,
//! timestamp-millis as long, optional fields as `["null", T]` unions.

use apache_avro::{Schema, from_avro_datum, types::Value};
use tributary_contracts::{
    Envelope, Event,
    events::{AnyEvent, CancellationReason, OrderCancelled, OrderLine, OrderPlaced},
};
use uuid::Uuid;

fn order_id() -> Uuid {
    Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888)
}

fn envelope() -> Envelope {
    Envelope {
        event_id: Uuid::from_u128(0xaaaa_bbbb_cccc_dddd_eeee_ffff_0000_1111),
        occurred_at: 1_700_000_000_123,
        correlation_id: order_id().to_string(),
        causation_id: Some(Uuid::from_u128(7)),
        producer: "gateway".to_owned(),
    }
}

fn placed() -> OrderPlaced {
    OrderPlaced {
        envelope: envelope(),
        order_id: order_id(),
        customer_id: Uuid::from_u128(42),
        lines: vec![OrderLine {
            sku: "sku-1".to_owned(),
            quantity: 3,
        }],
        payment_token: "tok".to_owned(),
        idempotency_key: None,
    }
}

/// Replaces every `{"type":"string","logicalType":"uuid"}` with `"string"`.
fn strip_uuid_logical_type(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(object) => {
            if object.get("logicalType").and_then(|t| t.as_str()) == Some("uuid") {
                *json = serde_json::Value::from("string");
                return;
            }
            object.values_mut().for_each(strip_uuid_logical_type);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_uuid_logical_type),
        _ => {}
    }
}

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    match value {
        Value::Record(fields) => {
            &fields
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no field {name}"))
                .1
        }
        other => panic!("not a record: {other:?}"),
    }
}

#[test]
fn uuids_are_written_as_their_36_character_text() {
    let body = tributary_contracts::encode_body(&placed()).expect("encodes");
    // A reader that knows nothing of the uuid logical type: plain strings.
    let mut plain: serde_json::Value =
        serde_json::from_str(OrderPlaced::SCHEMA_JSON).expect("JSON");
    strip_uuid_logical_type(&mut plain);
    let plain = Schema::parse_str(&plain.to_string()).expect("plain schema parses");
    let value = from_avro_datum(&plain, &mut body.as_slice(), None).expect("plain reader decodes");
    assert_eq!(
        field(&value, "order_id"),
        &Value::String(order_id().to_string())
    );
    assert_eq!(
        field(field(&value, "envelope"), "event_id"),
        &Value::String(envelope().event_id.to_string())
    );
    assert_eq!(
        field(field(&value, "envelope"), "causation_id"),
        &Value::Union(1, Box::new(Value::String(Uuid::from_u128(7).to_string())))
    );
}

#[test]
fn logical_types_enums_and_options_decode_generically() {
    let body = tributary_contracts::encode_body(&placed()).expect("encodes");
    let value =
        from_avro_datum(OrderPlaced::schema(), &mut body.as_slice(), None).expect("decodes");
    let envelope_value = field(&value, "envelope");
    assert_eq!(
        field(envelope_value, "event_id"),
        &Value::Uuid(envelope().event_id)
    );
    assert_eq!(
        field(envelope_value, "occurred_at"),
        &Value::TimestampMillis(1_700_000_000_123)
    );
    assert_eq!(
        field(&value, "idempotency_key"),
        &Value::Union(0, Box::new(Value::Null))
    );
    assert_eq!(
        field(&value, "lines"),
        &Value::Array(vec![Value::Record(vec![
            ("sku".to_owned(), Value::String("sku-1".to_owned())),
            ("quantity".to_owned(), Value::Int(3)),
        ])])
    );

    for (index, reason) in CancellationReason::ALL.into_iter().enumerate() {
        let cancelled = OrderCancelled {
            envelope: envelope(),
            order_id: order_id(),
            customer_id: Uuid::from_u128(42),
            reason,
            detail: Some("why".to_owned()),
        };
        let body = tributary_contracts::encode_body(&cancelled).expect("encodes");
        let value =
            from_avro_datum(OrderCancelled::schema(), &mut body.as_slice(), None).expect("decodes");
        let expected_index = u32::try_from(index).expect("small");
        assert_eq!(
            field(&value, "reason"),
            &Value::Enum(expected_index, reason.as_str().to_owned())
        );
        let back = AnyEvent::decode(OrderCancelled::FULL_NAME, &body, None).expect("decodes");
        assert_eq!(back, AnyEvent::OrderCancelled(cancelled));
    }
}

#[test]
fn constants_describe_the_event() {
    assert_eq!(OrderPlaced::TOPIC, "orders");
    assert_eq!(OrderPlaced::FULL_NAME, "tributary.orders.OrderPlaced");
    assert_eq!(OrderPlaced::EVENT_TYPE, "order.placed");
    assert_eq!(
        OrderPlaced::subject(),
        "orders-tributary.orders.OrderPlaced"
    );
    let event = AnyEvent::from(placed());
    assert_eq!(event.key(), order_id().to_string());
    assert_eq!(event.topic(), "orders");
    assert_eq!(event.event_type(), "order.placed");
    assert_eq!(event.envelope(), &envelope());
    assert_eq!(event.descriptor().key_field, "order_id");
}
