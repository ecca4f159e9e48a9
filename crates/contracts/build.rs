//! Generates the Rust side of the contracts from `schemas/` (repository root).
//!
//! Our own generator rather than a third-party one: the output has to follow
//! this crate's conventions (the hand-written `Envelope`, the `Event` trait,
//! the event catalogue, serde adapters that make apache-avro write standard
//! Avro) and every schema rule we enforce is checked here, at build time, so a
//! bad schema never becomes a run-time surprise. See `codegen/mod.rs`.

mod codegen;

fn main() {
    if let Err(error) = codegen::run() {
        eprintln!("error: invalid contracts in schemas/: {error}");
        std::process::exit(1);
    }
}
