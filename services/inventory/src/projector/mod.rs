//! The inventory's reaction to the saga: reserve on `OrderPlaced`, release on
//! `PaymentDeclined` / `OrderCancelled`, commit on `OrderConfirmed`.
//!
//! Every handler reads the rows it changes and writes them back under
//! `Expect::Version` (or `Expect::Absent` for new rows). Two replicas that
//! reserve the last unit of a SKU for different orders therefore conflict,
//! and the runtime re-runs the loser against the fresh view, where it sees
//! the shortfall. The decisions themselves live in [`crate::domain`].

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use tributary_bus::{HandlerError, Received};
use tributary_contracts::{
    Envelope,
    events::{
        AnyEvent, OrderCancelled, OrderConfirmed, OrderPlaced, PaymentDeclined, StockRejected,
        StockReleased, StockReserved, StockShortfall,
    },
};
use tributary_service::{Clock, Effects, Projector, Versioned};
use tributary_views::{Expect, ViewError, ViewStore, Write};
use uuid::Uuid;

use crate::{
    SERVICE,
    config::InventoryConfig,
    domain::{
        Ignored, RejectReason, Reservation, ReservationState, ReserveDecision, Step, StockError,
        StockLevel, aggregate_lines, commit_stock, decide_reservation, on_order_cancelled,
        on_order_confirmed, on_order_placed, on_payment_declined, release_stock,
    },
    views::{self, RESERVATIONS, STOCK},
};

#[cfg(test)]
mod tests;

/// Step names of the inventory's reactions (they seed the emitted events' ids).
const STEP_RESERVE: &str = "inventory.reserve";
const STEP_RELEASE: &str = "inventory.release";

/// `StockReleased.reason` when a payment was declined.
pub const RELEASE_PAYMENT_DECLINED: &str = "payment_declined";

