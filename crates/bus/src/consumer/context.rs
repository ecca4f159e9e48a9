//! The librdkafka consumer context of a group member: starts and drains
//! partition workers on rebalance, commits after draining, turns statistics
//! into the consumer-lag gauge, and logs through `tracing`.
//!
//! Rebalance callbacks run on the group's driver thread (a blocking thread
//! that polls the main queue), never on a runtime worker, so blocking there
//! while workers drain is safe.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rdkafka::{
    ClientContext, Statistics, TopicPartitionList,
    config::RDKafkaLogLevel,
    consumer::{
        BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance, StreamConsumer,
    },
    error::{KafkaError, KafkaResult},
    types::RDKafkaErrorCode,
};
use tokio::{runtime::Handle, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, Span};
use tributary_telemetry::{InternalEvent as _, labels::PartitionLabels};

use super::{
    group::GroupStatus,
    worker::{PartitionWorker, WorkerShared},
};
use crate::{
    client_context::{error_to_tracing, log_to_tracing},
    internal_events::Rebalanced,
};

type TopicPartition = (String, i32);

/// How often a drain checks whether its workers have finished.
const DRAIN_POLL: Duration = Duration::from_millis(5);
/// How long aborted workers get to actually unwind after `abort()`.
const ABORT_GRACE: Duration = Duration::from_secs(2);

struct WorkerHandle {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// What a rebalance did to this member's partitions.
#[derive(Debug, Clone, Copy)]
enum Change {
    Assign,
    Revoke,
}

impl Change {
    /// The `kind` label of the rebalance metric and log line.
    fn label(self) -> &'static str {
        match self {
            Change::Assign => "assign",
            Change::Revoke => "revoke",
        }
    }
}

pub(crate) struct GroupContext {
    group: String,
    runtime: Handle,
    shared: Arc<WorkerShared>,
    consumer: OnceLock<Weak<StreamConsumer<GroupContext>>>,
    workers: Mutex<HashMap<TopicPartition, WorkerHandle>>,
    /// Set by this member's first assignment (even an empty one).
    joined: AtomicBool,
    drain_timeout: Duration,
    status: watch::Sender<GroupStatus>,
    span: Span,
}

impl GroupContext {
    pub(crate) fn new(
        shared: Arc<WorkerShared>,
        runtime: Handle,
        drain_timeout: Duration,
        status: watch::Sender<GroupStatus>,
        span: Span,
    ) -> Self {
        GroupContext {
            group: shared.group.clone(),
            runtime,
            shared,
            consumer: OnceLock::new(),
            workers: Mutex::new(HashMap::new()),
            joined: AtomicBool::new(false),
            drain_timeout,
            status,
            span,
        }
    }

    /// Gives the context the consumer it belongs to, so assignment can split
    /// partition queues off it. Set once, right after creation.
    pub(crate) fn attach(&self, consumer: &Arc<StreamConsumer<GroupContext>>) {
        let _ = self.consumer.set(Arc::downgrade(consumer));
    }

    fn workers(&self) -> MutexGuard<'_, HashMap<TopicPartition, WorkerHandle>> {
        // Only map operations happen under the lock; a poisoned map is intact.
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn assign(&self, tpl: &TopicPartitionList) {
        let Some(consumer) = self.consumer.get().and_then(Weak::upgrade) else {
            return;
        };
        let mut started = Vec::new();
        {
            let mut workers = self.workers();
            for element in tpl.elements() {
                let key = (element.topic().to_owned(), element.partition());
                if workers.contains_key(&key) {
                    continue;
                }
                // Splitting before librdkafka starts fetching means every
                // message of the partition arrives on its own queue.
                let Some(queue) = consumer.split_partition_queue(&key.0, key.1) else {
                    tracing::error!(topic = %key.0, partition = key.1, "cannot split partition queue");
                    continue;
                };
                let stop = CancellationToken::new();
                let worker = PartitionWorker {
                    consumer: consumer.clone(),
                    queue,
                    topic: key.0.clone(),
                    partition: key.1,
                    shared: self.shared.clone(),
                    stop: stop.clone(),
                };
                let task = self
                    .runtime
                    .spawn(worker.run().instrument(self.span.clone()));
                workers.insert(key.clone(), WorkerHandle { stop, task });
                started.push(key);
            }
        }
        self.publish_assignment(Change::Assign, &started);
        if !self.joined.swap(true, Ordering::Relaxed) {
            self.status
                .send_modify(|s| s.members_joining = s.members_joining.saturating_sub(1));
        }
    }

