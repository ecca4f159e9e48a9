use async_trait::async_trait;
use tributary_bus::{HandlerError, Received};
use tributary_views::ViewStore;

use crate::Effects;

/// A service's reaction to the events it consumes.
///
/// `project` only reads: it decides the [`Effects`] of `event` from the
/// current view, and the runtime applies them. When another replica changed a
/// row in between (an optimistic-concurrency conflict) the runtime calls
/// `project` again with the fresh view, so the decision is always made on the
/// state it is applied to.
#[async_trait]
pub trait Projector: Send + Sync + 'static {
    /// Decides what `event` changes.
    ///
    /// Return [`HandlerError::Permanent`] for events that can never be
    /// handled (they go to the dead-letter topic) and
    /// [`HandlerError::Retryable`] for passing faults.
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> Result<Effects, HandlerError>;
}
