//! Errors of the runtime, split by when they happen: committing effects,
//! starting the application, running it.

use std::{io, net::SocketAddr};

use thiserror::Error;
use tributary_bus::{AdminError, ConsumeError, EncodeError, ProduceError};
use tributary_views::ViewError;

use crate::definition::BoxError;

/// Why [`ServiceContext::commit`](crate::ServiceContext::commit) applied nothing.
#[derive(Debug, Error)]
pub enum CommitError {
    /// An emitted event could not be encoded (it violates its schema, or the
    /// registry refused or could not be reached); nothing was written.
    #[error("cannot encode an emitted event: {0}")]
    Encode(#[from] EncodeError),
    /// The view store failed; nothing was written.
    #[error(transparent)]
    View(#[from] ViewError),
}

impl CommitError {
    /// True when the same commit may succeed later (store busy or
    /// unreachable, registry unreachable), as opposed to a bug.
    pub fn is_transient(&self) -> bool {
        match self {
            CommitError::Encode(EncodeError::Registry { source, .. }) => source.is_transient(),
            CommitError::Encode(EncodeError::Contract(_)) => false,
            CommitError::View(e) => e.is_transient(),
        }
    }
}

/// Why [`Application::build`](crate::Application::build) refused to start.
#[derive(Debug, Error)]
pub enum StartError {
    /// A configuration value is unusable; `key` is its dotted path.
    #[error("invalid service configuration `{key}`: {detail}")]
    Config { key: &'static str, detail: String },
    /// The service definition is inconsistent (a bug in the service crate).
    #[error("invalid definition of service `{service}`: {detail}")]
    Definition { service: String, detail: String },
    /// The view store could not be opened.
    #[error("cannot open the view store of `{service}`: {source}")]
    Store {
        service: String,
        #[source]
        source: ViewError,
    },
    /// The registry client could not be created (bad URL).
    #[error("cannot create the schema registry client: {0}")]
    Registry(#[source] tributary_registry::RegistryError),
    /// A contract schema was rejected or the registry is unreachable; the
    /// message names the subject.
    #[error("cannot register the contract schemas: {0}")]
    Schemas(#[source] EncodeError),
    /// The broker could not be reached or the producer not created; the
    /// message names the bootstrap servers.
    #[error("cannot connect the producer: {0}")]
    Producer(#[source] ProduceError),
    /// A consumed topic is missing, or its retry/DLQ topics could not be
    /// created.
    #[error("cannot prepare the topics of group `{group}`: {source}")]
    Topics {
        group: String,
        #[source]
        source: AdminError,
    },
    /// A non-Kafka transport cannot consume for `group` (unreachable,
    /// misconfigured); the message names the setting or the address.
    #[error("cannot prepare the {transport} consumer of group `{group}`: {source}")]
    Source {
        transport: &'static str,
        group: String,
        #[source]
        source: BoxError,
    },
    /// The HTTP listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// Why [`Application::run_until`](crate::Application::run_until) ended with
/// an error. The first component to fail decides the error; the others are
/// stopped as for a normal shutdown.
#[derive(Debug, Error)]
pub enum RunError {
    /// The HTTP server failed.
    #[error("HTTP server failed: {0}")]
    Http(#[source] io::Error),
    /// The consumer group could not start or stopped abnormally.
    #[error("consumer group failed: {0}")]
    Consumer(#[source] ConsumeError),
    /// A non-Kafka consumer failed.
    #[error("{transport} consumer failed: {source}")]
    Source {
        transport: &'static str,
        #[source]
        source: BoxError,
    },
    /// A background task of the service failed.
    #[error("background task {index} failed: {source}")]
    Task {
        index: usize,
        #[source]
        source: BoxError,
    },
    /// A component stopped although nobody asked it to.
    #[error("{component} stopped unexpectedly")]
    Stopped { component: String },
    /// A component panicked.
    #[error("{component} panicked: {detail}")]
    Panicked { component: String, detail: String },
}
