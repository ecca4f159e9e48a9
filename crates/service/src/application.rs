//! [`Application`]: a service built and ready to run.
//!
//! `build` does everything that can fail at start-up — open the store,
//! register the contract schemas, reach the broker, check the consumed
//! topics, bind the listener — so a misconfigured service stops with an
//! error naming the culprit before it takes any traffic. `run_until` then
//! runs the parts until a shutdown future completes or one part fails.
//!
//! ```ignore
//! let app = Application::build(tributary_orders::definition(orders_config), service_config).await?;
//! tracing::info!(addr = %app.local_addr(), "listening");
//! app.run_until(tributary_service::shutdown_signal()).await?;
//! ```

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use tokio::net::TcpListener;
use tributary_bus::{EventCodec, RawProducer};
use tributary_registry::{ClientConfig as RegistryClientConfig, RegistryClient};
use tributary_telemetry::Metrics;
use tributary_views::open_store;

use crate::{
    ServiceConfig, ServiceContext, ServiceDefinition, StartError, TaskFn,
    definition::group_id,
    http::service_router,
    readiness::Readiness,
    relay::OutboxRelay,
    runner::ProjectionHandler,
    source::{EventSource, KafkaSources, SourceFactory, SourceParts},
};

/// A built service: store open, schemas registered, producer connected,
/// listener bound. Run it with [`Application::run_until`].
pub struct Application {
    pub(crate) name: &'static str,
    pub(crate) context: ServiceContext,
    pub(crate) listener: TcpListener,
    pub(crate) local_addr: SocketAddr,
    pub(crate) router: Router,
    pub(crate) source: Option<Box<dyn EventSource>>,
    pub(crate) relay: OutboxRelay,
    pub(crate) tasks: Vec<TaskFn>,
    pub(crate) readiness: Readiness,
    pub(crate) shutdown_deadline: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("name", &self.name)
            .field("local_addr", &self.local_addr)
            .field(
                "source",
                &self.source.as_ref().map(|s| (s.transport(), s.group())),
            )
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds `definition` with `config` and a fresh metrics registry.
    pub async fn build(
        definition: ServiceDefinition,
        config: ServiceConfig,
    ) -> Result<Application, StartError> {
        Self::build_with_metrics(definition, config, Metrics::new()).await
    }

    /// Like [`Application::build`], reporting into `metrics` (to share one
    /// registry with other components of the process).
    pub async fn build_with_metrics(
        definition: ServiceDefinition,
        config: ServiceConfig,
        metrics: Metrics,
    ) -> Result<Application, StartError> {
        let kafka = KafkaSources::new(config.bus.clone());
        Self::build_with_source(definition, config, metrics, &kafka).await
    }

    /// Like [`Application::build_with_metrics`], consuming through the
    /// transport `sources` makes (the others use Kafka, [`KafkaSources`]).
    /// Only consumption changes: the store, the registry and the outbox
    /// relay, which publishes emitted events to Kafka, stay as they are.
    pub async fn build_with_source(
        definition: ServiceDefinition,
        config: ServiceConfig,
        metrics: Metrics,
        sources: &dyn SourceFactory,
    ) -> Result<Application, StartError> {
        config.validate()?;
        check_definition(&definition)?;
        let ServiceDefinition {
            name,
            tables,
            consumes,
            projector,
            routes,
            tasks,
        } = definition;

        let store = open_store(&config.views, name, &tables)
            .await
            .map_err(|source| StartError::Store {
                service: name.to_owned(),
                source,
            })?;
        tracing::info!(service = name, store = store.describe(), "view store open");

        let registry =
            RegistryClient::new(&config.bus.registry_url, RegistryClientConfig::default())
                .map_err(StartError::Registry)?;
        let codec = EventCodec::new(registry);
        // Every contract schema, not only the ones this service emits: a
        // rejected schema anywhere means this build disagrees with the
        // registry, and the caches make later encodes local.
        codec
            .register_catalog()
            .await
            .map_err(StartError::Schemas)?;

        let producer = RawProducer::connect(&config.bus, metrics.clone())
            .await
            .map_err(StartError::Producer)?;
        let context = ServiceContext::new(name, store.clone(), codec.clone(), metrics.clone());

        let source = match projector {
            Some(projector) if !consumes.is_empty() => {
                let group = group_id(name);
                let handler = ProjectionHandler {
                    context: context.clone(),
                    projector,
                    group: group.clone(),
                    conflict_retry_limit: config.conflict_retry_limit,
                };
                let parts = SourceParts {
                    group,
                    topics: consumes.iter().map(|t| (*t).to_owned()).collect(),
                    codec,
                    handler: Arc::new(handler),
                    metrics: metrics.clone(),
                };
                Some(sources.create(parts).await?)
            }
            _ => None,
        };
        let readiness = Readiness::new(source.as_ref().map(|s| s.probe()));
        let relay = OutboxRelay {
            service: name,
            store,
            producer,
            settings: config.outbox.clone(),
            wake: context.relay_wake().clone(),
            metrics: metrics.clone(),
            readiness: readiness.clone(),
        };

        let routes = routes.map(|build| build(context.clone()));
        let router = service_router(routes, readiness.clone(), metrics, config.http_body_limit);
        let listener = TcpListener::bind(config.http_listen)
            .await
            .map_err(|source| StartError::Bind {
                address: config.http_listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            address: config.http_listen,
            source,
        })?;
        tracing::info!(
            service = name,
            http = %local_addr,
            consumes = ?consumes,
            transport = source.as_ref().map(|s| s.transport()),
            "service built"
        );
        Ok(Application {
            name,
            context,
            listener,
            local_addr,
            router,
            source,
            relay,
            tasks,
            readiness,
            shutdown_deadline: config.shutdown_deadline,
        })
    }

    /// The service's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The bound HTTP address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The context routes and tasks get (store, clock, metrics, commit).
    pub fn context(&self) -> &ServiceContext {
        &self.context
    }

    /// The process's metrics.
    pub fn metrics(&self) -> &Metrics {
        self.context.metrics()
    }

    /// The full HTTP router as served (for in-process tests with `oneshot`).
    pub fn router(&self) -> Router {
        self.router.clone()
    }
}

/// Rejects definitions that cannot work, before anything is opened.
fn check_definition(definition: &ServiceDefinition) -> Result<(), StartError> {
    let fail = |detail: &str| {
        Err(StartError::Definition {
            service: definition.name.to_owned(),
            detail: detail.to_owned(),
        })
    };
    let name_ok = !definition.name.is_empty()
        && definition
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return fail("the name must be non-empty lowercase letters, digits and `_`");
    }
    if !definition.consumes.is_empty() && definition.projector.is_none() {
        return fail("it consumes topics but has no projector");
    }
    if definition.consumes.is_empty() && definition.projector.is_some() {
        return fail("it has a projector but consumes no topics");
    }
    Ok(())
}
