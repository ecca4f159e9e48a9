//! Tests against a real embedded view store: the projector fed `Received`
//! values, the sweeper, and the HTTP API through `oneshot`.

mod api;
mod projector;
mod support;
mod sweeper;
