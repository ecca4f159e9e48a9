//! Tributary's event contracts.
//!
//! The Avro schemas under `schemas/<topic>/<Record>.avsc` are the source of
//! truth; `build.rs` turns them into the Rust types in [`events`]. This crate
//! does no I/O: it knows how to frame, encode, decode and compare schemas, and
//! leaves talking to brokers and registries to `tributary-bus` and
//! `tributary-registry`.

pub mod asyncapi;
mod codec;
mod compatibility;
mod envelope;
mod error;
mod event;
mod framing;
mod history;
mod serde_uuid;
mod support;
mod topic;

/// The types generated from `schemas/` by `build.rs`.
///
/// One struct per Avro record (event records and the records nested in
/// them), one enum per Avro enum, `impl Event` for every event record, the
/// [`events::AnyEvent`] enum over all of them, and the [`CATALOG`] and
/// [`TOPICS`] tables. The envelope is the hand-written [`Envelope`].
pub mod events {
    include!(concat!(env!("OUT_DIR"), "/events.rs"));
}

pub use codec::{decode_body, encode_body};
pub use compatibility::{CompatibilityLevel, check_compatibility, parse_schema};
pub use envelope::{Envelope, derived_event_id};
pub use error::ContractError;
pub use event::{Event, EventDescriptor, subject_name};
pub use events::{CATALOG, TOPICS};
pub use framing::{FRAME_HEADER_LEN, MAGIC_BYTE, frame, frame_into, unframe};
pub use history::check_history;
pub use topic::{TopicSpec, event_descriptor, topic_spec};
