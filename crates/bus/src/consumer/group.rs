//! [`ConsumerGroup`]: subscribe a handler to topics under a group id and run
//! until told to stop.

use std::{
    collections::BTreeSet,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use rdkafka::{
    Message as _,
    config::FromClientConfigAndContext as _,
    consumer::{Consumer as _, StreamConsumer},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tributary_telemetry::Metrics;

use super::{
    context::GroupContext,
    failure::FailureRouter,
    handler::{Handler, RawHandler},
    processor::{Processor, RawProcessor, TypedProcessor},
    topics::FailureTopics,
    worker::{Counters, WorkerShared},
};
use crate::{
    BusConfig, EventCodec,
    error::{ConfigError, ConsumeError},
    producer::RawProducer,
};

/// How long shutdown waits for the last references to the consumer (held
/// by partition workers that were just aborted) before closing it anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What this runner is doing, for readiness probes and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupStatus {
    /// Subscribed and polling (false before start-up finished and after stop).
    pub running: bool,
    /// Partitions this runner currently owns: source partitions through its
    /// sources member, retry-topic partitions through its retry member.
    pub assigned: BTreeSet<(String, i32)>,
    /// Members of this runner still waiting for their first assignment.
    /// Until it is 0 the group has another rebalance ahead (each member's
    /// join reassigns every partition), so the runner is not settled.
    pub members_joining: usize,
}

impl GroupStatus {
    /// Running, every member has joined the group, and some partitions are
    /// owned: what readiness probes wait for.
    pub fn settled(&self) -> bool {
        self.running && self.members_joining == 0 && !self.assigned.is_empty()
    }
}

/// Totals of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Messages finished: handled successfully or routed to retry/DLQ.
    pub handled: u64,
    /// Failed attempts (decode or handler), whatever their route.
    pub failed: u64,
    /// Messages written to a retry topic.
    pub retried: u64,
    /// Messages written to a dead-letter topic.
    pub dead_lettered: u64,
    /// Partition workers aborted because they overran the drain timeout.
    pub aborted_workers: u64,
}

/// One member of a consumer group.
///
/// ```ignore
/// let codec = EventCodec::new(RegistryClient::new(&config.registry_url, Default::default())?);
/// let group = ConsumerGroup::new(config, "tributary.notifications", ["orders"], codec, Arc::new(MyHandler))
///     .with_metrics(metrics.clone());
/// let summary = group.run(shutdown_token).await?;
/// ```
///
/// Run several members (processes or tasks) with the same group id to split
/// partitions (queuing); give each subscriber its own group id to have every
/// group see every event (pub-sub).
pub struct ConsumerGroup {
    config: BusConfig,
    group: String,
    topics: Vec<String>,
    processor: Arc<dyn Processor>,
    metrics: Metrics,
    status: watch::Sender<GroupStatus>,
}

