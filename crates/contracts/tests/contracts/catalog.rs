//! The generated tables agree with each other and with the schemas.

use std::collections::BTreeSet;

use tributary_contracts::{CATALOG, TOPICS, event_descriptor, parse_schema, topic_spec};

#[test]
fn topics_are_the_architecture_topics_with_defaults() {
    let names: Vec<&str> = TOPICS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        ["users", "orders", "inventory", "payments", "notifications"]
    );
    assert!(TOPICS.iter().all(|t| t.partitions == 12));
    assert_eq!(
        topic_spec("inventory").map(|t| t.key),
        Some("order_id (StockAdded: sku)")
    );
    assert_eq!(
        topic_spec("notifications").map(|t| t.key),
        Some("recipient")
    );
    assert_eq!(
        event_descriptor("tributary.inventory.StockAdded").map(|d| d.key_field),
        Some("sku")
    );
}

#[test]
fn every_catalogued_event_is_on_exactly_its_topic() {
    let mut listed = BTreeSet::new();
    for topic in TOPICS {
        for full_name in topic.events {
            assert!(listed.insert(*full_name), "{full_name} listed twice");
            let descriptor =
                event_descriptor(full_name).unwrap_or_else(|| panic!("{full_name} not in CATALOG"));
            assert_eq!(descriptor.topic, topic.name);
            assert_eq!(
                descriptor.full_name,
                format!("tributary.{}.{}", topic.name, descriptor.record_name())
            );
        }
        assert_eq!(topic.event_descriptors().count(), topic.events.len());
    }
    assert_eq!(listed.len(), CATALOG.len());
}

#[test]
fn every_schema_parses_with_its_full_name_and_envelope_first() {
    let mut event_types = BTreeSet::new();
    for descriptor in CATALOG {
        let schema = parse_schema(descriptor.schema_json).expect("schema parses");
        let apache_avro::Schema::Record(record) = &schema else {
            panic!("{} is not a record", descriptor.full_name)
        };
        assert_eq!(record.name.fullname(None), descriptor.full_name);
        assert_eq!(record.fields[0].name, "envelope");
        assert!(
            event_types.insert(descriptor.event_type),
            "duplicate {}",
            descriptor.event_type
        );
        assert_eq!(
            descriptor.subject(),
            format!("{}-{}", descriptor.topic, descriptor.full_name)
        );
    }
    assert!(event_types.contains("stock.added") && event_types.contains("user.registered"));
}
