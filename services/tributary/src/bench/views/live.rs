//! The live side of `bench views`: the orders service's projection handler,
//! exactly as `Application::build` makes it, fed by a `ConsumerGroup`.
//!
//! The application is built normally (fresh embedded store, schemas
//! registered, producer connected) through a [`SourceFactory`] that keeps a
//! copy of the parts it is given — the projection handler with the
//! service's context and store, the codec, the topics. The benchmark then
//! runs its own `ConsumerGroup` on those parts under a fresh group id, with
//! a wrapper that counts applied events. The application itself is never
//! run: its outbox relay would publish the emitted events (to the real
//! `orders` topic) and its sweeper would cancel orders, neither of which is
//! the apply path being measured.
//!
//! Every round gets a fresh group and a fresh store, so every round applies
//! the whole backlog, retries included: the saga's events travel on three
//! topics, and an outcome consumed before its order's placement goes
//! through the retry topic like in production.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tributary_bus::{ConsumerGroup, EventCodec, Handler, HandlerError, Received};
use tributary_orders::OrdersConfig;
use tributary_service::{
    Application, EventSource, KafkaSources, ServiceConfig, SourceFactory, SourceParts, StartError,
};
use tributary_telemetry::Metrics;
use tributary_views::{ViewStore, ViewsConfig};

use super::rebuild::same_rows;
use crate::{
    bench::{
        BenchEnv, BenchError,
        env::unique_name,
        handler::{Progress, stop_group},
    },
    ops::rebuild::RebuildTarget,
};

/// Upper bound on one round, group join included.
const ROUND_TIMEOUT: Duration = Duration::from_secs(600);

/// What one live round measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveRound {
    /// From the first applied event to the last.
    pub first_to_last: Duration,
    /// Deliveries the handler failed and the bus retried (cross-topic
    /// reordering: an outcome before its order's placement).
    pub retried: u64,
    /// Whether the round's store ended equal to the reference view.
    pub matches_reference: bool,
}

/// The parts `Application::build` handed to its source factory.
struct Captured {
    handler: Arc<dyn Handler>,
    codec: EventCodec,
    topics: Vec<String>,
    metrics: Metrics,
}

/// Builds the Kafka source as usual and keeps a copy of its parts.
struct Capturing {
    kafka: KafkaSources,
    slot: Mutex<Option<Captured>>,
}

#[async_trait]
impl SourceFactory for Capturing {
    async fn create(&self, parts: SourceParts) -> Result<Box<dyn EventSource>, StartError> {
        let copy = Captured {
            handler: parts.handler.clone(),
            codec: parts.codec.clone(),
            topics: parts.topics.clone(),
            metrics: parts.metrics.clone(),
        };
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some(copy);
        }
        self.kafka.create(parts).await
    }
}

/// The service's handler, counting what it applied.
struct Counting {
    inner: Arc<dyn Handler>,
    applied: Arc<Progress>,
    retried: AtomicU64,
    /// Retries a delivery may have before the bus dead-letters it.
    max_attempts: u32,
    /// Cancelled when an event will never be applied (dead-lettered).
    lost: CancellationToken,
    lost_reason: Mutex<Option<String>>,
}

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, event: Received) -> Result<(), HandlerError> {
        let attempt = event.attempt;
        let outcome = self.inner.handle(event).await;
        match &outcome {
            Ok(()) => {
                self.applied.record();
            }
            Err(HandlerError::Retryable(_)) if attempt < self.max_attempts => {
                self.retried.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                if let Ok(mut reason) = self.lost_reason.lock() {
                    reason.get_or_insert_with(|| error.to_string());
                }
                self.lost.cancel();
            }
        }
        outcome
    }
}

/// One round: a fresh store and group apply all `expected` events of
/// `target.topics`; the store is then compared with `reference`.
pub(crate) async fn apply_once(
    env: &BenchEnv,
    target: &RebuildTarget,
    reference: &dyn ViewStore,
    expected: u64,
) -> Result<LiveRound, BenchError> {
    let dir = tempfile::tempdir().map_err(BenchError::io("creating a view directory"))?;
    let bus = env.bus_config();
    let max_attempts = bus.consumer.retry.max_attempts;
    let config = ServiceConfig {
        bus: bus.clone(),
        views: ViewsConfig::embedded(dir.path()),
        ..ServiceConfig::default()
    };
    let mut definition = tributary_orders::definition(OrdersConfig {
        sweeper_enabled: false,
        ..OrdersConfig::default()
    });
    definition.consumes.clone_from(&target.topics);
    let factory = Capturing {
        kafka: KafkaSources::new(bus.clone()),
        slot: Mutex::new(None),
    };
    let app = Application::build_with_source(definition, config, Metrics::new(), &factory).await?;
    let captured = factory
        .slot
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .ok_or_else(|| BenchError::Task {
            what: "orders service",
            detail: "the application built no event source".to_owned(),
        })?;

    let counting = Arc::new(Counting {
        inner: captured.handler,
        applied: Progress::new(expected),
        retried: AtomicU64::new(0),
        max_attempts,
        lost: CancellationToken::new(),
        lost_reason: Mutex::new(None),
    });
    let group = ConsumerGroup::new(
        bus,
        unique_name("bench-views-live"),
        captured.topics,
        captured.codec,
        counting.clone(),
    )
    .with_metrics(captured.metrics);
    let shutdown = CancellationToken::new();
    let mut running = tokio::spawn(group.run(shutdown.clone()));
    let outcome = tokio::select! {
        () = counting.applied.done().cancelled() => Ok(()),
        () = counting.lost.cancelled() => Err(BenchError::Projection {
            what: "the live orders projection",
            detail: counting
                .lost_reason
                .lock()
                .ok()
                .and_then(|r| r.clone())
                .unwrap_or_default(),
        }),
        ended = &mut running => Err(match ended {
            Ok(Err(e)) => BenchError::from(e),
            Ok(Ok(_)) => BenchError::Task {
                what: "consumer group",
                detail: "stopped before every event was applied".to_owned(),
            },
            Err(e) => BenchError::Task { what: "consumer group", detail: e.to_string() },
        }),
        () = tokio::time::sleep(ROUND_TIMEOUT) => Err(BenchError::Timeout {
            what: format!(
                "the live orders projection ({} of {expected} events applied)",
                counting.applied.count()
            ),
            after: ROUND_TIMEOUT,
        }),
    };
    stop_group(&shutdown, running).await;
    outcome?;
    let first_to_last = counting.applied.elapsed().ok_or_else(|| BenchError::Task {
        what: "live orders projection",
        detail: "finished without timing".to_owned(),
    })?;
    let matches_reference = same_rows(reference, app.context().store(), target).await?;
    Ok(LiveRound {
        first_to_last,
        retried: counting.retried.load(Ordering::Relaxed),
        matches_reference,
    })
}
