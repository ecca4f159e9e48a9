//! The saga decisions: what a consumed event or an expired timeout does to
//! an order, and which terminal event that publishes.

use tributary_contracts::{
    Envelope, derived_event_id,
    events::{AnyEvent, CancellationReason, OrderCancelled, OrderConfirmed},
};
use uuid::Uuid;

use super::{
    order::{Order, OrderStatus},
    saga_event::SagaEvent,
};

/// `producer` of the events this service emits.
pub const PRODUCER: &str = "orders";
/// Reaction step of a confirmation (`OrderConfirmed` caused by `PaymentAuthorized`).
pub const STEP_CONFIRM: &str = "orders.confirm";
/// Reaction step of a cancellation caused by `StockRejected` or `PaymentDeclined`.
pub const STEP_CANCEL: &str = "orders.cancel";
/// Step of the timeout cancellation, derived from the order id (there is no
/// causing event), so every replica's sweeper computes the same event id.
pub const STEP_TIMEOUT: &str = "orders.timeout";

/// Why an event cannot be applied now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The event is about an order whose `OrderPlaced` has not been consumed
    /// yet. The saga's events travel on three topics, so the inventory's or
    /// payments' reaction can overtake the placement on the way here; the
    /// event is retried later (through the retry topic) when the placement
    /// has most likely arrived.
    #[error(
        "{event_type} {event_id} is about order {order_id}, whose order.placed has not been consumed yet"
    )]
    UnknownOrder {
        order_id: Uuid,
        event_type: &'static str,
        event_id: Uuid,
    },
}

/// What a decision did, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The placement created the order.
    Created,
    /// Facts were merged (a step, a reservation's prices); the status is unchanged.
    Updated,
    /// Nothing changed (a duplicate, or an event already reflected).
    Unchanged,
    /// This event decided the saga: the order became terminal and the
    /// terminal event is emitted.
    Decided(OrderStatus),
    /// The order adopted a terminal event published for it, which it did
    /// not decide itself in this view (a rebuild replaying history, where
    /// `previous` may even differ: the published event is what the rest of
    /// the system acted upon, so it wins).
    Adopted { previous: OrderStatus },
    /// The order was already decided by this very event, but the terminal
    /// event may not have reached the outbox (a partially applied write on
    /// the ScyllaDB backend): it is emitted again with the same id, which
    /// downstream deduplication collapses.
    Resumed,
    /// An outcome that came too late: the order was already terminal, so the
    /// event is only recorded in the timeline.
    Late,
}

/// The result of [`decide`].
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The order's new row, when it changes.
    pub next: Option<Order>,
    /// The terminal event to publish, at most one.
    pub emit: Option<AnyEvent>,
    pub transition: Transition,
}

