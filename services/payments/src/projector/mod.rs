//! The payments' reaction to the saga: remember the token on `OrderPlaced`,
//! authorize on `StockReserved`, refund on `OrderCancelled`.
//!
//! The provider is called from inside `project`, before the runtime commits
//! the outcome. That is safe because both provider calls are idempotent per
//! order id and the payment row is written under the version it was read
//! at: if the commit loses a race (or the process dies before it), the event
//! is projected again on the fresh row, and the state machine in
//! [`crate::domain`] decides again — it never authorizes twice, and it voids
//! an authorization whose order was cancelled in between.

use std::sync::Arc;

use async_trait::async_trait;
use tributary_bus::{HandlerError, Received};
use tributary_contracts::{
    Envelope,
    events::{
        AnyEvent, OrderCancelled, OrderPlaced, PaymentAuthorized, PaymentDeclined, PaymentRefunded,
        StockReserved,
    },
};
use tributary_service::{Clock, Effects, Projector, Versioned};
use tributary_views::{Expect, ViewError, ViewStore};
use uuid::Uuid;

use crate::{
    SERVICE,
    domain::{Payment, Step, on_order_cancelled, on_order_placed, on_stock_reserved, payment_id},
    provider::{Authorization, AuthorizationRequest, CallError, GuardedProvider, RefundRequest},
    views::{self, PAYMENTS},
};

#[cfg(test)]
mod tests;

/// Step names of the payments' reactions (they seed the emitted events' ids).
const STEP_AUTHORIZE: &str = "payments.authorize";
const STEP_REFUND: &str = "payments.refund";

/// Why a consumed event could not be handled (yet).
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("reading the payments view failed: {0}")]
    View(#[from] ViewError),
    #[error("payment provider call for order {order_id} failed: {source}")]
    Provider {
        order_id: Uuid,
        #[source]
        source: CallError,
    },
    /// `StockReserved` overtook `OrderPlaced` (different topics): the
    /// payment token is not known yet.
    #[error(
        "order {order_id} has stock reserved but its OrderPlaced (payment token) was not seen yet"
    )]
    TokenUnknown { order_id: Uuid },
    #[error("cannot encode a view row: {0}")]
    Encode(#[from] serde_json::Error),
}

impl From<ProjectionError> for HandlerError {
    /// Provider faults, an unknown token and unavailable storage pass with
    /// time (retry topic with backoff); corrupted rows never will.
    fn from(error: ProjectionError) -> Self {
        match &error {
            ProjectionError::View(ViewError::Corrupted { .. }) | ProjectionError::Encode(_) => {
                HandlerError::permanent(error)
            }
            ProjectionError::View(_)
            | ProjectionError::Provider { .. }
            | ProjectionError::TokenUnknown { .. } => HandlerError::retryable(error),
        }
    }
}

type Result<T, E = ProjectionError> = std::result::Result<T, E>;

/// The payments' [`Projector`].
#[derive(Debug)]
pub struct PaymentsProjector {
    provider: Arc<GuardedProvider>,
    clock: Arc<dyn Clock>,
}

impl PaymentsProjector {
    pub fn new(provider: Arc<GuardedProvider>, clock: Arc<dyn Clock>) -> Self {
        PaymentsProjector { provider, clock }
    }

    async fn order_placed(&self, view: &dyn ViewStore, placed: &OrderPlaced) -> Result<Effects> {
        let current = views::payment(view, placed.order_id).await?;
        match on_order_placed(current.as_ref().map(|p| &p.value)) {
            Step::Remember => {
                let row = Payment::pending(
                    placed.order_id,
                    placed.customer_id,
                    &placed.payment_token,
                    self.clock.now_ms(),
                );
                Ok(Effects::none().write(PAYMENTS.put(
                    &placed.order_id.to_string(),
                    "",
                    &row,
                    Expect::Absent,
                )?))
            }
            step => Ok(ignore(&step, placed.order_id, "OrderPlaced")),
        }
    }

    async fn stock_reserved(
        &self,
        view: &dyn ViewStore,
        reserved: &StockReserved,
    ) -> Result<Effects> {
        let order_id = reserved.order_id;
        let current = views::payment(view, order_id).await?;
        let step = on_stock_reserved(current.as_ref().map(|p| &p.value));
        let (step, current) = match (step, current) {
            (Step::AwaitToken, _) => return Err(ProjectionError::TokenUnknown { order_id }),
            (step @ (Step::Authorize { .. } | Step::Void), Some(current)) => (step, current),
            (step, _) => return Ok(ignore(&step, order_id, "StockReserved")),
        };
        if let Step::Authorize { token } = step {
            self.authorize(reserved, current, token).await
        } else {
            self.void(reserved, current).await
        }
    }

