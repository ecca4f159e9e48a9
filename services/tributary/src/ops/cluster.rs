//! The broker-facing primitives every operation is built from: metadata,
//! watermarks, offsets by time, the group list, committed offsets and
//! commits.
//!
//! librdkafka's calls here are blocking, so each runs on the blocking pool
//! (`spawn_blocking`) and never stalls the async runtime.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer as _},
};

use super::{OpsError, parse_assignment};

/// The `group.id` of readers that assign partitions without joining a group.
pub const READER_GROUP: &str = "tributary.ops.reader";

/// How long one broker request may take before the operation gives up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a Kafka cluster for operator commands. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    bootstrap: String,
    consumer: Arc<BaseConsumer>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("bootstrap", &self.bootstrap)
            .finish_non_exhaustive()
    }
}

/// One topic in the cluster's metadata.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<i32>,
}

/// A consumer group as the broker's group list reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupInfo {
    pub name: String,
    pub state: String,
    pub protocol_type: String,
    pub members: Vec<MemberInfo>,
}

/// One member of a group and what it was assigned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberInfo {
    pub id: String,
    pub client_id: String,
    pub host: String,
    /// (topic, partitions); empty when the assignment is not in the
    /// standard consumer protocol format.
    pub assignment: Vec<(String, Vec<i32>)>,
}

impl Cluster {
    /// A client for `bootstrap` (no group; commands that need one create a
    /// short-lived consumer carrying it).
    pub fn connect(bootstrap: &str) -> Result<Self, OpsError> {
        let consumer: BaseConsumer = base_config(bootstrap)
            .create()
            .map_err(OpsError::kafka(format!("connecting to {bootstrap}")))?;
        Ok(Cluster {
            bootstrap: bootstrap.to_owned(),
            consumer: Arc::new(consumer),
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, OpsError>
    where
        T: Send + 'static,
        F: FnOnce(&BaseConsumer) -> Result<T, OpsError> + Send + 'static,
    {
        let consumer = self.consumer.clone();
        tokio::task::spawn_blocking(move || f(&consumer))
            .await
            .map_err(|e| OpsError::Task(e.to_string()))?
    }

    /// Every topic, internal ones (`__…`, `_schemas…`) excluded.
    pub async fn topics(&self) -> Result<Vec<TopicInfo>, OpsError> {
        let bootstrap = self.bootstrap.clone();
        self.blocking(move |c| {
            let metadata = c
                .fetch_metadata(None, REQUEST_TIMEOUT)
                .map_err(OpsError::kafka(format!(
                    "reading metadata from {bootstrap}"
                )))?;
            let mut topics: Vec<TopicInfo> = metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none() && !t.name().starts_with('_'))
                .map(|t| TopicInfo {
                    name: t.name().to_owned(),
                    partitions: sorted(t.partitions().iter().map(|p| p.id())),
                })
                .collect();
            topics.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(topics)
        })
        .await
    }

    /// The partitions of `topic`; [`OpsError::UnknownTopic`] when it does not exist.
    pub async fn partitions(&self, topic: &str) -> Result<Vec<i32>, OpsError> {
        let topic = topic.to_owned();
        self.blocking(move |c| {
            let metadata = c
                .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)
                .map_err(OpsError::kafka(format!("reading metadata of {topic}")))?;
            let found = metadata.topics().iter().find(|t| t.name() == topic);
            match found {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                    Ok(sorted(t.partitions().iter().map(|p| p.id())))
                }
                _ => Err(OpsError::UnknownTopic(topic)),
            }
        })
        .await
    }