/// Applies a consumed saga event to the order it is about.
///
/// - `OrderPlaced` creates the order (PENDING); a second placement of a known
///   order changes nothing but its latest step.
/// - `StockReserved` records the reservation's prices and total.
/// - While PENDING, `StockRejected` and `PaymentDeclined` cancel and
///   `PaymentAuthorized` confirms, emitting `OrderCancelled` /
///   `OrderConfirmed` with an id derived from the cause.
/// - Once terminal, the status never changes again: late outcomes are
///   [`Transition::Late`]. Only the order's own published terminal event is
///   authoritative ([`Transition::Adopted`]).
/// - Every event moves `last_step` forward if it is later than it.
///
/// `now_ms` becomes the emitted event's time. It never goes into the row, so
/// replaying the same events always yields the same rows.
pub fn decide(
    current: Option<&Order>,
    event: SagaEvent<'_>,
    now_ms: i64,
) -> Result<Decision, DomainError> {
    let Some(order) = current else {
        return match event {
            SagaEvent::Placed(placed) => Ok(Decision {
                next: Some(Order::placed(placed)),
                emit: None,
                transition: Transition::Created,
            }),
            other => Err(DomainError::UnknownOrder {
                order_id: other.order_id(),
                event_type: other.event_type(),
                event_id: other.envelope().event_id,
            }),
        };
    };

    let mut next = order.clone();
    next.merge_step(event.step());
    let pending = order.status == OrderStatus::Pending;
    let cause = event.envelope();
    let emitted_at = now_ms.max(cause.occurred_at);
    let mut emit = None;
    let mut transition = None;

    match event {
        SagaEvent::Placed(_) | SagaEvent::Released(_) | SagaEvent::Refunded(_) => {}
        SagaEvent::Reserved(reserved) => {
            next.reserved_cents = Some(reserved.total_cents);
            for line in &mut next.lines {
                if let Some(priced) = reserved.lines.iter().find(|r| r.sku == line.sku) {
                    line.unit_price_cents = Some(priced.unit_price_cents);
                }
            }
        }
        SagaEvent::Rejected(rejected) if pending => {
            let envelope = Envelope::caused_by(cause, STEP_CANCEL, PRODUCER, emitted_at);
            let cancelled = cancel(
                &mut next,
                envelope,
                CancellationReason::StockRejected,
                Some(rejected.reason.clone()),
            );
            emit = Some(AnyEvent::OrderCancelled(cancelled));
            transition = Some(Transition::Decided(OrderStatus::Cancelled));
        }
        SagaEvent::Declined(declined) if pending => {
            let envelope = Envelope::caused_by(cause, STEP_CANCEL, PRODUCER, emitted_at);
            let cancelled = cancel(
                &mut next,
                envelope,
                CancellationReason::PaymentDeclined,
                Some(declined.reason.clone()),
            );
            emit = Some(AnyEvent::OrderCancelled(cancelled));
            transition = Some(Transition::Decided(OrderStatus::Cancelled));
        }
        SagaEvent::Authorized(authorized) if pending => {
            let envelope = Envelope::caused_by(cause, STEP_CONFIRM, PRODUCER, emitted_at);
            let confirmed = confirm(&mut next, envelope, authorized.amount_cents);
            emit = Some(AnyEvent::OrderConfirmed(confirmed));
            transition = Some(Transition::Decided(OrderStatus::Confirmed));
        }
        SagaEvent::Rejected(_) | SagaEvent::Declined(_) | SagaEvent::Authorized(_) => {
            let step = if matches!(event, SagaEvent::Authorized(_)) {
                STEP_CONFIRM
            } else {
                STEP_CANCEL
            };
            if order.terminal_event_id == Some(derived_event_id(cause.event_id, step)) {
                emit = terminal_event(order, cause, step);
                transition = Some(Transition::Resumed);
            } else {
                transition = Some(Transition::Late);
            }
        }
        SagaEvent::Confirmed(confirmed) => {
            next.status = OrderStatus::Confirmed;
            next.reason = None;
            next.detail = None;
            next.charged_cents = Some(confirmed.total_cents);
            adopt(&mut next, &confirmed.envelope);
            if order.terminal_event_id != Some(confirmed.envelope.event_id) {
                transition = Some(Transition::Adopted {
                    previous: order.status,
                });
            }
        }
        SagaEvent::Cancelled(cancelled) => {
            next.status = OrderStatus::Cancelled;
            next.reason = Some(cancelled.reason);
            next.detail.clone_from(&cancelled.detail);
            next.charged_cents = None;
            adopt(&mut next, &cancelled.envelope);
            if order.terminal_event_id != Some(cancelled.envelope.event_id) {
                transition = Some(Transition::Adopted {
                    previous: order.status,
                });
            }
        }
    }

    let changed = next != *order;
    let transition = transition.unwrap_or(if changed {
        Transition::Updated
    } else {
        Transition::Unchanged
    });
    Ok(Decision {
        next: changed.then_some(next),
        emit,
        transition,
    })
}

/// What the saga-timeout sweeper does with one pending-index entry.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeoutAction {
    /// Still within the timeout.
    NotDue,
    /// Cancel with reason TIMEOUT and publish `event`.
    Cancel {
        next: Box<Order>,
        event: OrderCancelled,
    },
    /// The timeout already cancelled the order, but its event may not have
    /// reached the outbox (partial write on ScyllaDB): publish it again.
    Reemit(OrderCancelled),
    /// The order is terminal; only the stale index entry remains to remove.
    Clear,
}

