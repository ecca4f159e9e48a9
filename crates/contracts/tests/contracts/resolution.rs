//! Decoding with the producer's (older or newer) writer schema resolves to
//! our types, as Avro schema resolution says.

use apache_avro::{Schema, from_avro_datum, to_avro_datum, types::Value};
use serde_json::json;
use tributary_contracts::{
    ContractError, Envelope, Event,
    events::{AnyEvent, CancellationReason, OrderCancelled, UserRegistered},
};
use uuid::Uuid;

fn envelope() -> Envelope {
    Envelope {
        event_id: Uuid::from_u128(0xe0),
        ..Envelope::originating("test", "corr", 1_700_000_000_000)
    }
}

/// The event's schema with `edit` applied to its JSON.
fn edited_schema<E: Event>(edit: impl FnOnce(&mut serde_json::Value)) -> Schema {
    let mut json: serde_json::Value = serde_json::from_str(E::SCHEMA_JSON).expect("schema is JSON");
    edit(&mut json);
    Schema::parse_str(&json.to_string()).expect("edited schema parses")
}

fn fields(json: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    json["fields"].as_array_mut().expect("record fields")
}

/// Re-encodes `event` as `writer` would have written it: decoded generically
/// with our schema, reshaped by `reshape`, encoded with `writer`.
fn write_as<E: Event>(
    event: &E,
    writer: &Schema,
    reshape: impl FnOnce(&mut Vec<(String, Value)>),
) -> Vec<u8> {
    let body = tributary_contracts::encode_body(event).expect("encodes");
    let mut value = from_avro_datum(E::schema(), &mut body.as_slice(), None).expect("decodes");
    let Value::Record(record_fields) = &mut value else {
        panic!("not a record")
    };
    reshape(record_fields);
    to_avro_datum(writer, value).expect("old writer encodes")
}

fn cancelled(detail: Option<&str>, reason: CancellationReason) -> OrderCancelled {
    OrderCancelled {
        envelope: envelope(),
        order_id: Uuid::from_u128(1),
        customer_id: Uuid::from_u128(2),
        reason,
        detail: detail.map(str::to_owned),
    }
}

#[test]
fn older_writer_without_an_optional_field_reads_as_none() {
    let old =
        edited_schema::<OrderCancelled>(|json| fields(json).retain(|f| f["name"] != "detail"));
    let body = write_as(
        &cancelled(Some("dropped"), CancellationReason::Timeout),
        &old,
        |f| {
            f.retain(|(name, _)| name != "detail");
        },
    );
    let decoded = AnyEvent::decode(OrderCancelled::FULL_NAME, &body, Some(&old)).expect("resolves");
    assert_eq!(
        decoded,
        AnyEvent::OrderCancelled(cancelled(None, CancellationReason::Timeout))
    );
}

#[test]
fn older_writer_without_a_defaulted_field_reads_the_default() {
    let user = UserRegistered {
        envelope: envelope(),
        user_id: Uuid::from_u128(9),
        email: "a@example.com".to_owned(),
        name: "A".to_owned(),
        role: "admin".to_owned(),
    };
    let old = edited_schema::<UserRegistered>(|json| fields(json).retain(|f| f["name"] != "role"));
    let body = write_as(&user, &old, |f| f.retain(|(name, _)| name != "role"));
    let decoded =
        tributary_contracts::decode_body::<UserRegistered>(&body, Some(&old)).expect("resolves");
    assert_eq!(
        decoded,
        UserRegistered {
            role: "customer".to_owned(),
            ..user
        }
    );
}

#[test]
fn newer_writer_symbols_and_fields_resolve_to_the_default_and_are_skipped() {
    let newer = edited_schema::<OrderCancelled>(|json| {
        let reason = fields(json)
            .iter_mut()
            .find(|f| f["name"] == "reason")
            .expect("reason field");
        reason["type"]["symbols"]
            .as_array_mut()
            .expect("symbols")
            .push(json!("FRAUD"));
        fields(json).push(json!({"name": "score", "type": "int", "default": 0, "doc": "new"}));
    });
    let body = write_as(&cancelled(None, CancellationReason::Timeout), &newer, |f| {
        for (name, value) in f.iter_mut() {
            if name == "reason" {
                *value = Value::Enum(4, "FRAUD".to_owned());
            }
        }
        f.push(("score".to_owned(), Value::Int(99)));
    });
    let decoded =
        AnyEvent::decode(OrderCancelled::FULL_NAME, &body, Some(&newer)).expect("resolves");
    assert_eq!(
        decoded,
        AnyEvent::OrderCancelled(cancelled(None, CancellationReason::Other))
    );
}

#[test]
fn incompatible_writer_is_a_decode_error() {
    // A writer whose `detail` is a required int cannot be read into an optional string.
    let other = edited_schema::<OrderCancelled>(|json| {
        let detail = fields(json)
            .iter_mut()
            .find(|f| f["name"] == "detail")
            .expect("detail field");
        *detail = json!({"name": "detail", "type": "int", "doc": "changed"});
    });
    let body = write_as(&cancelled(None, CancellationReason::Timeout), &other, |f| {
        for (name, value) in f.iter_mut() {
            if name == "detail" {
                *value = Value::Int(5);
            }
        }
    });
    let error =
        AnyEvent::decode(OrderCancelled::FULL_NAME, &body, Some(&other)).expect_err("incompatible");
    assert!(matches!(error, ContractError::Decode { .. }), "{error:?}");
}
