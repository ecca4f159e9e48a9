//! An order's reservation and its state machine.
//!
//! ```text
//!             OrderPlaced (fits)          OrderConfirmed
//!   (none) ───────────────────────▶ HELD ───────────────▶ COMMITTED
//!     │  │                           │
//!     │  │ OrderPlaced (no fit)      │ PaymentDeclined / OrderCancelled
//!     │  └──────────▶ REJECTED       └──────────────────▶ RELEASED
//!     │                  ▲
//!     │ OrderCancelled   │ late OrderPlaced
//!     └──────▶ CANCELLED ┘
//! ```
//!
//! HELD is the only state stock is attached to, and it is left exactly once
//! (to COMMITTED or RELEASED), so a reservation is released or committed at
//! most once whatever the order and number of deliveries. Every other
//! (state, event) pair is a no-op; the pairs that the saga can never produce
//! are flagged as anomalies for the logs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tributary_contracts::events::{ReleasedLine, ReservedLine};
use uuid::Uuid;

use super::{StockError, StockLevel};

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationState {
    /// Every line is held; stock is attached.
    Held,
    /// The order was confirmed; the held units left stock.
    Committed,
    /// Compensation returned the held units to available stock.
    Released,
    /// Nothing was reserved (`StockRejected` was emitted).
    Rejected,
    /// Tombstone: the order was cancelled before it was reserved, so a late
    /// `OrderPlaced` is rejected instead of holding stock nobody would release.
    Cancelled,
}

impl ReservationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "HELD",
            ReservationState::Committed => "COMMITTED",
            ReservationState::Released => "RELEASED",
            ReservationState::Rejected => "REJECTED",
            ReservationState::Cancelled => "CANCELLED",
        }
    }
}

/// One reserved SKU of an order (duplicate SKUs merged), priced at reservation time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservationLine {
    pub sku: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
}

/// The reservation of one order, as stored in `reservations_by_order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub state: ReservationState,
    /// The held lines (empty unless the order was ever HELD).
    pub lines: Vec<ReservationLine>,
    /// Sum of quantity times unit price, in cents.
    pub total_cents: i64,
    /// Why the reservation was rejected or released, or why the order was
    /// cancelled; `None` while HELD or COMMITTED.
    pub reason: Option<String>,
    /// When the row was created, unix ms.
    pub created_at: i64,
    /// When the state last changed, unix ms.
    pub updated_at: i64,
}

