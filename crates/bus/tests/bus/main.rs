//! Integration tests of the Kafka runtime against a real tansu broker and a
//! real schema registry, both on ephemeral ports. One binary, one broker and
//! registry per test, random topic and group names.

mod failures;
mod groups;
mod helpers;
mod producer;
mod raw;
