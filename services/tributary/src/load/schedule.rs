//! The plan of a load run, decided before the first request: which SKUs
//! exist with how much stock, and for every order its intended send time,
//! its customer, its lines and what it is meant to exercise.
//!
//! Everything comes from a seeded RNG, so two runs with the same options
//! send the same mix in the same order (only ids and timings differ). The
//! send times are the schedule `i / rate`, fixed in advance: the driver
//! measures latency from these times, not from when a request actually
//! left, so a stalled system cannot hide its stall (no coordinated omission).

use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::index::sample};
use serde::Serialize;

use super::client::OrderStatus;

/// Units a scarce SKU is stocked with.
const SCARCE_STOCK: u32 = 5;
/// Units a stock-rejection line asks of a scarce SKU: always more than it
/// has, whatever else happens, so the rejection is deterministic.
const SCARCE_ASK: u32 = 100;
/// Most orders one customer gets: the notifications and orders-by-customer
/// queries answer at most 200 rows, and the invariant check reads each
/// customer's in one page (with the welcome notification and headroom).
pub const MAX_ORDERS_PER_USER: usize = 150;
/// Customers created when the caller does not say: enough that each stays
/// well under the gateway's per-user rate limit and the page size above.
const MIN_AUTO_USERS: usize = 10;
const ORDERS_PER_AUTO_USER: usize = 100;

/// What an order is meant to exercise, and so the outcome it should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// In stock, good card: should be CONFIRMED.
    Normal,
    /// In stock, the simulator's decline token: CANCELLED, PAYMENT_DECLINED
    /// (after the stock release compensation).
    Decline,
    /// Plentiful lines plus one that asks a scarce SKU for more than it has:
    /// CANCELLED, STOCK_REJECTED, with nothing held (all lines or none).
    Reject,
}

impl OrderKind {
    /// The outcome the saga should reach, as `(status, reason)`.
    pub fn expected(self) -> (OrderStatus, Option<&'static str>) {
        match self {
            OrderKind::Normal => (OrderStatus::Confirmed, None),
            OrderKind::Decline => (OrderStatus::Cancelled, Some("PAYMENT_DECLINED")),
            OrderKind::Reject => (OrderStatus::Cancelled, Some("STOCK_REJECTED")),
        }
    }
}

/// One SKU of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuSpec {
    pub name: String,
    /// Units added at setup.
    pub stock: u32,
    pub price_cents: i64,
    /// Deliberately short of stock; only stock-rejection orders use it.
    pub scarce: bool,
}

/// One line of a planned order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedLine {
    /// Index into [`Plan::skus`].
    pub sku: usize,
    pub quantity: u32,
}

/// One order of the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOrder {
    /// Position in the schedule.
    pub index: usize,
    /// Intended send time, from the start of the sending phase.
    pub offset: Duration,
    /// Index of the customer placing it.
    pub user: usize,
    pub kind: OrderKind,
    pub lines: Vec<PlannedLine>,
}

/// The whole run, decided up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub skus: Vec<SkuSpec>,
    pub users: usize,
    pub orders: Vec<PlannedOrder>,
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest<'a> {
    /// Orders per second.
    pub rate: f64,
    pub duration: Duration,
    /// Customers; `None` picks enough for the order count.
    pub users: Option<usize>,
    pub skus: usize,
    pub seed: u64,
    /// Prefix of every SKU name, unique per run so runs never share stock.
    pub sku_prefix: &'a str,
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("--rate must be a positive number of orders per second, got {0}")]
    Rate(f64),
    #[error("--duration {duration:?} at --rate {rate} schedules no order")]
    NoOrders { rate: f64, duration: Duration },
    #[error("--skus must be at least 2 (one plentiful and one scarce), got {0}")]
    Skus(usize),
    #[error(
        "{orders} orders over {users} users is more than {max} per user (the notification and \
         order-list pages the invariant check reads); use --users {needed} or more"
    )]
    TooFewUsers {
        orders: usize,
        users: usize,
        max: usize,
        needed: usize,
    },
    #[error("the plan needs {needed} units of one SKU, more than one stock addition allows")]
    TooMuchStock { needed: u64 },
}

/// Decides the run. Pure: the same request gives the same plan.
pub fn plan(request: &PlanRequest<'_>) -> Result<Plan, PlanError> {
    if !(request.rate.is_finite() && request.rate > 0.0) {
        return Err(PlanError::Rate(request.rate));
    }
    if request.skus < 2 {
        return Err(PlanError::Skus(request.skus));
    }
    let count = order_count(request.rate, request.duration);
    if count == 0 {
        return Err(PlanError::NoOrders {
            rate: request.rate,
            duration: request.duration,
        });
    }
    let needed_users = count.div_ceil(MAX_ORDERS_PER_USER);
    let users = match request.users {
        Some(users) if users < needed_users => {
            return Err(PlanError::TooFewUsers {
                orders: count,
                users,
                max: MAX_ORDERS_PER_USER,
                needed: needed_users,
            });
        }
        Some(users) => users,
        None => count.div_ceil(ORDERS_PER_AUTO_USER).max(MIN_AUTO_USERS),
    };

    let mut rng = StdRng::seed_from_u64(request.seed);
    // About one SKU in ten is scarce, at least one.
    let scarce = (request.skus / 10).max(1);
    let plentiful = request.skus - scarce;
    let mut skus: Vec<SkuSpec> = (0..request.skus)
        .map(|i| SkuSpec {
            name: format!("{}-{i:03}", request.sku_prefix),
            stock: 0,
            price_cents: rng.gen_range(100..=4_900),
            scarce: i >= plentiful,
        })
        .collect();

    let mut orders = Vec::with_capacity(count);
    let mut demand = vec![0u64; request.skus];
    for index in 0..count {
        let kind = match rng.gen_range(0..100) {
            0..80 => OrderKind::Normal,
            80..90 => OrderKind::Decline,
            _ => OrderKind::Reject,
        };
        let distinct = rng.gen_range(1..=3.min(plentiful));
        let mut lines: Vec<PlannedLine> = sample(&mut rng, plentiful, distinct)
            .into_iter()
            .map(|sku| PlannedLine {
                sku,
                quantity: rng.gen_range(1..=3),
            })
            .collect();
        if kind == OrderKind::Reject {
            lines.push(PlannedLine {
                sku: plentiful + rng.gen_range(0..scarce),
                quantity: SCARCE_ASK,
            });
        }
        for line in lines.iter().filter(|l| !skus[l.sku].scarce) {
            demand[line.sku] += u64::from(line.quantity);
        }
        orders.push(PlannedOrder {
            index,
            offset: Duration::from_secs_f64(index as f64 / request.rate),
            user: index % users,
            kind,
            lines,
        });
    }
    for (sku, needed) in skus.iter_mut().zip(demand) {
        sku.stock = if sku.scarce {
            SCARCE_STOCK
        } else {
            // Every order could hold its units at once (declines hold until
            // released): stock for all of them, plus headroom, so normal
            // orders never run out and their outcome stays deterministic.
            let with_headroom = needed + needed / 10 + 10;
            u32::try_from(with_headroom).map_err(|_| PlanError::TooMuchStock {
                needed: with_headroom,
            })?
        };
    }
    Ok(Plan {
        skus,
        users,
        orders,
    })
}

