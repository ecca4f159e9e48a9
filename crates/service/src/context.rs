//! [`ServiceContext`]: what a service's routes and tasks get from the
//! runtime — the store, the clock, metrics, and `commit` for effects caused
//! by requests rather than by consumed events.

use std::sync::Arc;

use tokio::sync::Notify;
use tributary_bus::EventCodec;
use tributary_telemetry::Metrics;
use tributary_views::{Outcome, ViewStore};
use uuid::Uuid;

use crate::{Clock, CommitError, Effects, SystemClock, encode::Encoder};

/// Shared handles of a running service; cheap to clone (a few `Arc`s).
#[derive(Clone)]
pub struct ServiceContext {
    name: &'static str,
    store: Arc<dyn ViewStore>,
    encoder: Encoder,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    /// Wakes the outbox relay right after a commit appended messages, so
    /// emitted events leave without waiting for the next poll.
    relay_wake: Arc<Notify>,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext")
            .field("name", &self.name)
            .field("store", &self.store.describe())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl ServiceContext {
    /// A context encoding emitted events through `codec`. The application
    /// builds this; services build one only in tests.
    pub fn new(
        name: &'static str,
        store: Arc<dyn ViewStore>,
        codec: EventCodec,
        metrics: Metrics,
    ) -> Self {
        Self::with_encoder(name, store, Encoder::Registry(codec), metrics)
    }

    /// A context for tests of request handlers that needs no registry:
    /// emitted events are framed with schema id 0 (which no registry issues),
    /// so its outbox must never be relayed.
    pub fn standalone(name: &'static str, store: Arc<dyn ViewStore>) -> Self {
        Self::with_encoder(name, store, Encoder::Unregistered, Metrics::new())
    }

    fn with_encoder(
        name: &'static str,
        store: Arc<dyn ViewStore>,
        encoder: Encoder,
        metrics: Metrics,
    ) -> Self {
        ServiceContext {
            name,
            store,
            encoder,
            metrics,
            clock: Arc::new(SystemClock),
            relay_wake: Arc::new(Notify::new()),
        }
    }

    /// Replaces the clock (tests of time-dependent decisions).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The service's name (`"orders"`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The service's view store.
    pub fn store(&self) -> &dyn ViewStore {
        self.store.as_ref()
    }

    /// The store as a shared handle, for work that outlives a borrow.
    pub fn store_handle(&self) -> Arc<dyn ViewStore> {
        self.store.clone()
    }

    /// Now, in milliseconds since the Unix epoch, from the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The process's metrics (saga outcomes and other service metrics).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The codec, when the context talks to a registry.
    pub fn codec(&self) -> Option<&EventCodec> {
        self.encoder.codec()
    }

    pub(crate) fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub(crate) fn relay_wake(&self) -> &Arc<Notify> {
        &self.relay_wake
    }

    /// Applies effects caused by a request (not by a consumed event),
    /// atomically with the outbox, then wakes the relay.
    ///
    /// `event_id` is the processed-record id that makes the request
    /// idempotent: a second commit with the same id returns
    /// [`Outcome::Duplicate`] and changes nothing (`None` = not idempotent).
    /// [`Outcome::Conflict`] is returned, not retried: the caller re-reads
    /// and decides again, because only it knows how.
    pub async fn commit(
        &self,
        event_id: Option<Uuid>,
        effects: Effects,
    ) -> Result<Outcome, CommitError> {
        // No span of its own: the emitted events carry the trace context of
        // the caller's (request) span.
        let emits = !effects.emit.is_empty();
        let now = self.now_ms();
        let tx = self
            .encoder
            .transaction(event_id, effects)
            .await?
            .with_write_time(now.saturating_mul(1000));
        let outcome = self.store.apply(tx).await?;
        if emits && outcome.is_applied() {
            self.relay_wake.notify_one();
        }
        Ok(outcome)
    }
}
