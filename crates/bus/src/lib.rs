//! Tributary's Kafka runtime on rdkafka.
//!
//! - [`EventProducer`]: idempotent, `acks=all`, typed sends that complete on
//!   the delivery report, CloudEvents and trace headers, backpressure on a
//!   full local queue.
//! - [`ConsumerGroup`]: a consumer-group member running a [`Handler`] with
//!   per-partition ordering, at-least-once offsets, retry and dead-letter
//!   topics, rebalance-safe draining and graceful shutdown.
//! - [`EventCodec`]: Confluent-framed Avro through a schema registry.
//! - [`headers`], [`admin`], [`BusConfig`].
//!
//! Producing and consuming:
//!
//! ```ignore
//! let config = BusConfig::new("127.0.0.1:9092", "http://127.0.0.1:8081");
//! let metrics = Metrics::new();
//! let codec = EventCodec::new(RegistryClient::new(&config.registry_url, Default::default())?);
//! codec.register_all(MY_EVENTS).await?;                 // refuse to start on a rejected schema
//! let producer = EventProducer::connect(&config, codec.clone(), metrics.clone()).await?;
//! producer.send(&order_placed).await?;                  // done = durably written
//!
//! let group = ConsumerGroup::new(config, "tributary.notifications", ["orders"], codec, Arc::new(MyHandler))
//!     .with_metrics(metrics);
//! group.run(shutdown_token).await?;
//! ```

pub mod admin;
pub mod assignment;
mod client_context;
mod codec;
mod config;
pub mod consumer;
mod error;
pub mod headers;
mod internal_events;
mod producer;

pub use codec::EventCodec;
pub use config::{BusConfig, ConsumerSettings, ProducerSettings, RetryPolicy, defaults};
pub use consumer::{
    ConsumerGroup, GroupStatus, Handler, HandlerError, RawHandler, RawReceived, Received,
    RunSummary,
};
pub use error::{
    AdminError, ConfigError, ConsumeError, DecodeError, EncodeError, ProduceError, UnreachableError,
};
pub use producer::{Delivery, EventProducer, RawProducer};
