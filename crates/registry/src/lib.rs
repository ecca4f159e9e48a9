//! Tributary's schema registry: a Confluent-compatible REST server whose
//! state lives in a compacted Kafka topic, and the client every service uses
//! to register and fetch schemas (against ours or any Confluent-compatible
//! registry).
//!
//! Starting the server:
//!
//! ```no_run
//! # async fn run() -> Result<(), tributary_registry::ServerError> {
//! use tributary_registry::{Registry, RegistryConfig};
//! let registry = Registry::build(RegistryConfig::default()).await?;
//! println!("listening on {}", registry.local_addr());
//! registry.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod app;
mod client;
mod config;
mod error;
mod record;
mod schema;
mod server;
mod state;
mod store;
mod tailer;
mod writer;

pub use app::{Registry, ServerError};
pub use client::{CONTENT_TYPE, ClientConfig, RegistryClient, SubjectVersion};
pub use config::RegistryConfig;
pub use error::{RegistryError, codes};
pub use store::StoreError;
