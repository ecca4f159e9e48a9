//! Tests against a real embedded view store: the projector fed `Received`
//! values with the log and webhook channels, and the HTTP API.

mod api;
mod channels;
mod projector;
mod support;
