//! Encode -> frame -> unframe -> decode gives back the original, for every
//! event type (each type gets its own proptest run, so a new schema is
//! covered as soon as it is listed in topics.toml).

use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use tributary_contracts::{CATALOG, ContractError, events::AnyEvent, frame, unframe};

use crate::strategies::{arb_any_event, event_strategies};

fn round_trip(event: &AnyEvent, schema_id: u32) -> Result<AnyEvent, ContractError> {
    let body = event.encode_body()?;
    let framed = frame(schema_id, &body);
    let (id, unframed) = unframe(&framed)?;
    assert_eq!(id, schema_id);
    AnyEvent::decode(event.full_name(), unframed, None)
}

#[test]
fn every_event_type_survives_a_round_trip() {
    let strategies = event_strategies();
    assert_eq!(
        strategies.len(),
        CATALOG.len(),
        "a strategy per catalogued event"
    );
    for (full_name, strategy) in strategies {
        let mut runner = TestRunner::new(Config {
            cases: 128,
            ..Config::default()
        });
        runner
            .run(&(strategy, any::<u32>()), |(event, schema_id)| {
                prop_assert_eq!(event.full_name(), full_name);
                let decoded = round_trip(&event, schema_id)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(decoded, event);
                Ok(())
            })
            .unwrap_or_else(|failure| panic!("{full_name}: {failure}"));
    }
}

proptest! {
    #![proptest_config(Config { cases: 256, ..Config::default() })]

    /// Our bytes read with apache-avro's generic (schema-only) reader give a
    /// value whose fields equal the event's own fields: nothing is written
    /// that another Avro implementation would read differently.
    #[test]
    fn generic_avro_reader_sees_the_same_fields(event in arb_any_event()) {
        let body = event.encode_body().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let value = apache_avro::from_avro_datum(event.schema(), &mut body.as_slice(), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let generic = serde_json::Value::try_from(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ours = serde_json::to_value(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(generic, ours);
    }

    /// Both Avro libraries agree: what the fast encoder writes is byte for
    /// byte what apache-avro writes, and apache-avro's resolving reader (the
    /// path for other schema versions) reads it back to the same event.
    #[test]
    fn both_libraries_agree(event in arb_any_event()) {
        let fast = event.encode_body().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut apache = Vec::new();
        apache_avro::write_avro_datum_ref(event.schema(), &event, &mut apache)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&fast, &apache);
        let resolved = AnyEvent::decode(event.full_name(), &apache, Some(event.schema()))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(resolved, event);
    }

    /// The key is the configured field, rendered as text.
    #[test]
    fn key_is_the_configured_field(event in arb_any_event()) {
        let json = serde_json::to_value(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let field = event.descriptor().key_field;
        prop_assert_eq!(json.get(field).and_then(|v| v.as_str()), Some(&*event.key()));
    }
}
