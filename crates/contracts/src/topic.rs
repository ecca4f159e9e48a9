//! Static descriptions of the contract's topics, generated into
//! [`crate::TOPICS`] from `schemas/topics.toml`.

use crate::{CATALOG, EventDescriptor};

/// One Kafka topic of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    /// The topic name, e.g. `orders`.
    pub name: &'static str,
    /// Partitions to create the topic with (configurable per deployment;
    /// this is the default).
    pub partitions: i32,
    /// Which field keys the topic's events (documentation), e.g.
    /// `order_id (StockAdded: sku)`.
    pub key: &'static str,
    /// What flows on the topic.
    pub description: &'static str,
    /// Full names of the event records the topic carries.
    pub events: &'static [&'static str],
}

impl TopicSpec {
    /// The descriptors of the topic's events, in `topics.toml` order.
    pub fn event_descriptors(&self) -> impl Iterator<Item = &'static EventDescriptor> + use<> {
        let events = self.events;
        events
            .iter()
            .filter_map(|full_name| event_descriptor(full_name))
    }
}

/// The topic named `name`.
pub fn topic_spec(name: &str) -> Option<&'static TopicSpec> {
    crate::TOPICS.iter().find(|t| t.name == name)
}

/// The event type with Avro full name `full_name`.
pub fn event_descriptor(full_name: &str) -> Option<&'static EventDescriptor> {
    CATALOG.iter().find(|d| d.full_name == full_name)
}
