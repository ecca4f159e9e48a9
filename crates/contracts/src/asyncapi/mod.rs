//! The AsyncAPI 3.0 document of the contracts, generated from [`TOPICS`] and
//! [`CATALOG`] (that is, from `schemas/`), committed as `docs/asyncapi.yaml`
//! and checked for drift by the crate's tests and `tributary schemas asyncapi --check`.
//!
//! Each topic is a channel with one message per event type; each message
//! carries its Avro schema inline (`schemaFormat` Avro 1.9.0), the Kafka
//! headers we set (binary-mode CloudEvents plus trace context) and the Kafka
//! bindings (key, Confluent framing, subject naming).

mod yaml;

use serde_json::Value;

use crate::{CATALOG, EventDescriptor, TOPICS, TopicSpec, event_descriptor};

pub use yaml::Node;

/// Where the rendered document is committed, relative to the repository root.
pub const DOCUMENT_PATH: &str = "docs/asyncapi.yaml";

/// The command that rewrites [`DOCUMENT_PATH`].
pub const REGENERATE_COMMAND: &str = "cargo run -p tributary -- schemas asyncapi --write";

/// Content type of a framed Avro payload.
pub const CONTENT_TYPE: &str = "application/vnd.apache.avro+binary";

/// AsyncAPI schema format of an Avro schema.
pub const SCHEMA_FORMAT: &str = "application/vnd.apache.avro+json;version=1.9.0";

const KAFKA_BINDING_VERSION: &str = "0.5.0";
const HEADERS_SCHEMA: &str = "EventHeaders";

/// The document as YAML. Deterministic: the same schemas give the same bytes.
pub fn render() -> String {
    let mut text = String::from(
        "# Generated from schemas/ by tributary-contracts; do not edit.\n# Regenerate with: ",
    );
    text.push_str(REGENERATE_COMMAND);
    text.push('\n');
    text.push_str(&document().to_yaml());
    text
}

/// The document as a tree, for callers that want JSON or to inspect it.
pub fn document() -> Node {
    Node::map()
        .with("asyncapi", "3.0.0")
        .with("info", info())
        .with("defaultContentType", CONTENT_TYPE)
        .with("servers", servers())
        .with("channels", channels())
        .with("operations", operations())
        .with("components", components())
}

fn info() -> Node {
    Node::map()
        .with("title", "Tributary events")
        .with("version", env!("CARGO_PKG_VERSION"))
        .with(
            "description",
            "The events the Tributary services exchange over Kafka. Payloads are Avro in the \
             Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary body); \
             schemas are registered under the TopicRecordNameStrategy subject \
             `<topic>-<fully.qualified.Record>`. Every change to a schema must be BACKWARD \
             compatible with all its earlier versions. Per-key order is the only order.",
        )
}

fn servers() -> Node {
    let local = Node::map()
        .with("host", "localhost:9092")
        .with("protocol", "kafka")
        .with("description", "The local broker started by `tributary up`.")
        .with(
            "bindings",
            Node::map().with(
                "kafka",
                Node::map()
                    .with("schemaRegistryUrl", "http://localhost:8081")
                    .with("schemaRegistryVendor", "confluent")
                    .with("bindingVersion", KAFKA_BINDING_VERSION),
            ),
        );
    Node::map().with("local", local)
}

fn channels() -> Node {
    TOPICS.iter().fold(Node::map(), |channels, topic| {
        channels.with(topic.name, channel(topic))
    })
}

fn channel(topic: &TopicSpec) -> Node {
    let messages = descriptors(topic).fold(Node::map(), |messages, d| {
        messages.with(
            d.record_name(),
            reference(&format!("#/components/messages/{}", d.record_name())),
        )
    });
    Node::map()
        .with("address", topic.name)
        .with("title", topic.name)
        .with(
            "description",
            format!("{} Key field: {}.", topic.description, topic.key),
        )
        .with("messages", messages)
        .with(
            "bindings",
            Node::map().with(
                "kafka",
                Node::map()
                    .with("topic", topic.name)
                    .with("partitions", i64::from(topic.partitions))
                    .with("bindingVersion", KAFKA_BINDING_VERSION),
            ),
        )
}

fn operations() -> Node {
    TOPICS.iter().fold(Node::map(), |operations, topic| {
        let messages: Vec<Node> = descriptors(topic)
            .map(|d| {
                reference(&format!(
                    "#/channels/{}/messages/{}",
                    topic.name,
                    d.record_name()
                ))
            })
            .collect();
        let operation = Node::map()
            .with("action", "receive")
            .with("channel", reference(&format!("#/channels/{}", topic.name)))
            .with("title", format!("Consume {}", topic.name))
            .with(
                "summary",
                format!(
                    "Consume the `{}` topic. Replicas of one service share a consumer group \
                     and split the partitions; every group receives every event.",
                    topic.name
                ),
            )
            .with("messages", messages);
        operations.with(&format!("receive{}", upper_first(topic.name)), operation)
    })
}

fn components() -> Node {
    let messages = CATALOG.iter().fold(Node::map(), |messages, d| {
        messages.with(d.record_name(), message(d))
    });
    Node::map().with("messages", messages).with(
        "schemas",
        Node::map().with(HEADERS_SCHEMA, headers_schema()),
    )
}

