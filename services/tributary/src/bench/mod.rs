//! The event-backbone benchmarks behind `tributary bench` (issue 2, item 8).
//!
//! Benchmarks are commands, not timed tests: each one starts what it needs
//! (a tansu broker with memory storage on a free port and an in-process
//! schema registry on port 0, unless pointed at existing ones), works on its
//! own random topics and groups, and prints a table or JSON.
//!
//! The machines these run on are small and shared, so absolute figures drift
//! from one minute to the next. Every comparison (ours vs raw rdkafka, Avro
//! vs JSON) is therefore measured side by side in one run: the two sides
//! alternate over several rounds and the report gives the median of the
//! per-round figures and ratios.
//!
//! - [`produce`]: `EventProducer::send` vs a raw `FutureProducer` sending the
//!   same framed bytes and headers with the same settings.
//! - [`consume`]: `ConsumerGroup` with a no-op handler vs a raw
//!   `StreamConsumer` draining the same backlog.
//! - [`codec`]: Avro (apache-avro, serde_avro_fast) vs serde_json per event type.
//! - [`rss`]: peak RSS of one consumer process draining a large backlog.
//! - [`compare`]: Kafka (tansu) against RabbitMQ, throughput, latency and
//!   behaviour, written to `docs/comparison.md`.
//! - [`views`]: the orders view's rebuild and live apply rates vs a raw
//!   read of the same topics.
//! - [`gateway`]: the gateway's `POST /v1/orders` vs a trivial axum handler.

pub mod codec;
pub mod compare;
pub mod consume;
mod cpu;
mod env;
mod error;
mod fill;
mod fixtures;
pub mod gateway;
mod handler;
pub mod produce;
mod raw_consumer;
mod report;
pub mod rss;
mod stats;
pub mod views;

pub use cpu::CpuPerEvent;
pub use env::{BenchEnv, EnvOptions};
pub use error::BenchError;
pub use fill::Backlog;
pub use fixtures::{Payload, sample_events};
pub use handler::Stalls;
pub use report::Table;
pub use stats::{median, percentile, ratio};
