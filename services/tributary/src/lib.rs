//! The `tributary` command: the platform supervisor (`up`), the service
//! runner (`run <service>`) and the operator and developer commands.

pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod load;
pub mod ops;
pub mod supervisor;
