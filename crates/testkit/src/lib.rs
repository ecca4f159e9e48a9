//! Test support shared by every crate's integration tests.
//!
//! Everything here talks to real servers: [`TestBroker`] is a tansu process
//! on an ephemeral port, reached over TCP through rdkafka like production
//! code. Each test gets its own broker or at least its own random topic and
//! group names, so tests never share state.
//!
//! This crate is for tests only, so failing loudly (panicking with a message
//! that says what to do) is the right way to report a broken environment.
#![allow(clippy::expect_used, clippy::panic)]

mod broker;
mod read;
mod wait;

pub use broker::TestBroker;
pub use read::{read_to_end, read_topic};
pub use tributary_broker::Storage;
pub use wait::{init_test_tracing, unique_name, wait_until};
