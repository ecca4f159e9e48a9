//! What a service hands to the runtime: its name, its tables, what it
//! consumes, how it reacts, its HTTP API and its background work.

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tributary_views::TableDef;

use crate::{Projector, ServiceContext};

/// Any error a background task or route builder wants to report.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Builds the service's query/command API once the runtime has its context.
///
/// A closure rather than a `Router` because the routes need the
/// [`ServiceContext`] (store, clock, commit), which only exists once the
/// application is built. The result is merged with `/health/*` and
/// `/metrics`, so it must not define those paths.
pub type RoutesFn = Box<dyn FnOnce(ServiceContext) -> axum::Router + Send>;

/// Starts one background task (for example a saga-timeout sweeper).
///
/// The task must return soon after the token is cancelled; the runtime
/// aborts it at the shutdown deadline otherwise. Returning `Ok(())` early is
/// allowed (one-shot work); returning `Err` stops the whole service, because
/// a service whose background duty failed should be restarted rather than
/// keep answering as if healthy.
pub type TaskFn = Box<
    dyn FnOnce(ServiceContext, CancellationToken) -> BoxFuture<'static, Result<(), BoxError>>
        + Send,
>;

/// Everything the runtime needs to know about one service.
///
/// Each service crate exposes `pub fn definition(config) -> ServiceDefinition`;
/// the binary passes it to [`Application::build`](crate::Application::build).
pub struct ServiceDefinition {
    /// Short lowercase name (`"orders"`): names the view store, the consumer
    /// group `tributary.<name>`, the `ce_source` of emitted events and logs.
    pub name: &'static str,
    /// Every view table the service reads or writes; created when missing.
    pub tables: Vec<TableDef>,
    /// Topics to consume; empty means the service runs no consumer group.
    pub consumes: Vec<&'static str>,
    /// The reaction to consumed events; required when `consumes` is not empty.
    pub projector: Option<Arc<dyn Projector>>,
    /// The service's HTTP API, if it has one.
    pub routes: Option<RoutesFn>,
    /// Background work that runs as long as the service does.
    pub tasks: Vec<TaskFn>,
}

impl ServiceDefinition {
    /// A definition with no tables, consumption, routes or tasks; fill in the
    /// rest with struct update syntax or the builder methods.
    pub fn new(name: &'static str) -> Self {
        ServiceDefinition {
            name,
            tables: Vec::new(),
            consumes: Vec::new(),
            projector: None,
            routes: None,
            tasks: Vec::new(),
        }
    }

    /// The consumer group every replica of this service joins.
    pub fn group_id(&self) -> String {
        group_id(self.name)
    }

    /// Declares the service's tables.
    pub fn with_tables(mut self, tables: impl IntoIterator<Item = TableDef>) -> Self {
        self.tables.extend(tables);
        self
    }

    /// Consumes `topics` with `projector`.
    pub fn consuming(
        mut self,
        topics: impl IntoIterator<Item = &'static str>,
        projector: Arc<dyn Projector>,
    ) -> Self {
        self.consumes.extend(topics);
        self.projector = Some(projector);
        self
    }

    /// Serves the routes `routes` builds.
    pub fn with_routes(
        mut self,
        routes: impl FnOnce(ServiceContext) -> axum::Router + Send + 'static,
    ) -> Self {
        self.routes = Some(Box::new(routes));
        self
    }

    /// Adds a background task.
    pub fn with_task<F>(mut self, task: F) -> Self
    where
        F: FnOnce(ServiceContext, CancellationToken) -> BoxFuture<'static, Result<(), BoxError>>
            + Send
            + 'static,
    {
        self.tasks.push(Box::new(task));
        self
    }
}

impl std::fmt::Debug for ServiceDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDefinition")
            .field("name", &self.name)
            .field("tables", &self.tables)
            .field("consumes", &self.consumes)
            .field("projector", &self.projector.is_some())
            .field("routes", &self.routes.is_some())
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

/// `tributary.<service>`: the consumer group of a service.
pub fn group_id(service: &str) -> String {
    format!("tributary.{service}")
}