impl std::fmt::Debug for ConsumerGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerGroup")
            .field("group", &self.group)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl ConsumerGroup {
    /// A member of `group` handling typed events of `topics`.
    pub fn new<I, T>(
        config: BusConfig,
        group: impl Into<String>,
        topics: I,
        codec: EventCodec,
        handler: Arc<dyn Handler>,
    ) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self::with_processor(
            config,
            group.into(),
            topics,
            Arc::new(TypedProcessor { codec, handler }),
        )
    }

    /// A member of `group` handling undecoded messages of `topics`.
    pub fn raw<I, T>(
        config: BusConfig,
        group: impl Into<String>,
        topics: I,
        handler: Arc<dyn RawHandler>,
    ) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self::with_processor(
            config,
            group.into(),
            topics,
            Arc::new(RawProcessor { handler }),
        )
    }

    fn with_processor<I, T>(
        config: BusConfig,
        group: String,
        topics: I,
        processor: Arc<dyn Processor>,
    ) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        ConsumerGroup {
            config,
            group,
            topics: topics.into_iter().map(Into::into).collect(),
            processor,
            metrics: Metrics::new(),
            status: watch::Sender::new(GroupStatus::default()),
        }
    }

    /// Reports metrics into `metrics` (share one per process).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn group_id(&self) -> &str {
        &self.group
    }

    /// A live view of this member's state.
    pub fn status(&self) -> watch::Receiver<GroupStatus> {
        self.status.subscribe()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.config.validate()?;
        if self.group.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "group".into(),
                message: "must not be empty".into(),
            });
        }
        if self.topics.is_empty() {
            return Err(ConfigError::Invalid {
                key: "topics".into(),
                message: "subscribe to at least one topic".into(),
            });
        }
        Ok(())
    }

    /// Joins the group and handles messages until `shutdown` is cancelled;
    /// then stops fetching, lets in-flight messages finish (bounded by
    /// `consumer.drain_timeout`), commits, and leaves the group.
    ///
    /// Fails only at start-up (invalid configuration, unreachable brokers,
    /// missing source topics); failures of single messages go to the retry
    /// and dead-letter topics and never end the run.
    pub async fn run(self, shutdown: CancellationToken) -> Result<RunSummary, ConsumeError> {
        self.validate()?;
        let group = self.group.clone();
        let failure_topics = FailureTopics::new(&group, &self.topics);
        failure_topics
            .ensure(&self.config)
            .await
            .map_err(|source| ConsumeError::Topics {
                group: group.clone(),
                source,
            })?;
        let producer = RawProducer::connect(&self.config, self.metrics.clone())
            .await
            .map_err(|source| ConsumeError::Producer {
                group: group.clone(),
                source,
            })?;

        let retry_topics: Vec<String> = failure_topics.retry_topics().map(str::to_owned).collect();
        let shared = Arc::new(WorkerShared {
            group: group.clone(),
            processor: self.processor.clone(),
            router: FailureRouter {
                producer,
                topics: failure_topics,
                policy: self.config.consumer.retry.clone(),
            },
            policy: self.config.consumer.retry.clone(),
            metrics: self.metrics.clone(),
            counters: Counters::default(),
        });
        // Two members of the one group: the source topics and the retry
        // topics each get their own librdkafka client, so their own fetch
        // loop. librdkafka keeps one fetch in flight per broker and leaves
        // out partitions whose queue is full; with one client, a busy
        // consumer's fetch then asked only for the (nearly always empty)
        // retry partitions and the broker held it for `fetch.wait.max.ms`
        // while the source queues ran dry (docs/benchmarks.md, "Consume").
        let roles = [
            (MemberRole::Sources, self.topics.clone()),
            (MemberRole::Retries, retry_topics),
        ];
        let mut members = Vec::with_capacity(roles.len());
        for (role, topics) in roles {
            members.push(self.join(role, topics, &shared).map_err(|e| *e)?);
        }
        self.status.send_modify(|s| {
            s.running = true;
            s.members_joining = members.len();
        });

        // A driver polls its member's main queue, which serves rebalance
        // callbacks that block while partitions drain: keep that off the
        // runtime's worker threads.
        let drivers: Vec<_> = members
            .into_iter()
            .map(|consumer| {
                let runtime = tokio::runtime::Handle::current();
                let shutdown = shutdown.clone();
                tokio::task::spawn_blocking(move || runtime.block_on(drive(consumer, shutdown)))
            })
            .collect();
        let mut driver_failure = None;
        for driver in drivers {
            if let Err(error) = driver.await {
                driver_failure.get_or_insert(error.to_string());
            }
        }
        self.status.send_modify(|s| {
            s.running = false;
            s.assigned.clear();
        });
        if let Some(detail) = driver_failure {
            return Err(ConsumeError::Driver {
                group: group.clone(),
                detail,
            });
        }

        let c = &shared.counters;
        let summary = RunSummary {
            handled: c.handled.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            aborted_workers: c.aborted_workers.load(Ordering::Relaxed),
        };
        tracing::info!(group = %group, ?summary, "consumer group stopped");
        Ok(summary)
    }

    /// Creates one member of the group for `role` and subscribes it to
    /// `topics`. (The error is boxed only to keep this private result small.)
    fn join(
        &self,
        role: MemberRole,
        topics: Vec<String>,
        shared: &Arc<WorkerShared>,
    ) -> Result<Arc<StreamConsumer<GroupContext>>, Box<ConsumeError>> {
        let group = &self.group;
        let span = tracing::info_span!("consumer_group", group = %group, member = role.name());
        let context = GroupContext::new(
            shared.clone(),
            tokio::runtime::Handle::current(),
            self.config.consumer.drain_timeout,
            self.status.clone(),
            span,
        );
        let mut client_config = self.config.consumer_client_config(group);
        let client_id = client_config
            .get("client.id")
            .map_or_else(|| group.clone(), str::to_owned);
        client_config.set("client.id", role.client_id(&client_id));
        let consumer = StreamConsumer::from_config_and_context(&client_config, context)
            .map(Arc::new)
            .map_err(|source| {
                Box::new(ConsumeError::Create {
                    group: group.clone(),
                    source,
                })
            })?;
        consumer.context().attach(&consumer);
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topic_refs).map_err(|source| {
            Box::new(ConsumeError::Subscribe {
                group: group.clone(),
                topics: topics.clone(),
                source,
            })
        })?;
        tracing::info!(group = %group, member = role.name(), ?topics, "consumer group member started");
        Ok(consumer)
    }
}

/// Which topics a member of the group reads.
#[derive(Debug, Clone, Copy)]
enum MemberRole {
    Sources,
    Retries,
}

impl MemberRole {
    fn name(self) -> &'static str {
        match self {
            MemberRole::Sources => "sources",
            MemberRole::Retries => "retries",
        }
    }

    /// The retry member's client id is the configured one (default: the
    /// group id) with `-retry`, so `groups describe` tells them apart.
    fn client_id(self, base: &str) -> String {
        match self {
            MemberRole::Sources => base.to_owned(),
            MemberRole::Retries => format!("{base}-retry"),
        }
    }
}

/// Polls the main queue (rebalances, statistics, errors) until shutdown,
/// then drains the workers, commits and closes the consumer.
async fn drive(consumer: Arc<StreamConsumer<GroupContext>>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            polled = consumer.recv() => match polled {
                Err(error) => tracing::warn!(%error, "consumer error"),
                // Every assigned partition has its own queue, split before
                // fetching starts, so this does not happen; if it ever does,
                // leave the offset unstored so the message is redelivered.
                Ok(message) => tracing::error!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset = message.offset(),
                    "message arrived on the main queue; skipped without storing its offset"
                ),
            },
        }
    }
    let context = consumer.context().clone();
    context.drain_all();
    context.commit_sync(consumer.as_ref());
    // Aborted workers release their consumer references as they unwind; close
    // here on this blocking thread rather than wherever the last one drops.
    let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
    while Arc::strong_count(&consumer) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(consumer);
}