    async fn authorize(
        &self,
        reserved: &StockReserved,
        current: Versioned<Payment>,
        token: String,
    ) -> Result<Effects> {
        let order_id = reserved.order_id;
        let amount_cents = reserved.total_cents;
        let answer = self
            .provider
            .authorize(AuthorizationRequest {
                order_id,
                amount_cents,
                token,
            })
            .await
            .map_err(|source| ProjectionError::Provider { order_id, source })?;
        let now = self.clock.now_ms();
        let envelope = Envelope::caused_by(&reserved.envelope, STEP_AUTHORIZE, SERVICE, now);
        let (row, effects) = match answer {
            Authorization::Approved { reference } => {
                tracing::debug!(%order_id, amount_cents, "payment authorized");
                let row = current.value.authorized(amount_cents, &reference, now);
                let event = PaymentAuthorized {
                    envelope,
                    order_id,
                    customer_id: reserved.customer_id,
                    payment_id: payment_id(order_id),
                    amount_cents,
                    provider_reference: reference,
                };
                (row, Effects::none().emit(event))
            }
            Authorization::Declined { reason } => {
                tracing::debug!(%order_id, amount_cents, reason, "payment declined");
                let row = current.value.declined(amount_cents, &reason, now);
                let event = PaymentDeclined {
                    envelope,
                    order_id,
                    customer_id: reserved.customer_id,
                    amount_cents,
                    reason,
                };
                (row, Effects::none().emit(event))
            }
        };
        let write = PAYMENTS.put(
            &order_id.to_string(),
            "",
            &row,
            Expect::Version(current.version),
        )?;
        Ok(effects.write(write))
    }

    /// The order was cancelled before it was authorized here: make sure
    /// nothing stays held at the provider, emit nothing.
    async fn void(&self, reserved: &StockReserved, current: Versioned<Payment>) -> Result<Effects> {
        let order_id = reserved.order_id;
        self.provider
            .refund(RefundRequest {
                order_id,
                amount_cents: reserved.total_cents,
                authorization_reference: None,
            })
            .await
            .map_err(|source| ProjectionError::Provider { order_id, source })?;
        tracing::debug!(%order_id, "stock reserved for a cancelled order: not authorized, voided");
        let row = current.value.with_void(self.clock.now_ms());
        Ok(Effects::none().write(PAYMENTS.put(
            &order_id.to_string(),
            "",
            &row,
            Expect::Version(current.version),
        )?))
    }

    async fn order_cancelled(
        &self,
        view: &dyn ViewStore,
        cancelled: &OrderCancelled,
    ) -> Result<Effects> {
        let order_id = cancelled.order_id;
        let reason = cancelled.reason.as_str().to_ascii_lowercase();
        let current = views::payment(view, order_id).await?;
        let now = self.clock.now_ms();
        let key = order_id.to_string();
        match (
            on_order_cancelled(current.as_ref().map(|p| &p.value)),
            current,
        ) {
            (Step::Tombstone, _) => {
                let row = Payment::cancelled_unseen(order_id, cancelled.customer_id, &reason, now);
                Ok(Effects::none().write(PAYMENTS.put(&key, "", &row, Expect::Absent)?))
            }
            (Step::Cancel, Some(current)) => {
                let row = current.value.cancelled(&reason, now);
                Ok(Effects::none().write(PAYMENTS.put(
                    &key,
                    "",
                    &row,
                    Expect::Version(current.version),
                )?))
            }
            (Step::Refund, Some(current)) => self.refund(cancelled, current, &reason).await,
            (step, _) => Ok(ignore(&step, order_id, "OrderCancelled")),
        }
    }

    /// Compensation: give back the authorization of a cancelled order, once.
    async fn refund(
        &self,
        cancelled: &OrderCancelled,
        current: Versioned<Payment>,
        reason: &str,
    ) -> Result<Effects> {
        let order_id = cancelled.order_id;
        let amount_cents = current.value.amount_cents.unwrap_or_default();
        let refund = self
            .provider
            .refund(RefundRequest {
                order_id,
                amount_cents,
                authorization_reference: current.value.provider_reference.clone(),
            })
            .await
            .map_err(|source| ProjectionError::Provider { order_id, source })?;
        let now = self.clock.now_ms();
        tracing::debug!(%order_id, amount_cents, reason, "payment refunded");
        let row = current.value.refunded(&refund.reference, reason, now);
        let event = PaymentRefunded {
            envelope: Envelope::caused_by(&cancelled.envelope, STEP_REFUND, SERVICE, now),
            order_id,
            customer_id: cancelled.customer_id,
            payment_id: row.payment_id.unwrap_or_else(|| payment_id(order_id)),
            amount_cents,
            reason: reason.to_owned(),
        };
        Ok(Effects::none()
            .write(PAYMENTS.put(
                &order_id.to_string(),
                "",
                &row,
                Expect::Version(current.version),
            )?)
            .emit(event))
    }
}

#[async_trait]
impl Projector for PaymentsProjector {
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> std::result::Result<Effects, HandlerError> {
        let effects = match &event.event {
            AnyEvent::OrderPlaced(e) => self.order_placed(view, e).await?,
            AnyEvent::StockReserved(e) => self.stock_reserved(view, e).await?,
            AnyEvent::OrderCancelled(e) => self.order_cancelled(view, e).await?,
            // OrderConfirmed, StockAdded, StockRejected, StockReleased: nothing to pay.
            _ => Effects::none(),
        };
        Ok(effects)
    }
}

fn ignore(step: &Step, order_id: Uuid, event: &'static str) -> Effects {
    if let Step::Ignore(why) = step {
        tracing::debug!(%order_id, event, why, "saga event changes nothing");
    }
    Effects::none()
}
