//! Operator commands' library: consumer groups and offset resets, replay of
//! topic ranges, dead-letter topics and saga inspection. The `commands`
//! layer only parses arguments and renders results; everything that talks
//! to the broker, the registry or a service is here, so tests drive it
//! directly.
//!
//! Every operation validates its whole input before changing anything: a
//! bad target, an unknown group or topic, an active group or a malformed
//! DLQ record is an [`OpsError`] and nothing has moved.

mod cluster;
pub mod dlq;
mod error;
pub mod groups;
pub mod progress;
pub mod reader;
pub mod rebuild;
pub mod replay;
pub mod sagas;
pub mod seek;
pub mod time;

pub use cluster::{Cluster, GroupInfo, MemberInfo, REQUEST_TIMEOUT, TopicInfo};
pub use error::OpsError;
pub use tributary_bus::assignment::parse_assignment;