/// The timeout decision for `order` at `now_ms`.
///
/// Due when `placed_at + timeout_ms <= now_ms`. The emitted event's id is
/// `derived_event_id(order id, "orders.timeout")`, the same on every replica,
/// so two sweepers racing on one order produce one event at most (and the
/// version check on the order row decides between a timeout and a
/// concurrent confirmation).
pub fn decide_timeout(order: &Order, now_ms: i64, timeout_ms: i64) -> TimeoutAction {
    let event_id = timeout_event_id(order.id);
    if order.status.is_terminal() {
        return if order.terminal_event_id == Some(event_id) {
            let mut event = timeout_event(order, order.decided_at.unwrap_or(now_ms), timeout_ms);
            event.detail.clone_from(&order.detail);
            TimeoutAction::Reemit(event)
        } else {
            TimeoutAction::Clear
        };
    }
    if order.placed_at.saturating_add(timeout_ms) > now_ms {
        return TimeoutAction::NotDue;
    }
    let mut next = order.clone();
    let event = timeout_event(order, now_ms.max(order.placed_at), timeout_ms);
    next.status = OrderStatus::Cancelled;
    next.reason = Some(CancellationReason::Timeout);
    next.detail.clone_from(&event.detail);
    next.terminal_event_id = Some(event_id);
    next.decided_at = Some(event.envelope.occurred_at);
    TimeoutAction::Cancel {
        next: Box::new(next),
        event,
    }
}

/// The id of the timeout cancellation of `order_id`.
pub fn timeout_event_id(order_id: Uuid) -> Uuid {
    derived_event_id(order_id, STEP_TIMEOUT)
}

fn timeout_event(order: &Order, occurred_at: i64, timeout_ms: i64) -> OrderCancelled {
    OrderCancelled {
        envelope: Envelope {
            event_id: timeout_event_id(order.id),
            occurred_at,
            correlation_id: order.id.to_string(),
            causation_id: Some(order.placed_event_id),
            producer: PRODUCER.to_owned(),
        },
        order_id: order.id,
        customer_id: order.customer_id,
        reason: CancellationReason::Timeout,
        detail: Some(format!("no saga outcome within {timeout_ms} ms")),
    }
}

fn cancel(
    next: &mut Order,
    envelope: Envelope,
    reason: CancellationReason,
    detail: Option<String>,
) -> OrderCancelled {
    next.status = OrderStatus::Cancelled;
    next.reason = Some(reason);
    next.detail.clone_from(&detail);
    next.terminal_event_id = Some(envelope.event_id);
    next.decided_at = Some(envelope.occurred_at);
    OrderCancelled {
        envelope,
        order_id: next.id,
        customer_id: next.customer_id,
        reason,
        detail,
    }
}

fn confirm(next: &mut Order, envelope: Envelope, amount_cents: i64) -> OrderConfirmed {
    next.status = OrderStatus::Confirmed;
    next.reason = None;
    next.detail = None;
    next.charged_cents = Some(amount_cents);
    next.terminal_event_id = Some(envelope.event_id);
    next.decided_at = Some(envelope.occurred_at);
    OrderConfirmed {
        envelope,
        order_id: next.id,
        customer_id: next.customer_id,
        total_cents: amount_cents,
    }
}

/// Takes the decision fields from a published terminal event, so the row
/// says exactly what the event said (also its time, which a rebuild could
/// not reproduce otherwise).
fn adopt(next: &mut Order, envelope: &Envelope) {
    next.terminal_event_id = Some(envelope.event_id);
    next.decided_at = Some(envelope.occurred_at);
}

/// The terminal event `order` published when `cause` decided it, rebuilt
/// from the row (same id, same time), for [`Transition::Resumed`].
fn terminal_event(order: &Order, cause: &Envelope, step: &str) -> Option<AnyEvent> {
    let occurred_at = order.decided_at.unwrap_or(cause.occurred_at);
    let envelope = Envelope::caused_by(cause, step, PRODUCER, occurred_at);
    match order.status {
        OrderStatus::Pending => None,
        OrderStatus::Confirmed => Some(AnyEvent::OrderConfirmed(OrderConfirmed {
            envelope,
            order_id: order.id,
            customer_id: order.customer_id,
            total_cents: order.charged_cents.unwrap_or_default(),
        })),
        OrderStatus::Cancelled => Some(AnyEvent::OrderCancelled(OrderCancelled {
            envelope,
            order_id: order.id,
            customer_id: order.customer_id,
            reason: order.reason.unwrap_or_default(),
            detail: order.detail.clone(),
        })),
    }
}
