//! [`TestStore`]: a real embedded view store in a temporary directory, and
//! the runtime's projection loop without a broker.

use std::{path::Path, sync::Arc};

use tempfile::TempDir;
use tributary_bus::{HandlerError, Received};
use tributary_contracts::events::AnyEvent;
use tributary_views::{Namespace, Outcome, TableDef, ViewStore, ViewsConfig, open_store_in};

use super::received;
use crate::{Clock, Projector, ServiceContext};

/// How often a delivery is re-projected after a conflicting commit before
/// the test gives up. Conflicts in tests come from a handful of concurrent
/// writers, so reaching this bound means a livelock, not bad luck.
pub const MAX_PROJECTION_ATTEMPTS: usize = 64;

/// A service's embedded store, and the [`ServiceContext`] tests hand to its
/// routes; the store lives as long as the value.
#[derive(Debug)]
pub struct TestStore {
    /// A standalone context (emitted events framed with schema id 0, the
    /// system clock unless [`TestStore::with_clock`] replaced it).
    pub context: ServiceContext,
    dir: TempDir,
}

impl TestStore {
    /// The live view store of `service` with `tables`.
    pub async fn open(service: &'static str, tables: &[TableDef]) -> Self {
        Self::open_in(service, &Namespace::Live, tables).await
    }

    /// Like [`TestStore::open`], in `namespace` (shadow copies for rebuilds).
    pub async fn open_in(
        service: &'static str,
        namespace: &Namespace,
        tables: &[TableDef],
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = open_store_in(
            &ViewsConfig::embedded(dir.path()),
            service,
            namespace,
            tables,
        )
        .await
        .expect("embedded store opens");
        TestStore {
            context: ServiceContext::standalone(service, store),
            dir,
        }
    }

    /// Replaces the context's clock (time-dependent routes and commits).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.context = self.context.with_clock(clock);
        self
    }

    pub fn store(&self) -> &dyn ViewStore {
        self.context.store()
    }

    /// The store as a shared handle (projectors, replicas, spawned tasks).
    pub fn store_handle(&self) -> Arc<dyn ViewStore> {
        self.context.store_handle()
    }

    /// The directory holding the store, to open it a second time.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Delivers `event` to `projector` like the runtime: returns the events
    /// emitted by the applied projection (empty for a duplicate).
    pub async fn deliver(
        &self,
        projector: &dyn Projector,
        event: impl Into<AnyEvent>,
    ) -> Result<Vec<AnyEvent>, HandlerError> {
        self.deliver_received(projector, received(event)).await
    }

    /// [`TestStore::deliver`] for a [`Received`] with chosen coordinates:
    /// an event id already recorded as processed is skipped without
    /// projecting; otherwise the projection is committed with the event id,
    /// and re-projected while the commit conflicts.
    pub async fn deliver_received(
        &self,
        projector: &dyn Projector,
        received: Received,
    ) -> Result<Vec<AnyEvent>, HandlerError> {
        let event_id = received.event.envelope().event_id;
        if self
            .store()
            .was_processed(event_id)
            .await
            .expect("store reads")
        {
            return Ok(Vec::new());
        }
        match self.project_and_commit(projector, &received).await? {
            (Outcome::Applied, emitted) => Ok(emitted),
            _ => Ok(Vec::new()),
        }
    }

    /// Projects `event` and commits the effects with its event id,
    /// re-projecting on a conflict, and returns the outcome. Unlike
    /// [`TestStore::deliver`] nothing is checked before projecting, so a
    /// redelivery shows up as [`Outcome::Duplicate`] from the commit itself.
    pub async fn consume(
        &self,
        projector: &dyn Projector,
        event: impl Into<AnyEvent>,
    ) -> Result<Outcome, HandlerError> {
        self.consume_received(projector, &received(event)).await
    }

    /// [`TestStore::consume`] for a [`Received`] with chosen coordinates.
    pub async fn consume_received(
        &self,
        projector: &dyn Projector,
        received: &Received,
    ) -> Result<Outcome, HandlerError> {
        let (outcome, _) = self.project_and_commit(projector, received).await?;
        Ok(outcome)
    }

    /// The runtime's loop: project, commit with the event id, and project
    /// again on a conflict. Returns the final outcome (never a conflict)
    /// and the events the committed projection emitted.
    async fn project_and_commit(
        &self,
        projector: &dyn Projector,
        received: &Received,
    ) -> Result<(Outcome, Vec<AnyEvent>), HandlerError> {
        let event_id = received.event.envelope().event_id;
        for _ in 0..MAX_PROJECTION_ATTEMPTS {
            let effects = projector.project(self.store(), received).await?;
            let emitted = effects.emit.clone();
            match self
                .context
                .commit(Some(event_id), effects)
                .await
                .expect("commit works")
            {
                Outcome::Conflict { .. } => continue,
                outcome => return Ok((outcome, emitted)),
            }
        }
        panic!("event {event_id} still conflicting after {MAX_PROJECTION_ATTEMPTS} projections");
    }
}
