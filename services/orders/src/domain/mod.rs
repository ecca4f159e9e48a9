//! The order saga's decisions, free of I/O.
//!
//! [`decide`] applies one consumed saga event to an order and says which
//! terminal event to publish; [`decide_timeout`] does the same for the
//! saga timeout. The projector and the sweeper only read rows, call these and
//! turn the answer into view writes.
//!
//! Invariant 1 (every order reaches exactly one terminal state) rests on
//! three rules proven by the tests here: a decision is only taken while the
//! order is PENDING; every decision's event id is deterministic (derived from
//! its cause, or from the order id for the timeout); and the order row is
//! written with an optimistic-concurrency expectation, so of two concurrent
//! decisions on one order (a confirmation and a timeout on different
//! replicas) exactly one is applied and the other is re-decided on the
//! terminal order, where it is [`Transition::Late`].

mod decide;
mod order;
mod saga_event;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use decide::{
    Decision, DomainError, PRODUCER, STEP_CANCEL, STEP_CONFIRM, STEP_TIMEOUT, TimeoutAction,
    Transition, decide, decide_timeout, timeout_event_id,
};
pub use order::{Line, Order, OrderStatus, Step};
pub use saga_event::SagaEvent;
