//! `schemas/topics.toml`: the topics and the event records each carries.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsFile {
    pub defaults: Defaults,
    #[serde(rename = "topic")]
    pub topics: Vec<TopicConfig>,
}

/// Values a topic inherits unless it sets its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub partitions: i32,
}

/// One `[[topic]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    pub name: String,
    pub description: String,
    pub partitions: Option<i32>,
    pub key_field: String,
    #[serde(default)]
    pub key_overrides: BTreeMap<String, String>,
    pub events: Vec<String>,
}

impl TopicConfig {
    /// The Avro namespace of the topic's records.
    pub fn namespace(&self) -> String {
        format!("tributary.{}", self.name)
    }

    /// The key field of one of the topic's events.
    pub fn key_field_of(&self, event: &str) -> &str {
        self.key_overrides.get(event).unwrap_or(&self.key_field)
    }

    /// The human description of the key, e.g. `order_id (StockAdded: sku)`.
    pub fn key_doc(&self) -> String {
        if self.key_overrides.is_empty() {
            return self.key_field.clone();
        }
        let overrides: Vec<String> = self
            .key_overrides
            .iter()
            .map(|(event, field)| format!("{event}: {field}"))
            .collect();
        format!("{} ({})", self.key_field, overrides.join(", "))
    }
}

/// Parses and checks the file on its own (the schema files are checked later).
pub fn parse(text: &str) -> Result<TopicsFile, String> {
    let file: TopicsFile = toml::from_str(text).map_err(|e| format!("topics.toml: {e}"))?;
    if file.defaults.partitions < 1 {
        return Err("topics.toml: defaults.partitions must be at least 1".to_owned());
    }
    let mut seen = std::collections::BTreeSet::new();
    for topic in &file.topics {
        check_topic(topic)?;
        if !seen.insert(topic.name.as_str()) {
            return Err(format!(
                "topics.toml: topic `{}` is listed twice",
                topic.name
            ));
        }
    }
    Ok(file)
}

fn check_topic(topic: &TopicConfig) -> Result<(), String> {
    let name = &topic.name;
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(format!(
            "topics.toml: topic name `{name}` must be lowercase letters, digits and `_` \
             (it is also an Avro namespace component)"
        ));
    }
    if topic.description.trim().is_empty() {
        return Err(format!("topics.toml: topic `{name}` needs a description"));
    }
    if topic.partitions.is_some_and(|p| p < 1) {
        return Err(format!(
            "topics.toml: topic `{name}` must have at least 1 partition"
        ));
    }
    if topic.events.is_empty() {
        return Err(format!("topics.toml: topic `{name}` lists no events"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for event in &topic.events {
        if !seen.insert(event.as_str()) {
            return Err(format!("topics.toml: topic `{name}` lists `{event}` twice"));
        }
    }
    for event in topic.key_overrides.keys() {
        if !seen.contains(event.as_str()) {
            return Err(format!(
                "topics.toml: topic `{name}` has a key override for `{event}`, which it does not list"
            ));
        }
    }
    Ok(())
}
