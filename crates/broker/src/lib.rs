//! The embedded Kafka-protocol broker.
//!
//! On one machine Tributary stands tansu 0.6.0 in for Apache Kafka. tansu is
//! run as a child process rather than linked in: its SQLite storage bundles
//! its own SQLite, which would clash with the view store's at link time, and a
//! separate process is also what a real deployment looks like — every byte
//! goes through rdkafka over TCP.

mod error;
mod locate;
mod process;

pub use error::BrokerError;
pub use locate::{TANSU_BUILD, TANSU_VERSION, locate_tansu, tools_dir};
pub use process::{BrokerOptions, BrokerProcess, SQLITE_FILE, Storage, free_local_port};
