//! Names and creation of the per-group failure topics.

use std::collections::HashMap;

use crate::{
    BusConfig,
    admin::{TopicDefinition, ensure_topics, partition_counts},
    error::AdminError,
};

/// `<topic>.<group>.retry`: delayed redeliveries for one group.
pub fn retry_topic(topic: &str, group: &str) -> String {
    format!("{topic}.{group}.retry")
}

/// `<topic>.<group>.dlq`: events one group gave up on.
pub fn dlq_topic(topic: &str, group: &str) -> String {
    format!("{topic}.{group}.dlq")
}

/// The failure topics of every source topic of a group, and the way back
/// from a retry topic to its source.
#[derive(Debug, Clone)]
pub(crate) struct FailureTopics {
    /// source topic -> (retry topic, dlq topic)
    by_source: HashMap<String, (String, String)>,
    /// retry topic -> source topic
    by_retry: HashMap<String, String>,
}

impl FailureTopics {
    pub(crate) fn new(group: &str, sources: &[String]) -> Self {
        let by_source: HashMap<String, (String, String)> = sources
            .iter()
            .map(|t| (t.clone(), (retry_topic(t, group), dlq_topic(t, group))))
            .collect();
        let by_retry = by_source
            .iter()
            .map(|(s, (r, _))| (r.clone(), s.clone()))
            .collect();
        FailureTopics {
            by_source,
            by_retry,
        }
    }

    /// The source topic a subscribed topic stands for, and whether it is the
    /// retry topic.
    pub(crate) fn resolve<'a>(&'a self, topic: &'a str) -> (&'a str, bool) {
        match self.by_retry.get(topic) {
            Some(source) => (source.as_str(), true),
            None => (topic, false),
        }
    }

    pub(crate) fn retry_for(&self, source: &str) -> Option<&str> {
        self.by_source.get(source).map(|(r, _)| r.as_str())
    }

    pub(crate) fn dlq_for(&self, source: &str) -> Option<&str> {
        self.by_source.get(source).map(|(_, d)| d.as_str())
    }

    pub(crate) fn retry_topics(&self) -> impl Iterator<Item = &str> {
        self.by_retry.keys().map(String::as_str)
    }

    /// Creates missing retry and DLQ topics.
    ///
    /// A retry topic gets as many partitions as its source so retries of
    /// different keys proceed in parallel (and a key keeps landing on one
    /// partition); a DLQ gets one partition: it is low-volume and read by
    /// operators in arrival order (`tributary dlq list`). A missing source
    /// topic is an error naming it: subscribing to it would silently idle.
    pub(crate) async fn ensure(&self, config: &BusConfig) -> Result<Vec<String>, AdminError> {
        let sources: Vec<String> = self.by_source.keys().cloned().collect();
        let counts = partition_counts(config, &sources).await?;
        let definitions: Vec<TopicDefinition> = self
            .by_source
            .iter()
            .flat_map(|(source, (retry, dlq))| {
                let partitions = counts.get(source).copied().unwrap_or(1).max(1);
                [
                    TopicDefinition::new(retry, partitions),
                    TopicDefinition::new(dlq, 1),
                ]
            })
            .collect();
        ensure_topics(config, &definitions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_resolution() {
        let topics = FailureTopics::new("tributary.orders", &["payments".to_owned()]);
        assert_eq!(
            topics.retry_for("payments"),
            Some("payments.tributary.orders.retry")
        );
        assert_eq!(
            topics.dlq_for("payments"),
            Some("payments.tributary.orders.dlq")
        );
        assert_eq!(
            topics.resolve("payments.tributary.orders.retry"),
            ("payments", true)
        );
        assert_eq!(topics.resolve("payments"), ("payments", false));
        assert_eq!(topics.retry_topics().count(), 1);
    }
}