    /// `(low, high)` watermarks per partition: the first offset still in the
    /// log and the offset the next event will get.
    pub async fn watermarks(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<BTreeMap<i32, (i64, i64)>, OpsError> {
        let topic = topic.to_owned();
        let partitions = partitions.to_vec();
        self.blocking(move |c| {
            partitions
                .iter()
                .map(|&p| {
                    c.fetch_watermarks(&topic, p, REQUEST_TIMEOUT)
                        .map(|w| (p, w))
                        .map_err(OpsError::kafka(format!(
                            "reading watermarks of {topic}/{p}"
                        )))
                })
                .collect()
        })
        .await
    }

    /// The first offset whose timestamp is at or after `time_ms`, per
    /// partition; `None` when every event is older.
    pub async fn offsets_for_time(
        &self,
        topic: &str,
        partitions: &[i32],
        time_ms: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>, OpsError> {
        let tpl = tpl(
            topic,
            partitions.iter().map(|&p| (p, Offset::Offset(time_ms))),
        )?;
        let topic = topic.to_owned();
        self.blocking(move |c| {
            let found = c
                .offsets_for_times(tpl, REQUEST_TIMEOUT)
                .map_err(OpsError::kafka(format!(
                    "looking up offsets by time in {topic}"
                )))?;
            Ok(found
                .elements()
                .iter()
                .map(|e| {
                    let offset = match e.offset() {
                        Offset::Offset(o) if o >= 0 => Some(o),
                        _ => None,
                    };
                    (e.partition(), offset)
                })
                .collect())
        })
        .await
    }

    /// The timestamp of the record at `offset` (the first readable one at or
    /// after it), `None` when there is none within the request timeout.
    pub async fn timestamp_at(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<Option<i64>, OpsError> {
        let bootstrap = self.bootstrap.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = base_config(&bootstrap)
                .create()
                .map_err(OpsError::kafka("creating a reader"))?;
            let assignment = tpl(&topic, [(partition, Offset::Offset(offset))])?;
            consumer
                .assign(&assignment)
                .map_err(OpsError::kafka(format!("assigning {topic}/{partition}")))?;
            let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
            while std::time::Instant::now() < deadline {
                match consumer.poll(Duration::from_millis(200)) {
                    Some(Ok(m)) => return Ok(m.timestamp().to_millis()),
                    Some(Err(e)) => {
                        return Err(OpsError::Kafka {
                            action: format!("reading {topic}/{partition}@{offset}"),
                            source: e,
                        });
                    }
                    None => {}
                }
            }
            Ok(None)
        })
        .await
        .map_err(|e| OpsError::Task(e.to_string()))?
    }

    /// The broker's consumer groups (`group` = only that one), with their
    /// members and assignments.
    pub async fn groups(&self, group: Option<&str>) -> Result<Vec<GroupInfo>, OpsError> {
        let group = group.map(str::to_owned);
        self.blocking(move |c| {
            let list = c
                .fetch_group_list(group.as_deref(), REQUEST_TIMEOUT)
                .map_err(OpsError::kafka("listing consumer groups"))?;
            let mut groups: Vec<GroupInfo> = list
                .groups()
                .iter()
                .filter(|g| g.name() != "" && group.as_deref().is_none_or(|n| n == g.name()))
                .map(|g| GroupInfo {
                    name: g.name().to_owned(),
                    state: g.state().to_owned(),
                    protocol_type: g.protocol_type().to_owned(),
                    members: g
                        .members()
                        .iter()
                        .map(|m| MemberInfo {
                            id: m.id().to_owned(),
                            client_id: m.client_id().to_owned(),
                            host: m.client_host().to_owned(),
                            assignment: m
                                .assignment()
                                .and_then(parse_assignment)
                                .unwrap_or_default(),
                        })
                        .collect(),
                })
                .filter(|g| !(group.is_some() && g.state == "Dead" && g.members.is_empty()))
                .collect();
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(groups)
        })
        .await
    }

    /// The offsets `group` committed on `topic`'s `partitions` (`None` =
    /// nothing committed).
    pub async fn committed(
        &self,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<BTreeMap<i32, Option<i64>>, OpsError> {
        let consumer = self.group_consumer(group)?;
        let request = tpl(topic, partitions.iter().map(|&p| (p, Offset::Invalid)))?;
        let topic = topic.to_owned();
        let group = group.to_owned();
        tokio::task::spawn_blocking(move || {
            let committed = consumer
                .committed_offsets(request, REQUEST_TIMEOUT)
                .map_err(OpsError::kafka(format!(
                    "reading the offsets of group {group} on {topic}"
                )))?;
            Ok(committed
                .elements()
                .iter()
                .map(|e| {
                    let offset = match e.offset() {
                        Offset::Offset(o) if o >= 0 => Some(o),
                        _ => None,
                    };
                    (e.partition(), offset)
                })
                .collect())
        })
        .await
        .map_err(|e| OpsError::Task(e.to_string()))?
    }

    /// Commits `offsets` for `group` on `topic` without joining the group
    /// (the commit carries no generation, which brokers accept only while
    /// the group has no members — callers check that first).
    pub async fn commit(
        &self,
        group: &str,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
    ) -> Result<(), OpsError> {
        let consumer = self.group_consumer(group)?;
        let list = tpl(topic, offsets.iter().map(|(&p, &o)| (p, Offset::Offset(o))))?;
        let group = group.to_owned();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            consumer
                .assign(&list)
                .map_err(OpsError::kafka(format!("assigning {topic}")))?;
            consumer
                .commit(&list, CommitMode::Sync)
                .map_err(OpsError::kafka(format!(
                    "committing offsets of group {group} on {topic}"
                )))?;
            // Confirm the broker stored what we sent.
            let stored = consumer
                .committed_offsets(list.clone(), REQUEST_TIMEOUT)
                .map_err(OpsError::kafka(format!("reading back the offsets of {group}")))?;
            for (want, got) in list.elements().iter().zip(stored.elements().iter()) {
                if want.offset() != got.offset() {
                    return Err(OpsError::InvalidArgument(format!(
                        "the broker did not store offset {:?} for {topic}/{} of group {group} (it has {:?})",
                        want.offset(),
                        want.partition(),
                        got.offset()
                    )));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| OpsError::Task(e.to_string()))?
    }

    fn group_consumer(&self, group: &str) -> Result<BaseConsumer, OpsError> {
        let mut config = base_config(&self.bootstrap);
        config.set("group.id", group);
        config.create().map_err(OpsError::kafka(format!(
            "creating a client for group {group}"
        )))
    }
}

/// Client settings shared by every operator client: never auto-create a
/// topic by asking about it, never commit behind the operator's back.
/// librdkafka refuses `assign` without a `group.id`; readers carry this one,
/// which never joins (no subscribe) and never commits.
pub(crate) fn base_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", READER_GROUP)
        .set("allow.auto.create.topics", "false")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    config
}

pub(crate) fn tpl(
    topic: &str,
    entries: impl IntoIterator<Item = (i32, Offset)>,
) -> Result<TopicPartitionList, OpsError> {
    let mut list = TopicPartitionList::new();
    for (partition, offset) in entries {
        list.add_partition_offset(topic, partition, offset)
            .map_err(OpsError::kafka(format!(
                "building a partition list for {topic}"
            )))?;
    }
    Ok(list)
}

fn sorted(it: impl Iterator<Item = i32>) -> Vec<i32> {
    let mut v: Vec<i32> = it.collect();
    v.sort_unstable();
    v
}
