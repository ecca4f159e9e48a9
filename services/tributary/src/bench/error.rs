//! Why a benchmark could not run to the end.

use std::time::Duration;

use rdkafka::error::KafkaError;
use thiserror::Error;
use tributary_broker::BrokerError;
use tributary_bus::{AdminError, ConsumeError, EncodeError, ProduceError};
use tributary_contracts::ContractError;
use tributary_registry::{RegistryError, ServerError};
use tributary_service::StartError;
use tributary_views::ViewError;

use crate::ops::OpsError;

/// Everything that can stop a benchmark. A benchmark never reports figures
/// from a run that failed part-way; it stops with one of these instead.
#[derive(Debug, Error)]
pub enum BenchError {
    #[error("starting the benchmark broker: {0}")]
    Broker(Box<BrokerError>),
    #[error("starting the in-process schema registry: {0}")]
    RegistryServer(Box<ServerError>),
    #[error("schema registry: {0}")]
    Registry(Box<RegistryError>),
    #[error("topic administration: {0}")]
    Admin(Box<AdminError>),
    #[error("typed producer: {0}")]
    Produce(Box<ProduceError>),
    #[error("consumer group: {0}")]
    Consume(Box<ConsumeError>),
    #[error("encoding an event: {0}")]
    Encode(Box<EncodeError>),
    #[error("contract: {0}")]
    Contract(Box<ContractError>),
    #[error("raw rdkafka client ({what}): {source}")]
    Kafka {
        what: &'static str,
        #[source]
        source: Box<KafkaError>,
    },
    #[error("{codec} failed on {event}: {detail}")]
    Codec {
        codec: &'static str,
        event: &'static str,
        detail: String,
    },
    #[error("{what} did not finish within {after:?}")]
    Timeout { what: String, after: Duration },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} task failed: {detail}")]
    Task { what: &'static str, detail: String },
    #[error("the consumer child process failed: {detail}")]
    Child { detail: String },
    #[error("invalid argument `{arg}`: {detail}")]
    Argument { arg: &'static str, detail: String },
    #[error("view store: {0}")]
    Views(Box<ViewError>),
    #[error("{0}")]
    Ops(Box<OpsError>),
    #[error("starting a service in-process: {0}")]
    Service(Box<StartError>),
    #[error("{what}: the projection failed: {detail}")]
    Projection { what: &'static str, detail: String },
    #[error("HTTP ({what}): {detail}")]
    Http { what: String, detail: String },
}

impl BenchError {
    pub(crate) fn kafka(what: &'static str) -> impl FnOnce(KafkaError) -> BenchError {
        move |source| BenchError::Kafka {
            what,
            source: Box::new(source),
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let what = what.into();
        move |source| BenchError::Io { what, source }
    }
}

/// The sources are boxed to keep `Result<_, BenchError>` small; these keep
/// `?` working on them.
macro_rules! boxed_from {
    ($($variant:ident($source:ty)),* $(,)?) => {$(
        impl From<$source> for BenchError {
            fn from(source: $source) -> Self {
                BenchError::$variant(Box::new(source))
            }
        }
    )*};
}

boxed_from!(
    Broker(BrokerError),
    RegistryServer(ServerError),
    Registry(RegistryError),
    Admin(AdminError),
    Produce(ProduceError),
    Consume(ConsumeError),
    Encode(EncodeError),
    Contract(ContractError),
    Views(ViewError),
    Ops(OpsError),
    Service(StartError),
);

/// Runs `future` with an upper bound, so a stuck broker ends the benchmark
/// with an error naming the step instead of hanging it.
pub(crate) async fn bounded<F, T>(what: &str, after: Duration, future: F) -> Result<T, BenchError>
where
    F: std::future::Future<Output = Result<T, BenchError>>,
{
    match tokio::time::timeout(after, future).await {
        Ok(result) => result,
        Err(_) => Err(BenchError::Timeout {
            what: what.to_owned(),
            after,
        }),
    }
}
