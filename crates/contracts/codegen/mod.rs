//! The contracts code generator, run by `build.rs`.
//!
//! 1. [`contracts::read_tree`] reads `schemas/topics.toml` and every `.avsc`;
//!    [`contracts::validate`] parses each into the supported Avro subset
//!    ([`avro`]) and checks the cross-file rules (no I/O, so the crate's tests
//!    drive it with in-memory trees).
//! 2. [`emit_events`] writes `$OUT_DIR/events.rs` (included by `src/lib.rs`
//!    as `pub mod events`).
//! 3. [`emit_strategies`] writes `$OUT_DIR/strategies.rs` (included by the
//!    property tests).

pub mod avro;
pub mod config;
pub mod contracts;
pub mod emit_events;
pub mod emit_strategies;
pub mod envelope;
pub mod names;
pub mod rust_types;

use std::{
    env, fs,
    path::{Path, PathBuf},
};

pub fn run() -> Result<(), String> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let schemas_dir = manifest_dir.join("../../schemas");
    let schemas_dir = schemas_dir
        .canonicalize()
        .map_err(|e| format!("cannot find {}: {e}", schemas_dir.display()))?;
    watch(&schemas_dir);

    let contracts = contracts::validate(&contracts::read_tree(&schemas_dir)?)?;
    write(
        &out_dir.join("events.rs"),
        &emit_events::generate(&contracts)?,
    )?;
    write(
        &out_dir.join("strategies.rs"),
        &emit_strategies::generate(&contracts)?,
    )?;
    Ok(())
}

fn env_path(name: &str) -> Result<PathBuf, String> {
    env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("cargo did not set {name}"))
}

/// Re-run when anything under `schemas/` changes (cargo scans a watched
/// directory recursively) or the generator itself changes.
fn watch(schemas_dir: &Path) {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=codegen");
    println!("cargo:rerun-if-changed={}", schemas_dir.display());
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
