//! The all-or-nothing reservation decision for a placed order.

use std::collections::BTreeMap;

use tributary_contracts::events::{OrderLine, ReservedLine, StockShortfall};

use super::{StockLevel, validate_sku};

/// Why a placed order was not reserved: the stable code carried in
/// `StockRejected.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The order has no lines.
    NoLines,
    /// More distinct SKUs than the configured maximum.
    TooManyLines,
    /// A line's quantity is not positive, or a SKU's total overflows.
    InvalidQuantity,
    /// A SKU is malformed or was never stocked.
    UnknownSku,
    /// Some SKU has fewer units available than requested.
    InsufficientStock,
    /// The order total does not fit in 64-bit cents.
    AmountOverflow,
    /// The order was cancelled before it could be reserved (a late
    /// `OrderPlaced`, see the crate docs on saga races).
    OrderCancelled,
}

impl RejectReason {
    /// The code carried in `StockRejected.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NoLines => "no_lines",
            RejectReason::TooManyLines => "too_many_lines",
            RejectReason::InvalidQuantity => "invalid_quantity",
            RejectReason::UnknownSku => "unknown_sku",
            RejectReason::InsufficientStock => "insufficient_stock",
            RejectReason::AmountOverflow => "amount_overflow",
            RejectReason::OrderCancelled => "order_cancelled",
        }
    }
}

/// What to do with a placed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveDecision {
    /// Hold every line: write these stock levels (one per SKU) and the reservation.
    Reserve {
        stock: Vec<StockLevel>,
        lines: Vec<ReservedLine>,
        total_cents: i64,
    },
    /// Hold nothing.
    Reject {
        reason: RejectReason,
        shortfalls: Vec<StockShortfall>,
    },
}

/// An order's lines with duplicate SKUs merged, in SKU order (so the stock
/// rows of an order are always read and written in the same order).
pub type Demand = BTreeMap<String, i32>;

/// Merges duplicate SKUs and checks the shape of the lines, before any stock
/// is read. Fails with the rejection to emit.
pub fn aggregate_lines(lines: &[OrderLine], max_skus: usize) -> Result<Demand, ReserveDecision> {
    let reject = |reason, shortfalls| ReserveDecision::Reject { reason, shortfalls };
    if lines.is_empty() {
        return Err(reject(RejectReason::NoLines, Vec::new()));
    }
    let invalid: Vec<StockShortfall> = lines
        .iter()
        .filter(|line| line.quantity <= 0)
        .map(|line| shortfall(&line.sku, line.quantity, 0))
        .collect();
    if !invalid.is_empty() {
        return Err(reject(RejectReason::InvalidQuantity, invalid));
    }
    let malformed: Vec<StockShortfall> = lines
        .iter()
        .filter(|line| validate_sku(&line.sku).is_err())
        .map(|line| shortfall(&line.sku, line.quantity, 0))
        .collect();
    if !malformed.is_empty() {
        return Err(reject(RejectReason::UnknownSku, malformed));
    }
    let mut demand = Demand::new();
    for line in lines {
        let total = demand.entry(line.sku.clone()).or_insert(0);
        match total.checked_add(line.quantity) {
            Some(sum) => *total = sum,
            None => {
                return Err(reject(
                    RejectReason::InvalidQuantity,
                    vec![shortfall(&line.sku, i32::MAX, 0)],
                ));
            }
        }
        if demand.len() > max_skus {
            return Err(reject(RejectReason::TooManyLines, Vec::new()));
        }
    }
    Ok(demand)
}

/// Decides whether `demand` can be held against `stock` (the current level
/// of each demanded SKU; absent = never stocked). All lines or none: any
/// unknown SKU or shortfall rejects the whole order.
pub fn decide_reservation(
    demand: &Demand,
    stock: &BTreeMap<String, StockLevel>,
) -> ReserveDecision {
    let mut unknown = Vec::new();
    let mut short = Vec::new();
    for (sku, &requested) in demand {
        match stock.get(sku) {
            None => unknown.push(shortfall(sku, requested, 0)),
            Some(level) if level.available < i64::from(requested) => {
                short.push(shortfall(sku, requested, clamp_i32(level.available)));
            }
            Some(_) => {}
        }
    }
    if !unknown.is_empty() {
        unknown.extend(short);
        return ReserveDecision::Reject {
            reason: RejectReason::UnknownSku,
            shortfalls: unknown,
        };
    }
    if !short.is_empty() {
        return ReserveDecision::Reject {
            reason: RejectReason::InsufficientStock,
            shortfalls: short,
        };
    }

    let mut held = Vec::with_capacity(demand.len());
    let mut lines = Vec::with_capacity(demand.len());
    let mut total_cents: i64 = 0;
    for (sku, &quantity) in demand {
        // Present and sufficient: checked above.
        let Some(level) = stock.get(sku) else {
            return reject_unknown(sku, quantity);
        };
        let line_total = level.price_cents.checked_mul(i64::from(quantity));
        match line_total.and_then(|t| total_cents.checked_add(t)) {
            Some(sum) => total_cents = sum,
            None => {
                return ReserveDecision::Reject {
                    reason: RejectReason::AmountOverflow,
                    shortfalls: Vec::new(),
                };
            }
        }
        match level.hold(i64::from(quantity)) {
            Ok(next) => held.push(next),
            Err(_) => {
                return ReserveDecision::Reject {
                    reason: RejectReason::InsufficientStock,
                    shortfalls: vec![shortfall(sku, quantity, clamp_i32(level.available))],
                };
            }
        }
        lines.push(ReservedLine {
            sku: sku.clone(),
            quantity,
            unit_price_cents: level.price_cents,
        });
    }
    ReserveDecision::Reserve {
        stock: held,
        lines,
        total_cents,
    }
}

