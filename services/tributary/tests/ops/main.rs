//! Operator commands against a real tansu broker and an in-process schema
//! registry: group resets, replay, dead-letter topics, view rebuilds.

mod dlq;
mod groups;
mod helpers;
mod replay;
mod sagas;
mod views;
