//! Start-up checks and topic administration: is the cluster reachable, which
//! topics exist, create the missing ones.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    error::KafkaResult,
    metadata::Metadata,
    types::RDKafkaErrorCode,
};
use tokio::time::Instant;
use tributary_contracts::TopicSpec;

use crate::{
    BusConfig,
    client_context::TracingContext,
    error::{AdminError, UnreachableError},
};

/// A topic to create if missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDefinition {
    pub name: String,
    pub partitions: i32,
    /// Topic-level configs (`cleanup.policy`, `retention.ms`, ...).
    pub config: BTreeMap<String, String>,
}

impl TopicDefinition {
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        TopicDefinition {
            name: name.into(),
            partitions,
            config: BTreeMap::new(),
        }
    }

    /// A contract topic with its default partition count.
    pub fn from_spec(spec: &TopicSpec) -> Self {
        TopicDefinition::new(spec.name, spec.partitions)
    }

    /// Adds a topic-level config entry.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }
}

/// Fetches cluster metadata with `fetch` on a blocking thread, turning any
/// failure (or a librdkafka call that overruns its own timeout) into an error
/// naming the bootstrap servers.
pub(crate) async fn fetch_metadata<F>(
    bootstrap_servers: &str,
    timeout: Duration,
    fetch: F,
) -> Result<Metadata, UnreachableError>
where
    F: FnOnce(Duration) -> KafkaResult<Metadata> + Send + 'static,
{
    let unreachable = |detail: String| UnreachableError {
        bootstrap_servers: bootstrap_servers.to_owned(),
        timeout,
        detail,
    };
    // librdkafka honours `timeout`; the outer bound only guards against a
    // blocking call that does not.
    let task = tokio::task::spawn_blocking(move || fetch(timeout));
    match tokio::time::timeout(timeout + Duration::from_secs(5), task).await {
        Err(_) => Err(unreachable("metadata request did not return".to_owned())),
        Ok(Err(join)) => Err(unreachable(format!("metadata task failed: {join}"))),
        Ok(Ok(Err(e))) => Err(unreachable(e.to_string())),
        Ok(Ok(Ok(metadata))) if metadata.brokers().is_empty() => {
            Err(unreachable("metadata lists no brokers".to_owned()))
        }
        Ok(Ok(Ok(metadata))) => Ok(metadata),
    }
}

fn admin_client(config: &BusConfig) -> Result<Arc<AdminClient<TracingContext>>, AdminError> {
    config.validate()?;
    config
        .admin_client_config()
        .create_with_context(TracingContext)
        .map(Arc::new)
        .map_err(AdminError::Create)
}

async fn cluster_metadata(
    config: &BusConfig,
    admin: &Arc<AdminClient<TracingContext>>,
) -> Result<Metadata, AdminError> {
    let admin = admin.clone();
    Ok(fetch_metadata(
        &config.bootstrap_servers,
        config.connect_timeout,
        move |t| admin.inner().fetch_metadata(None, t),
    )
    .await?)
}

/// Partition counts of every existing topic.
async fn topic_partitions(
    config: &BusConfig,
    admin: &Arc<AdminClient<TracingContext>>,
) -> Result<HashMap<String, i32>, AdminError> {
    let metadata = cluster_metadata(config, admin).await?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| {
            (
                t.name().to_owned(),
                i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
            )
        })
        .collect())
}

/// Checks within `connect_timeout` that the brokers answer, naming them if not.
pub async fn check_cluster(config: &BusConfig) -> Result<(), AdminError> {
    let admin = admin_client(config)?;
    cluster_metadata(config, &admin).await.map(|_| ())
}

/// The partition count of each of `topics`; a missing topic is an error
/// naming it.
pub async fn partition_counts(
    config: &BusConfig,
    topics: &[String],
) -> Result<HashMap<String, i32>, AdminError> {
    let admin = admin_client(config)?;
    let existing = topic_partitions(config, &admin).await?;
    topics
        .iter()
        .map(|t| {
            existing
                .get(t)
                .map(|n| (t.clone(), *n))
                .ok_or_else(|| AdminError::UnknownTopic { topic: t.clone() })
        })
        .collect()
}

/// Creates every topic of `topics` that does not exist yet (existing topics
/// are left as they are, whatever their partition count) and waits until the
/// new ones appear in metadata. Returns the names it created.
pub async fn ensure_topics(
    config: &BusConfig,
    topics: &[TopicDefinition],
) -> Result<Vec<String>, AdminError> {
    let admin = admin_client(config)?;
    let existing = topic_partitions(config, &admin).await?;
    let missing: Vec<&TopicDefinition> = topics
        .iter()
        .filter(|t| !existing.contains_key(&t.name))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let new_topics: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| {
            t.config.iter().fold(
                NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(config.replication_factor),
                ),
                |n, (k, v)| n.set(k, v),
            )
        })
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(config.connect_timeout))
        .request_timeout(Some(config.connect_timeout));
    let results = tokio::time::timeout(
        config.connect_timeout + Duration::from_secs(5),
        admin.create_topics(new_topics.iter(), &options),
    )
    .await
    .map_err(|_| UnreachableError {
        bootstrap_servers: config.bootstrap_servers.clone(),
        timeout: config.connect_timeout,
        detail: "CreateTopics did not return".to_owned(),
    })?
    .map_err(AdminError::Request)?;
    let mut created = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(AdminError::CreateTopic { topic, code }),
        }
    }
    wait_visible(config, &admin, &missing).await?;
    tracing::info!(topics = ?created, "created topics");
    Ok(created)
}

/// Waits until freshly created topics show up in metadata with all their
/// partitions, so a consumer subscribing right after sees them.
async fn wait_visible(
    config: &BusConfig,
    admin: &Arc<AdminClient<TracingContext>>,
    topics: &[&TopicDefinition],
) -> Result<(), AdminError> {
    let deadline = Instant::now() + config.connect_timeout;
    loop {
        let existing = topic_partitions(config, admin).await?;
        let pending: Vec<&str> = topics
            .iter()
            .filter(|t| existing.get(&t.name).is_none_or(|n| *n < t.partitions))
            .map(|t| t.name.as_str())
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(AdminError::UnknownTopic {
                topic: pending.join(", "),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