fn reject_unknown(sku: &str, quantity: i32) -> ReserveDecision {
    ReserveDecision::Reject {
        reason: RejectReason::UnknownSku,
        shortfalls: vec![shortfall(sku, quantity, 0)],
    }
}

fn shortfall(sku: &str, requested: i32, available: i32) -> StockShortfall {
    StockShortfall {
        sku: sku.to_owned(),
        requested,
        available,
    }
}

/// Stock counts are 64-bit in the view but 32-bit in the contract.
fn clamp_i32(value: i64) -> i32 {
    i32::try_from(value.max(0)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StockLimits;

    const LIMITS: StockLimits = StockLimits {
        max_add_quantity: i64::MAX,
        max_price_cents: i64::MAX,
        max_on_hand: i64::MAX,
    };

    fn line(sku: &str, quantity: i32) -> OrderLine {
        OrderLine {
            sku: sku.into(),
            quantity,
        }
    }

    fn stock(entries: &[(&str, i64, i64)]) -> BTreeMap<String, StockLevel> {
        entries
            .iter()
            .map(|&(sku, available, price)| {
                let level = StockLevel::empty(sku)
                    .add(available, price, &LIMITS)
                    .expect("valid");
                (sku.to_owned(), level)
            })
            .collect()
    }

    fn rejected(decision: &ReserveDecision) -> Option<(RejectReason, &[StockShortfall])> {
        match decision {
            ReserveDecision::Reject { reason, shortfalls } => Some((*reason, shortfalls)),
            ReserveDecision::Reserve { .. } => None,
        }
    }

    #[test]
    fn duplicate_skus_are_merged_in_sku_order() {
        let demand =
            aggregate_lines(&[line("b", 1), line("a", 2), line("b", 3)], 10).expect("valid");
        assert_eq!(
            demand.into_iter().collect::<Vec<_>>(),
            vec![("a".into(), 2), ("b".into(), 4)]
        );
    }

    #[test]
    fn malformed_orders_are_rejected_before_reading_stock() {
        let reason = |lines: &[OrderLine], max| match aggregate_lines(lines, max) {
            Err(ReserveDecision::Reject { reason, .. }) => Some(reason),
            _ => None,
        };
        assert_eq!(reason(&[], 10), Some(RejectReason::NoLines));
        assert_eq!(
            reason(&[line("a", 0)], 10),
            Some(RejectReason::InvalidQuantity)
        );
        assert_eq!(
            reason(&[line("a", -3)], 10),
            Some(RejectReason::InvalidQuantity)
        );
        assert_eq!(
            reason(&[line("a", i32::MAX), line("a", 1)], 10),
            Some(RejectReason::InvalidQuantity)
        );
        assert_eq!(
            reason(&[line("a b", 1)], 10),
            Some(RejectReason::UnknownSku)
        );
        assert_eq!(
            reason(&[line("a", 1), line("b", 1), line("c", 1)], 2),
            Some(RejectReason::TooManyLines)
        );
        assert_eq!(
            reason(&[line("a", 1), line("a", 1)], 1),
            None,
            "duplicates count once"
        );
    }

    #[test]
    fn reserves_every_line_with_prices_and_total() {
        let demand =
            aggregate_lines(&[line("a", 2), line("b", 1), line("a", 1)], 10).expect("valid");
        let decision = decide_reservation(&demand, &stock(&[("a", 5, 100), ("b", 1, 250)]));
        let ReserveDecision::Reserve {
            stock,
            lines,
            total_cents,
        } = decision
        else {
            panic!("expected a reservation, got {decision:?}");
        };
        assert_eq!(total_cents, 3 * 100 + 250);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (
                lines[0].sku.as_str(),
                lines[0].quantity,
                lines[0].unit_price_cents
            ),
            ("a", 3, 100)
        );
        assert_eq!((stock[0].available, stock[0].reserved), (2, 3));
        assert_eq!((stock[1].available, stock[1].reserved), (0, 1));
    }

    #[test]
    fn one_short_line_rejects_the_whole_order() {
        let demand = aggregate_lines(&[line("a", 1), line("b", 2)], 10).expect("valid");
        let decision = decide_reservation(&demand, &stock(&[("a", 5, 100), ("b", 1, 250)]));
        let (reason, shortfalls) = rejected(&decision).expect("rejected");
        assert_eq!(reason, RejectReason::InsufficientStock);
        assert_eq!(shortfalls, [shortfall("b", 2, 1)]);
    }

    #[test]
    fn unknown_skus_win_over_shortfalls_and_list_both() {
        let demand = aggregate_lines(&[line("a", 9), line("zzz", 1)], 10).expect("valid");
        let decision = decide_reservation(&demand, &stock(&[("a", 5, 100)]));
        let (reason, shortfalls) = rejected(&decision).expect("rejected");
        assert_eq!(reason, RejectReason::UnknownSku);
        assert_eq!(shortfalls, [shortfall("zzz", 1, 0), shortfall("a", 9, 5)]);
    }

    #[test]
    fn totals_that_overflow_are_rejected_not_wrapped() {
        let demand = aggregate_lines(&[line("a", 3)], 10).expect("valid");
        let decision = decide_reservation(&demand, &stock(&[("a", 5, i64::MAX / 2)]));
        assert_eq!(
            rejected(&decision).map(|r| r.0),
            Some(RejectReason::AmountOverflow)
        );
    }

    #[test]
    fn shortfall_counts_are_clamped_to_the_contract_range() {
        assert_eq!(clamp_i32(i64::MAX), i32::MAX);
        assert_eq!(clamp_i32(-5), 0);
        assert_eq!(clamp_i32(7), 7);
    }
}