fn message(descriptor: &EventDescriptor) -> Node {
    let schema_json: Value = serde_json::from_str(descriptor.schema_json).unwrap_or(Value::Null);
    let doc = schema_json
        .get("doc")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The text was validated by build.rs; should it ever not parse, keep it verbatim.
    let schema = Node::from_json(descriptor.schema_json)
        .unwrap_or_else(|_| Node::from(descriptor.schema_json));
    let ce_type = format!("io.tributary.{}", descriptor.event_type);
    let headers = Node::map().with(
        "allOf",
        vec![
            reference(&format!("#/components/schemas/{HEADERS_SCHEMA}")),
            Node::map().with("type", "object").with(
                "properties",
                Node::map().with("ce_type", Node::map().with("const", ce_type)),
            ),
        ],
    );
    Node::map()
        .with("name", descriptor.record_name())
        .with("title", title(descriptor.record_name()))
        .with("summary", doc)
        .with("contentType", CONTENT_TYPE)
        .with("headers", headers)
        .with(
            "payload",
            Node::map()
                .with("schemaFormat", SCHEMA_FORMAT)
                .with("schema", schema),
        )
        .with(
            "bindings",
            Node::map().with("kafka", message_binding(descriptor, &schema_json)),
        )
        .with("x-tributary-subject", descriptor.subject())
        .with("x-tributary-event-type", descriptor.event_type)
}

fn message_binding(descriptor: &EventDescriptor, schema_json: &Value) -> Node {
    let mut key = Node::map().with("type", "string");
    if key_is_uuid(schema_json, descriptor.key_field) {
        key = key.with("format", "uuid");
    }
    key = key.with(
        "description",
        format!(
            "The `{}` field of the event, as UTF-8 text.",
            descriptor.key_field
        ),
    );
    Node::map()
        .with("key", key)
        .with("schemaIdLocation", "payload")
        .with("schemaIdPayloadEncoding", "confluent")
        .with("schemaLookupStrategy", "TopicRecordNameStrategy")
        .with("bindingVersion", KAFKA_BINDING_VERSION)
}

fn key_is_uuid(schema_json: &Value, key_field: &str) -> bool {
    schema_json
        .get("fields")
        .and_then(Value::as_array)
        .and_then(|fields| {
            fields
                .iter()
                .find(|f| f.get("name").and_then(Value::as_str) == Some(key_field))
        })
        .and_then(|field| field.get("type"))
        .and_then(|ty| ty.get("logicalType"))
        .and_then(Value::as_str)
        == Some("uuid")
}

/// The Kafka headers every event carries (see the bus crate).
fn headers_schema() -> Node {
    let header = |description: &str| {
        Node::map()
            .with("type", "string")
            .with("description", description)
    };
    let properties = Node::map()
        .with(
            "ce_specversion",
            header("CloudEvents spec version.").with("const", "1.0"),
        )
        .with(
            "ce_id",
            header("The event id (`envelope.event_id`).").with("format", "uuid"),
        )
        .with(
            "ce_type",
            header("`io.tributary.<event type>`, e.g. `io.tributary.order.placed`."),
        )
        .with(
            "ce_source",
            header("`/tributary/<producer>` (`envelope.producer`)."),
        )
        .with(
            "ce_time",
            header("When the fact happened (`envelope.occurred_at`), RFC 3339.")
                .with("format", "date-time"),
        )
        .with(
            "traceparent",
            header("W3C trace context of the producing span."),
        )
        .with("tracestate", header("W3C trace state, when there is one."))
        .with(
            "correlation_id",
            header("The saga or business transaction (`envelope.correlation_id`)."),
        )
        .with(
            "content-type",
            header("Always `application/avro`.").with("const", "application/avro"),
        );
    let required: Vec<Node> = [
        "ce_specversion",
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_time",
        "correlation_id",
    ]
    .into_iter()
    .map(Node::from)
    .collect();
    Node::map()
        .with("type", "object")
        .with(
            "description",
            "Kafka headers: binary-mode CloudEvents attributes, W3C trace context and the correlation id.",
        )
        .with("properties", properties)
        .with("required", required)
}

fn descriptors(topic: &TopicSpec) -> impl Iterator<Item = &'static EventDescriptor> + use<> {
    let events = topic.events;
    events.iter().filter_map(|name| event_descriptor(name))
}

fn reference(target: &str) -> Node {
    Node::map().with("$ref", target)
}

/// `OrderPlaced` -> `Order placed`.
fn title(record_name: &str) -> String {
    let mut title = String::with_capacity(record_name.len() + 4);
    for (i, c) in record_name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            title.push(' ');
            title.push(c.to_ascii_lowercase());
        } else {
            title.push(c);
        }
    }
    title
}

fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_deterministically_with_every_topic_and_event() {
        let text = render();
        assert_eq!(text, render());
        for topic in TOPICS {
            assert!(
                text.contains(&format!(
                    "\n  {}:\n    address: {}\n",
                    topic.name, topic.name
                )),
                "{}",
                topic.name
            );
        }
        for d in CATALOG {
            assert!(text.contains(&format!(
                "\n    {}:\n      name: {}\n",
                d.record_name(),
                d.record_name()
            )));
            assert!(text.contains(&format!("const: io.tributary.{}\n", d.event_type)));
        }
    }

    #[test]
    fn titles_split_words() {
        assert_eq!(title("OrderPlaced"), "Order placed");
        assert_eq!(upper_first("orders"), "Orders");
    }
}
