//! End-to-end tests: the whole platform (`tributary up` with its broker,
//! registry and every service as separate processes) through real HTTP,
//! checked with the load driver's saga invariants (ARCHITECTURE section 6).
//!
//! Each test starts its own platform on a temporary data directory and free
//! ports, and stops it when done. Platforms are heavy (a broker and eight
//! processes), so tests take turns: `TRIBUTARY_E2E_PARALLEL=n` allows more.

mod bad_input;
mod bridge;
mod dlq_redelivery;
mod faults;
mod platform;
mod redelivery;
mod replicas;
mod saga;
mod support;
