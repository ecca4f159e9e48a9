//! Consumes the saga's events (`orders`, `inventory`, `payments`) into the
//! order rows, the timeline and the pending index, and publishes each
//! order's one terminal event.

use std::sync::Arc;

use async_trait::async_trait;
use tributary_bus::{HandlerError, Received};
use tributary_service::{Clock, Effects, Projector, SystemClock};
use tributary_views::{Expect, ViewError, ViewStore};

use crate::{
    domain::{Decision, Order, OrderStatus, SagaEvent, Transition, decide},
    telemetry::{DecisionOverridden, MetricsSlot, SagaFinished},
    views::{
        CUSTOMER_ORDERS, CustomerOrder, ORDERS, PENDING, PendingOrder, TIMELINE, TimelineEntry,
        time_key,
    },
};

/// Why projecting an event failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read order {order_id}: {source}")]
    Read {
        order_id: uuid::Uuid,
        #[source]
        source: ViewError,
    },
    /// A row could not be serialized: a bug in a row type.
    #[error("cannot serialize a row of `{table}`: {source}")]
    Serialize {
        table: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The orders service's [`Projector`].
///
/// Events about an order whose `OrderPlaced` has not been consumed yet fail
/// with [`HandlerError::Retryable`]: the saga's events travel on three
/// topics, so a reservation or payment outcome can overtake the placement.
/// The bus parks the event on `<topic>.tributary.orders.retry` and delivers
/// it again after a backoff, by which time the placement has almost always
/// arrived; an event whose order never appears ends in the DLQ after the
/// retry policy's attempts.
#[derive(Debug, Clone)]
pub struct OrdersProjector {
    clock: Arc<dyn Clock>,
    metrics: MetricsSlot,
}

impl OrdersProjector {
    pub fn new(clock: Arc<dyn Clock>, metrics: MetricsSlot) -> Self {
        OrdersProjector { clock, metrics }
    }
}

impl Default for OrdersProjector {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock), MetricsSlot::default())
    }
}

#[async_trait]
impl Projector for OrdersProjector {
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> Result<Effects, HandlerError> {
        let Some(saga) = SagaEvent::from_any(&event.event) else {
            return Ok(Effects::none());
        };
        let order_id = saga.order_id();
        let key = order_id.to_string();
        let current = ORDERS
            .get(view, &key, "")
            .await
            .map_err(|source| read_failure(ProjectError::Read { order_id, source }))?;
        let decision = decide(
            current.as_ref().map(|row| &row.value),
            saga,
            self.clock.now_ms(),
        )
        .map_err(HandlerError::retryable)?;

        let mut effects = Effects::none().write(
            TimelineEntry::of(&saga)
                .append(order_id)
                .map_err(serialize_failure(TIMELINE.def().name))?,
        );

        let previous = current.as_ref().map(|row| row.value.status);
        let Decision {
            next,
            emit,
            transition,
        } = decision;
        if let Some(next) = &next {
            let expect = current
                .as_ref()
                .map_or(Expect::Absent, |row| Expect::Version(row.version));
            effects = effects.write(
                ORDERS
                    .put(&key, "", next, expect)
                    .map_err(serialize_failure(ORDERS.def().name))?,
            );
            effects = index_writes(effects, previous, next)?;
        } else if let (SagaEvent::Placed(placed), Some(row)) = (saga, &current)
            && row.value.placed_event_id == placed.envelope.event_id
        {
            // The same placement again, past the processed-event check: on
            // ScyllaDB an earlier attempt may have created the order row (a
            // conditional write) and crashed before the unconditional index
            // writes. Writing them again is idempotent and completes it.
            effects = index_writes(effects, None, &row.value)?;
        }
        if let Some(event) = emit {
            effects = effects.emit(event);
        }
        self.observe(&saga, transition, current.map(|row| row.value), next);
        Ok(effects)
    }
}

impl OrdersProjector {
    /// Logs (and counts) what the decision did.
    fn observe(
        &self,
        saga: &SagaEvent<'_>,
        transition: Transition,
        current: Option<Order>,
        next: Option<Order>,
    ) {
        let order = next.as_ref().or(current.as_ref());
        match transition {
            Transition::Adopted { previous } if previous.is_terminal() => {
                if let Some(order) = order {
                    DecisionOverridden {
                        order_id: order.id,
                        previous,
                        adopted: order.status,
                        event_id: saga.envelope().event_id,
                    }
                    .log();
                }
            }
            Transition::Late => tracing::debug!(
                order_id = %saga.order_id(),
                event_type = saga.event_type(),
                "late saga outcome recorded in the timeline only"
            ),
            _ => {}
        }
        // The order's own terminal event coming back ends its saga, once.
        if matches!(saga, SagaEvent::Confirmed(_) | SagaEvent::Cancelled(_))
            && let Some(order) = order
            && order.terminal_event_id == Some(saga.envelope().event_id)
        {
            SagaFinished { order }.emit_to(&self.metrics);
        }
    }
}

/// The customer and pending-index writes that follow an order change.
fn index_writes(
    mut effects: Effects,
    previous: Option<OrderStatus>,
    next: &Order,
) -> Result<Effects, HandlerError> {
    let pending = PendingOrder::of(next);
    match (previous, next.status) {
        (None, status) => {
            let reference = CustomerOrder {
                order_id: next.id,
                placed_at: next.placed_at,
            };
            effects = effects.write(
                CUSTOMER_ORDERS
                    .put(
                        &next.customer_id.to_string(),
                        &time_key(next.placed_at, next.id),
                        &reference,
                        Expect::Any,
                    )
                    .map_err(serialize_failure(CUSTOMER_ORDERS.def().name))?,
            );
            if !status.is_terminal() {
                effects = effects.write(
                    PENDING
                        .put(
                            &pending.bucket(),
                            &pending.clustering(),
                            &pending,
                            Expect::Any,
                        )
                        .map_err(serialize_failure(PENDING.def().name))?,
                );
            }
        }
        (Some(OrderStatus::Pending), status) if status.is_terminal() => {
            effects = effects.write(PENDING.delete(
                &pending.bucket(),
                &pending.clustering(),
                Expect::Any,
            ));
        }
        _ => {}
    }
    Ok(effects)
}

/// A store that is busy may work later; a corrupted row will not.
fn read_failure(error: ProjectError) -> HandlerError {
    match &error {
        ProjectError::Read { source, .. } if source.is_transient() => {
            HandlerError::retryable(error)
        }
        _ => HandlerError::permanent(error),
    }
}

fn serialize_failure(table: &'static str) -> impl Fn(serde_json::Error) -> HandlerError {
    move |source| HandlerError::permanent(ProjectError::Serialize { table, source })
}
