//! Why the bridge could not start or had to stop.

/// Start-up and fatal run-time failures of the bridge. Failures of single
/// messages never end up here: they are dead-lettered and counted.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A setting cannot work.
    #[error("invalid configuration `{key}`: {message}")]
    Config { key: &'static str, message: String },
    /// The schema registry client could not be created.
    #[error("schema registry client: {0}")]
    Registry(#[from] tributary_registry::RegistryError),
    /// The Kafka producer of the ingress could not connect.
    #[error("kafka producer: {0}")]
    Producer(#[source] Box<tributary_bus::ProduceError>),
    /// The Kafka → RabbitMQ consumer group failed to start.
    #[error("kafka consumer group: {0}")]
    Consume(#[source] Box<tributary_bus::ConsumeError>),
}

impl From<tributary_bus::ProduceError> for BridgeError {
    fn from(error: tributary_bus::ProduceError) -> Self {
        BridgeError::Producer(Box::new(error))
    }
}

impl From<tributary_bus::ConsumeError> for BridgeError {
    fn from(error: tributary_bus::ConsumeError) -> Self {
        BridgeError::Consume(Box::new(error))
    }
}

/// A failed AMQP operation; the link reconnects and the operation is retried.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("rabbitmq: {0}")]
    Lapin(#[from] lapin::Error),
    /// The broker refused the message (`basic.nack`).
    #[error("rabbitmq refused the message (nack)")]
    Nacked,
    /// A name does not fit an AMQP short string (255 bytes).
    #[error("name too long for AMQP: {0} bytes")]
    NameTooLong(usize),
    /// The bridge is stopping.
    #[error("stopping")]
    Stopped,
    /// No answer from RabbitMQ in time.
    #[error("rabbitmq did not answer within {0:?}")]
    TimedOut(std::time::Duration),
}
