//! HTTP tests of the whole gateway router, exactly as the runtime serves it
//! (request ids, body limit, 404/405 fallbacks from the service kit), over a
//! real embedded store, with the services behind it stubbed by tiny axum
//! servers on ephemeral ports.

mod bad_input;
mod orders;
mod support;