    /// Stops the workers of `partitions` and waits for them (bounded by the
    /// drain timeout, then aborted: their unfinished messages are not stored
    /// and will be redelivered).
    fn revoke(&self, partitions: &[TopicPartition]) {
        let handles: Vec<WorkerHandle> = {
            let mut workers = self.workers();
            partitions
                .iter()
                .filter_map(|tp| workers.remove(tp))
                .collect()
        };
        self.drain(handles);
        self.publish_assignment(Change::Revoke, partitions);
    }

    /// Stops and drains every worker (shutdown).
    pub(crate) fn drain_all(&self) {
        let (keys, handles): (Vec<TopicPartition>, Vec<WorkerHandle>) =
            self.workers().drain().unzip();
        self.drain(handles);
        self.publish_assignment(Change::Revoke, &keys);
    }

    fn drain(&self, handles: Vec<WorkerHandle>) {
        if handles.is_empty() {
            return;
        }
        for handle in &handles {
            handle.stop.cancel();
        }
        let deadline = Instant::now() + self.drain_timeout;
        while Instant::now() < deadline && handles.iter().any(|h| !h.task.is_finished()) {
            std::thread::sleep(DRAIN_POLL);
        }
        let unfinished: Vec<&WorkerHandle> =
            handles.iter().filter(|h| !h.task.is_finished()).collect();
        if unfinished.is_empty() {
            return;
        }
        tracing::warn!(
            group = %self.group,
            workers = unfinished.len(),
            drain_timeout_ms = self.drain_timeout.as_millis() as u64,
            "partition workers did not finish in time; aborting them (their messages will be redelivered)"
        );
        self.shared
            .counters
            .aborted_workers
            .fetch_add(unfinished.len() as u64, Ordering::Relaxed);
        for handle in &unfinished {
            handle.task.abort();
        }
        let grace = Instant::now() + ABORT_GRACE;
        while Instant::now() < grace && unfinished.iter().any(|h| !h.task.is_finished()) {
            std::thread::sleep(DRAIN_POLL);
        }
    }

    /// Updates the group's status with what this member gained or lost.
    /// The status is shared with the group's other member (sources and retry
    /// topics are separate members), so each adds and removes only its own.
    fn publish_assignment(&self, change: Change, changed: &[TopicPartition]) {
        let mut assigned_now = 0;
        self.status.send_modify(|s| {
            for partition in changed {
                match change {
                    Change::Assign => s.assigned.insert(partition.clone()),
                    Change::Revoke => s.assigned.remove(partition),
                };
            }
            assigned_now = s.assigned.len();
        });
        Rebalanced {
            group: &self.group,
            kind: change.label(),
            partitions: changed,
            assigned_now,
        }
        .emit(&self.shared.metrics);
    }

    /// Commits stored offsets now; "nothing to commit" is success.
    pub(crate) fn commit_sync<C: rdkafka::consumer::ConsumerContext>(
        &self,
        consumer: &impl rdkafka::consumer::Consumer<C>,
    ) {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(group = %self.group, %error, "offset commit failed"),
        }
    }
}

impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let _entered = self.span.enter();
        log_to_tracing(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let _entered = self.span.enter();
        error_to_tracing(&error, reason);
    }

    /// Updates the lag gauge of every partition this member owns: messages
    /// between the stored (handled) offset and the high watermark.
    fn stats(&self, statistics: Statistics) {
        let owned: BTreeSet<TopicPartition> = self.workers().keys().cloned().collect();
        for (topic, stats) in &statistics.topics {
            for (partition, p) in &stats.partitions {
                if !owned.contains(&(topic.clone(), *partition)) {
                    continue;
                }
                let lag = if p.consumer_lag_stored >= 0 {
                    p.consumer_lag_stored
                } else {
                    p.consumer_lag
                };
                if lag < 0 {
                    continue;
                }
                self.shared
                    .metrics
                    .consumer_lag()
                    .get_or_create(&PartitionLabels {
                        topic: topic.clone(),
                        partition: *partition,
                        group: self.group.clone(),
                    })
                    .set(lag);
            }
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, base: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let _entered = self.span.enter();
        match rebalance {
            Rebalance::Assign(tpl) => self.assign(tpl),
            Rebalance::Revoke(tpl) => {
                let partitions: Vec<TopicPartition> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect();
                self.revoke(&partitions);
                // Commit what the drained workers stored before the partitions
                // move; a lost assignment cannot commit any more.
                if !base.assignment_lost() {
                    self.commit_sync(base);
                }
            }
            Rebalance::Error(error) => {
                tracing::warn!(group = %self.group, %error, "rebalance error");
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                let _entered = self.span.enter();
                tracing::warn!(group = %self.group, %error, "offset commit failed");
            }
        }
    }
}