/// Orders a schedule of `rate` per second sends within `duration`.
pub fn order_count(rate: f64, duration: Duration) -> usize {
    // Truncation is intended: order i goes at i / rate, inside the window.
    (rate * duration.as_secs_f64()).floor() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seed: u64) -> PlanRequest<'static> {
        PlanRequest {
            rate: 100.0,
            duration: Duration::from_secs(10),
            users: None,
            skus: 20,
            seed,
            sku_prefix: "load-t",
        }
    }

    #[test]
    fn the_schedule_is_fixed_rate_and_deterministic() {
        let plan_a = plan(&request(7)).expect("plan");
        let plan_b = plan(&request(7)).expect("plan");
        assert_eq!(plan_a, plan_b);
        assert_ne!(plan_a, plan(&request(8)).expect("plan"));
        assert_eq!(plan_a.orders.len(), 1_000);
        assert_eq!(plan_a.orders[0].offset, Duration::ZERO);
        assert_eq!(plan_a.orders[250].offset, Duration::from_millis(2_500));
        assert!(plan_a.orders.windows(2).all(|w| w[0].offset < w[1].offset));
    }

    #[test]
    fn the_mix_is_roughly_eighty_ten_ten() {
        let plan = plan(&request(1)).expect("plan");
        let share = |kind| plan.orders.iter().filter(|o| o.kind == kind).count();
        assert!((740..=860).contains(&share(OrderKind::Normal)));
        assert!((60..=140).contains(&share(OrderKind::Decline)));
        assert!((60..=140).contains(&share(OrderKind::Reject)));
    }

    #[test]
    fn only_rejections_touch_scarce_skus_and_always_ask_too_much() {
        let plan = plan(&request(3)).expect("plan");
        for order in &plan.orders {
            let scarce: Vec<_> = order
                .lines
                .iter()
                .filter(|l| plan.skus[l.sku].scarce)
                .collect();
            match order.kind {
                OrderKind::Reject => {
                    assert_eq!(scarce.len(), 1);
                    assert!(scarce[0].quantity > plan.skus[scarce[0].sku].stock);
                }
                _ => assert!(scarce.is_empty()),
            }
            let mut skus: Vec<usize> = order.lines.iter().map(|l| l.sku).collect();
            skus.sort_unstable();
            skus.dedup();
            assert_eq!(skus.len(), order.lines.len(), "distinct SKUs per order");
        }
    }

    #[test]
    fn plentiful_stock_covers_every_order_at_once() {
        let plan = plan(&request(5)).expect("plan");
        for (i, sku) in plan.skus.iter().enumerate().filter(|(_, s)| !s.scarce) {
            let demand: u32 = plan
                .orders
                .iter()
                .flat_map(|o| &o.lines)
                .filter(|l| l.sku == i)
                .map(|l| l.quantity)
                .sum();
            assert!(
                sku.stock > demand,
                "{}: {} <= {demand}",
                sku.name,
                sku.stock
            );
        }
    }

    #[test]
    fn users_are_spread_evenly_and_bounded() {
        let plan = plan(&request(2)).expect("plan");
        assert_eq!(plan.users, 10);
        let most = (0..plan.users)
            .map(|u| plan.orders.iter().filter(|o| o.user == u).count())
            .max();
        assert_eq!(most, Some(100));
        let too_few = PlanRequest {
            users: Some(3),
            ..request(2)
        };
        assert!(matches!(
            plan_error(&too_few),
            PlanError::TooFewUsers { needed: 7, .. }
        ));
    }

    #[test]
    fn bad_requests_are_named() {
        let zero_rate = PlanRequest {
            rate: 0.0,
            ..request(1)
        };
        assert_eq!(plan_error(&zero_rate), PlanError::Rate(0.0));
        let one_sku = PlanRequest {
            skus: 1,
            ..request(1)
        };
        assert_eq!(plan_error(&one_sku), PlanError::Skus(1));
        let empty = PlanRequest {
            duration: Duration::from_millis(5),
            ..request(1)
        };
        assert!(matches!(plan_error(&empty), PlanError::NoOrders { .. }));
    }

    fn plan_error(request: &PlanRequest<'_>) -> PlanError {
        plan(request).expect_err("invalid request")
    }
}