/// Why a consumed event could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("reading the inventory view failed: {0}")]
    View(#[from] ViewError),
    #[error("stored stock contradicts order {order_id}: {source}")]
    Inconsistent {
        order_id: Uuid,
        #[source]
        source: StockError,
    },
    #[error("cannot encode a view row: {0}")]
    Encode(#[from] serde_json::Error),
}

impl From<ProjectionError> for HandlerError {
    /// Busy or unreachable stores and unclassified storage failures may pass;
    /// corrupted rows and invariant violations never will (dead-letter them
    /// for an operator rather than block the partition).
    fn from(error: ProjectionError) -> Self {
        match &error {
            ProjectionError::View(ViewError::Corrupted { .. })
            | ProjectionError::Inconsistent { .. }
            | ProjectionError::Encode(_) => HandlerError::permanent(error),
            ProjectionError::View(_) => HandlerError::retryable(error),
        }
    }
}

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// [`release_stock`] or [`commit_stock`].
type Movement = fn(
    &Reservation,
    &BTreeMap<String, StockLevel>,
) -> std::result::Result<Vec<StockLevel>, StockError>;

/// The inventory's [`Projector`].
#[derive(Debug)]
pub struct InventoryProjector {
    max_order_skus: usize,
    clock: Arc<dyn Clock>,
}

impl InventoryProjector {
    pub fn new(config: &InventoryConfig, clock: Arc<dyn Clock>) -> Self {
        InventoryProjector {
            max_order_skus: config.order_sku_limit(),
            clock,
        }
    }

    async fn order_placed(&self, view: &dyn ViewStore, placed: &OrderPlaced) -> Result<Effects> {
        let current = views::reservation(view, placed.order_id).await?;
        match on_order_placed(current.as_ref().map(|r| &r.value)) {
            Step::Reserve => self.reserve(view, placed).await,
            Step::RejectLate => {
                let version = current.map_or(Expect::Absent, |r| Expect::Version(r.version));
                self.reject(placed, RejectReason::OrderCancelled, Vec::new(), version)
            }
            step => Ok(ignore(step, placed.order_id, "OrderPlaced")),
        }
    }

    async fn reserve(&self, view: &dyn ViewStore, placed: &OrderPlaced) -> Result<Effects> {
        let demand = match aggregate_lines(&placed.lines, self.max_order_skus) {
            Ok(demand) => demand,
            Err(rejection) => return self.decided(placed, rejection, BTreeMap::new()),
        };
        let skus: Vec<&str> = demand.keys().map(String::as_str).collect();
        let rows = views::stock_of(view, &skus).await?;
        let levels: BTreeMap<String, StockLevel> = rows
            .iter()
            .map(|(sku, row)| (sku.clone(), row.value.clone()))
            .collect();
        let decision = decide_reservation(&demand, &levels);
        self.decided(placed, decision, rows)
    }

    fn decided(
        &self,
        placed: &OrderPlaced,
        decision: ReserveDecision,
        rows: BTreeMap<String, Versioned<StockLevel>>,
    ) -> Result<Effects> {
        match decision {
            ReserveDecision::Reject { reason, shortfalls } => {
                self.reject(placed, reason, shortfalls, Expect::Absent)
            }
            ReserveDecision::Reserve {
                stock,
                lines,
                total_cents,
            } => {
                let now = self.clock.now_ms();
                let reservation = Reservation::held(
                    placed.order_id,
                    placed.customer_id,
                    &lines,
                    total_cents,
                    now,
                );
                let mut effects = Effects {
                    writes: stock_writes(stock, &rows)?,
                    emit: Vec::new(),
                };
                effects.writes.push(RESERVATIONS.put(
                    &placed.order_id.to_string(),
                    "",
                    &reservation,
                    Expect::Absent,
                )?);
                tracing::debug!(order_id = %placed.order_id, total_cents, "stock reserved");
                Ok(effects.emit(StockReserved {
                    envelope: Envelope::caused_by(&placed.envelope, STEP_RESERVE, SERVICE, now),
                    order_id: placed.order_id,
                    customer_id: placed.customer_id,
                    lines,
                    total_cents,
                }))
            }
        }
    }

    fn reject(
        &self,
        placed: &OrderPlaced,
        reason: RejectReason,
        shortfalls: Vec<StockShortfall>,
        expect: Expect,
    ) -> Result<Effects> {
        let now = self.clock.now_ms();
        let row = Reservation::empty(
            placed.order_id,
            placed.customer_id,
            ReservationState::Rejected,
            reason.as_str(),
            now,
        );
        tracing::debug!(order_id = %placed.order_id, reason = reason.as_str(), "stock rejected");
        Ok(Effects::none()
            .write(RESERVATIONS.put(&placed.order_id.to_string(), "", &row, expect)?)
            .emit(StockRejected {
                envelope: Envelope::caused_by(&placed.envelope, STEP_RESERVE, SERVICE, now),
                order_id: placed.order_id,
                customer_id: placed.customer_id,
                reason: reason.as_str().to_owned(),
                shortfalls,
            }))
    }

    async fn order_cancelled(
        &self,
        view: &dyn ViewStore,
        cancelled: &OrderCancelled,
    ) -> Result<Effects> {
        let current = views::reservation(view, cancelled.order_id).await?;
        let reason = cancelled.reason.as_str().to_ascii_lowercase();
        match (
            on_order_cancelled(current.as_ref().map(|r| &r.value)),
            current,
        ) {
            (Step::Release, Some(reservation)) => {
                self.release(view, &cancelled.envelope, reservation, &reason)
                    .await
            }
            (Step::Tombstone, _) => {
                let row = Reservation::empty(
                    cancelled.order_id,
                    cancelled.customer_id,
                    ReservationState::Cancelled,
                    &reason,
                    self.clock.now_ms(),
                );
                tracing::debug!(order_id = %cancelled.order_id, "order cancelled before its reservation");
                Ok(Effects::none().write(RESERVATIONS.put(
                    &cancelled.order_id.to_string(),
                    "",
                    &row,
                    Expect::Absent,
                )?))
            }
            (step, _) => Ok(ignore(step, cancelled.order_id, "OrderCancelled")),
        }
    }

    async fn payment_declined(
        &self,
        view: &dyn ViewStore,
        declined: &PaymentDeclined,
    ) -> Result<Effects> {
        let current = views::reservation(view, declined.order_id).await?;
        match (
            on_payment_declined(current.as_ref().map(|r| &r.value)),
            current,
        ) {
            (Step::Release, Some(reservation)) => {
                self.release(
                    view,
                    &declined.envelope,
                    reservation,
                    RELEASE_PAYMENT_DECLINED,
                )
                .await
            }
            (step, _) => Ok(ignore(step, declined.order_id, "PaymentDeclined")),
        }
    }

    async fn order_confirmed(
        &self,
        view: &dyn ViewStore,
        confirmed: &OrderConfirmed,
    ) -> Result<Effects> {
        let current = views::reservation(view, confirmed.order_id).await?;
        match (
            on_order_confirmed(current.as_ref().map(|r| &r.value)),
            current,
        ) {
            (Step::Commit, Some(reservation)) => {
                let (mut writes, next) = self
                    .move_held(
                        view,
                        reservation,
                        ReservationState::Committed,
                        None,
                        commit_stock,
                    )
                    .await?;
                writes.push(next);
                tracing::debug!(order_id = %confirmed.order_id, "reservation committed");
                Ok(Effects {
                    writes,
                    emit: Vec::new(),
                })
            }
            (step, _) => Ok(ignore(step, confirmed.order_id, "OrderConfirmed")),
        }
    }

    /// Compensation: the held units return to available stock, once.
    async fn release(
        &self,
        view: &dyn ViewStore,
        cause: &Envelope,
        reservation: Versioned<Reservation>,
        reason: &str,
    ) -> Result<Effects> {
        let order_id = reservation.value.order_id;
        let lines = reservation.value.released_lines();
        let (mut writes, next) = self
            .move_held(
                view,
                reservation,
                ReservationState::Released,
                Some(reason),
                release_stock,
            )
            .await?;
        writes.push(next);
        tracing::debug!(%order_id, reason, "reservation released");
        let now = self.clock.now_ms();
        Ok(Effects {
            writes,
            emit: Vec::new(),
        }
        .emit(StockReleased {
            envelope: Envelope::caused_by(cause, STEP_RELEASE, SERVICE, now),
            order_id,
            lines,
            reason: reason.to_owned(),
        }))
    }

    /// The stock writes moving a HELD reservation's units, and the write of
    /// the reservation in its new state.
    async fn move_held(
        &self,
        view: &dyn ViewStore,
        reservation: Versioned<Reservation>,
        state: ReservationState,
        reason: Option<&str>,
        movement: Movement,
    ) -> Result<(Vec<Write>, Write)> {
        let order_id = reservation.value.order_id;
        let skus: Vec<&str> = reservation
            .value
            .lines
            .iter()
            .map(|l| l.sku.as_str())
            .collect();
        let rows = views::stock_of(view, &skus).await?;
        let levels: BTreeMap<String, StockLevel> = rows
            .iter()
            .map(|(sku, row)| (sku.clone(), row.value.clone()))
            .collect();
        let moved = movement(&reservation.value, &levels)
            .map_err(|source| ProjectionError::Inconsistent { order_id, source })?;
        let writes = stock_writes(moved, &rows)?;
        let next = reservation
            .value
            .moved_to(state, reason, self.clock.now_ms());
        let write = RESERVATIONS.put(
            &order_id.to_string(),
            "",
            &next,
            Expect::Version(reservation.version),
        )?;
        Ok((writes, write))
    }
}

#[async_trait]
impl Projector for InventoryProjector {
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> std::result::Result<Effects, HandlerError> {
        let effects = match &event.event {
            AnyEvent::OrderPlaced(e) => self.order_placed(view, e).await?,
            AnyEvent::OrderCancelled(e) => self.order_cancelled(view, e).await?,
            AnyEvent::OrderConfirmed(e) => self.order_confirmed(view, e).await?,
            AnyEvent::PaymentDeclined(e) => self.payment_declined(view, e).await?,
            // PaymentAuthorized, PaymentRefunded: nothing for the inventory.
            _ => Effects::none(),
        };
        Ok(effects)
    }
}

/// Puts each changed stock level under the version it was read at.
fn stock_writes(
    levels: Vec<StockLevel>,
    read: &BTreeMap<String, Versioned<StockLevel>>,
) -> Result<Vec<Write>> {
    levels
        .into_iter()
        .map(|level| {
            let expect = read
                .get(&level.sku)
                .map_or(Expect::Absent, |row| Expect::Version(row.version));
            Ok(STOCK.put(&level.sku, "", &level, expect)?)
        })
        .collect()
}

fn ignore(step: Step, order_id: Uuid, event: &'static str) -> Effects {
    if let Step::Ignore(Ignored { why, anomaly }) = step {
        if anomaly {
            tracing::warn!(%order_id, event, why, "saga event out of place; ignored");
        } else {
            tracing::debug!(%order_id, event, why, "saga event changes nothing");
        }
    }
    Effects::none()
}
