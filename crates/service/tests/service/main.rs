//! Integration tests of the service runtime: the HTTP surface through
//! `oneshot` (no network), and whole applications against a real tansu
//! broker, an in-process schema registry and an embedded view store.

mod commit;
mod helpers;
mod http;
mod projection;
mod replicas;
mod startup;
