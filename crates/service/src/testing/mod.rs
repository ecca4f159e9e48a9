//! Test support shared by the service crates (cargo feature `testing`).
//!
//! Every service tests its projector and its routes the same way: a real
//! embedded view store in a temporary directory, a clock the test moves by
//! hand, events handed over as the bus would hand them, the runtime's
//! projection loop without a broker, and the router driven through
//! `oneshot`. These helpers are that common part, so the services' tests
//! keep only what is specific to them.
//!
//! Helpers here panic on failures that a test cannot recover from (the
//! temporary directory cannot be created, the store does not open, a body
//! is not JSON): the panic message names what failed, which is what a
//! failing test should report.

mod clock;
mod http;
mod received;
mod store;

pub use clock::ManualClock;
pub use http::{
    BODY_LIMIT, as_served, content_type, get_json, is_problem, post_json, read_response, send,
};
pub use received::{ReceivedBuilder, received};
pub use store::{MAX_PROJECTION_ATTEMPTS, TestStore};