impl Reservation {
    /// A HELD reservation of `lines`.
    pub fn held(
        order_id: Uuid,
        customer_id: Uuid,
        lines: &[ReservedLine],
        total_cents: i64,
        now_ms: i64,
    ) -> Self {
        Reservation {
            order_id,
            customer_id,
            state: ReservationState::Held,
            lines: lines
                .iter()
                .map(|l| ReservationLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            total_cents,
            reason: None,
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// A reservation without stock, in state `state` (REJECTED or the CANCELLED tombstone).
    pub fn empty(
        order_id: Uuid,
        customer_id: Uuid,
        state: ReservationState,
        reason: &str,
        now_ms: i64,
    ) -> Self {
        Reservation {
            order_id,
            customer_id,
            state,
            lines: Vec::new(),
            total_cents: 0,
            reason: Some(reason.to_owned()),
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// This reservation moved to `state`.
    pub fn moved_to(&self, state: ReservationState, reason: Option<&str>, now_ms: i64) -> Self {
        Reservation {
            state,
            reason: reason.map(str::to_owned),
            updated_at: now_ms,
            ..self.clone()
        }
    }

    /// The held units per SKU, merged (rows are written once per transaction).
    pub fn units_by_sku(&self) -> Result<BTreeMap<String, i64>, StockError> {
        let mut units = BTreeMap::new();
        for line in &self.lines {
            let entry: &mut i64 = units.entry(line.sku.clone()).or_default();
            *entry = entry.checked_add(i64::from(line.quantity)).ok_or_else(|| {
                StockError::Inconsistent {
                    sku: line.sku.clone(),
                    detail: "reserved quantity overflows".into(),
                }
            })?;
        }
        Ok(units)
    }

    /// The lines as `StockReleased` reports them.
    pub fn released_lines(&self) -> Vec<ReleasedLine> {
        self.lines
            .iter()
            .map(|l| ReleasedLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect()
    }
}

/// What an event does to an order's reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Decide the reservation against current stock (first `OrderPlaced`).
    Reserve,
    /// Reject without reading stock: the order was cancelled first.
    RejectLate,
    /// Return the held units to available stock.
    Release,
    /// The held units leave stock for good.
    Commit,
    /// Record the CANCELLED tombstone.
    Tombstone,
    /// Nothing changes.
    Ignore(Ignored),
}

/// Why an event changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ignored {
    /// For the logs.
    pub why: &'static str,
    /// True when the saga should never produce this combination (a bug
    /// upstream, a view rebuilt from partial data); logged as a warning.
    pub anomaly: bool,
}

const fn ignore(why: &'static str) -> Step {
    Step::Ignore(Ignored {
        why,
        anomaly: false,
    })
}

const fn anomaly(why: &'static str) -> Step {
    Step::Ignore(Ignored { why, anomaly: true })
}

/// `OrderPlaced`.
pub fn on_order_placed(current: Option<&Reservation>) -> Step {
    match current.map(|r| r.state) {
        None => Step::Reserve,
        Some(ReservationState::Cancelled) => Step::RejectLate,
        Some(_) => ignore("the order's reservation was already decided"),
    }
}

/// `OrderCancelled`: release a held reservation; remember the cancellation
/// when the order was not seen yet.
pub fn on_order_cancelled(current: Option<&Reservation>) -> Step {
    match current.map(|r| r.state) {
        None => Step::Tombstone,
        Some(ReservationState::Held) => Step::Release,
        Some(ReservationState::Committed) => anomaly("a confirmed order was cancelled"),
        Some(_) => ignore("nothing is held for the order"),
    }
}

/// `PaymentDeclined`: release a held reservation.
pub fn on_payment_declined(current: Option<&Reservation>) -> Step {
    match current.map(|r| r.state) {
        Some(ReservationState::Held) => Step::Release,
        Some(ReservationState::Released) => ignore("the reservation was already released"),
        Some(ReservationState::Cancelled | ReservationState::Rejected) => {
            ignore("nothing is held for the order")
        }
        Some(ReservationState::Committed) => {
            anomaly("a payment was declined for a confirmed order")
        }
        None => anomaly("a payment was declined for an order never reserved"),
    }
}

/// `OrderConfirmed`: the held units leave stock.
pub fn on_order_confirmed(current: Option<&Reservation>) -> Step {
    match current.map(|r| r.state) {
        Some(ReservationState::Held) => Step::Commit,
        Some(ReservationState::Committed) => ignore("the reservation was already committed"),
        Some(_) | None => anomaly("an order was confirmed without a held reservation"),
    }
}

/// The stock levels after releasing `reservation`: one per SKU, read from `stock`.
pub fn release_stock(
    reservation: &Reservation,
    stock: &BTreeMap<String, StockLevel>,
) -> Result<Vec<StockLevel>, StockError> {
    move_stock(reservation, stock, StockLevel::release)
}

/// The stock levels after committing `reservation`.
pub fn commit_stock(
    reservation: &Reservation,
    stock: &BTreeMap<String, StockLevel>,
) -> Result<Vec<StockLevel>, StockError> {
    move_stock(reservation, stock, StockLevel::commit)
}

fn move_stock(
    reservation: &Reservation,
    stock: &BTreeMap<String, StockLevel>,
    movement: fn(&StockLevel, i64) -> Result<StockLevel, StockError>,
) -> Result<Vec<StockLevel>, StockError> {
    reservation
        .units_by_sku()?
        .into_iter()
        .map(|(sku, units)| match stock.get(&sku) {
            Some(level) => movement(level, units),
            None => Err(StockError::Inconsistent {
                detail: format!(
                    "order {} holds {units} units of a SKU without a stock row",
                    reservation.order_id
                ),
                sku,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StockLimits;

    use ReservationState::*;

    fn reservation(state: ReservationState) -> Reservation {
        let lines = [
            ReservedLine {
                sku: "a".into(),
                quantity: 2,
                unit_price_cents: 100,
            },
            ReservedLine {
                sku: "b".into(),
                quantity: 1,
                unit_price_cents: 50,
            },
        ];
        Reservation::held(Uuid::from_u128(1), Uuid::from_u128(2), &lines, 250, 10)
            .moved_to(state, None, 11)
    }

    fn stock() -> BTreeMap<String, StockLevel> {
        let limits = StockLimits {
            max_add_quantity: 100,
            max_price_cents: 1_000,
            max_on_hand: 1_000,
        };
        ["a", "b"]
            .into_iter()
            .map(|sku| {
                let level = StockLevel::empty(sku)
                    .add(5, 100, &limits)
                    .and_then(|l| l.hold(if sku == "a" { 2 } else { 1 }))
                    .expect("valid");
                (sku.to_owned(), level)
            })
            .collect()
    }

    #[test]
    fn state_machine_table() {
        let states = [
            None,
            Some(Held),
            Some(Committed),
            Some(Released),
            Some(Rejected),
            Some(Cancelled),
        ];
        let rows: Vec<Option<Reservation>> = states.iter().map(|s| s.map(reservation)).collect();
        let steps = |f: fn(Option<&Reservation>) -> Step| -> Vec<Step> {
            rows.iter().map(|r| f(r.as_ref())).collect()
        };
        let is = |s: &Step, expected: Step| {
            std::mem::discriminant(s) == std::mem::discriminant(&expected)
        };
        let ignore = Step::Ignore(Ignored {
            why: "",
            anomaly: false,
        });

        let placed = steps(on_order_placed);
        assert!(is(&placed[0], Step::Reserve));
        assert!(placed[1..5].iter().all(|s| is(s, ignore)));
        assert!(is(&placed[5], Step::RejectLate));

        let cancelled = steps(on_order_cancelled);
        assert!(is(&cancelled[0], Step::Tombstone));
        assert!(is(&cancelled[1], Step::Release));
        assert!(cancelled[2..].iter().all(|s| is(s, ignore)));

        let declined = steps(on_payment_declined);
        assert!(is(&declined[1], Step::Release));
        assert!(
            declined
                .iter()
                .enumerate()
                .all(|(i, s)| i == 1 || is(s, ignore))
        );

        let confirmed = steps(on_order_confirmed);
        assert!(is(&confirmed[1], Step::Commit));
        assert!(
            confirmed
                .iter()
                .enumerate()
                .all(|(i, s)| i == 1 || is(s, ignore))
        );
    }

    #[test]
    fn held_is_left_at_most_once() {
        // After a release or commit, no event leads to another stock movement.
        for after in [Released, Committed] {
            let r = reservation(after);
            for step in [
                on_order_placed(Some(&r)),
                on_order_cancelled(Some(&r)),
                on_payment_declined(Some(&r)),
                on_order_confirmed(Some(&r)),
            ] {
                assert!(matches!(step, Step::Ignore(_)), "{after:?}: {step:?}");
            }
        }
    }

    #[test]
    fn impossible_combinations_are_flagged() {
        let anomalous = |s: Step| matches!(s, Step::Ignore(Ignored { anomaly: true, .. }));
        assert!(anomalous(on_order_confirmed(None)));
        assert!(anomalous(on_order_confirmed(Some(&reservation(Released)))));
        assert!(anomalous(on_payment_declined(None)));
        assert!(anomalous(on_order_cancelled(Some(&reservation(Committed)))));
        assert!(!anomalous(on_payment_declined(Some(&reservation(
            Released
        )))));
        assert!(!anomalous(on_order_cancelled(Some(&reservation(Rejected)))));
    }

    #[test]
    fn release_and_commit_move_every_line() {
        let r = reservation(Held);
        let released = release_stock(&r, &stock()).expect("release");
        assert_eq!(
            released
                .iter()
                .map(|s| (s.available, s.reserved))
                .collect::<Vec<_>>(),
            [(5, 0), (5, 0)]
        );
        let committed = commit_stock(&r, &stock()).expect("commit");
        assert_eq!(
            committed
                .iter()
                .map(|s| (s.available, s.reserved, s.committed))
                .collect::<Vec<_>>(),
            [(3, 0, 2), (4, 0, 1)]
        );
    }

    #[test]
    fn a_missing_stock_row_is_an_error_not_a_panic() {
        let mut stock = stock();
        stock.remove("b");
        assert!(matches!(
            release_stock(&reservation(Held), &stock),
            Err(StockError::Inconsistent { .. })
        ));
    }

    #[test]
    fn rows_round_trip_as_json_with_upper_case_states() {
        let r = reservation(Held);
        let json = serde_json::to_value(&r).expect("encodes");
        assert_eq!(json["state"], "HELD");
        let back: Reservation = serde_json::from_value(json).expect("decodes");
        assert_eq!(back, r);
    }
}
