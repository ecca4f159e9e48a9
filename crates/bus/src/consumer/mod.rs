//! The consumer-group runner.
//!
//! - **Ordering and parallelism**: each assigned partition gets its own
//!   librdkafka queue and worker task; messages of one partition are handled
//!   one at a time in offset order, partitions in parallel. In-flight memory
//!   is bounded per partition, by bytes (`consumer.max_in_flight_kib_per_partition`)
//!   and by messages (`consumer.max_in_flight_per_partition`).
//! - **At least once**: an offset is stored only after its message was
//!   handled or durably routed to a failure topic (delivery report received);
//!   stored offsets are committed periodically, and synchronously after a
//!   revoke drained the affected workers and at shutdown.
//! - **Two members per runner**: the source topics and the group's retry
//!   topics are read by two members of the same group, each with its own
//!   librdkafka client and fetch loop, so a fetch for the quiet retry
//!   partitions never holds up the busy source partitions.
//! - **Failures**: a retryable handler error is first repeated in place a
//!   few times, a few milliseconds apart (`consumer.retry.in_place_attempts`,
//!   `in_place_backoff`): most are ordering races that clear by then. One
//!   that outlasts them sends the original bytes, key
//!   and headers to `<topic>.<group>.retry` with `tributary.attempt` and
//!   `tributary.retry.not_before`; this runner consumes its retry topics and
//!   waits (bounded by the max backoff, without blocking other partitions)
//!   before handling again; after `max_attempts` the event goes to
//!   `<topic>.<group>.dlq`. Undecodable payloads, unknown schema ids, unknown
//!   records and permanent handler errors go to the DLQ at once. Nothing
//!   crashes the runner or blocks a partition.

mod context;
mod failure;
mod group;
mod handler;
mod processor;
mod topics;
mod worker;

pub use group::{ConsumerGroup, GroupStatus, RunSummary};
pub use handler::{BoxError, Handler, HandlerError, RawHandler, RawReceived, Received};
pub use topics::{dlq_topic, retry_topic};
