//! Property tests: random interleavings of stock additions and saga events
//! (duplicated, reordered, for unknown orders) applied through the pure
//! domain exactly as the projector applies them, checking the invariants
//! after every step.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tributary_contracts::events::OrderLine;
use uuid::Uuid;

use super::*;

const SKUS: [&str; 4] = ["a", "b", "c", "never-stocked"];
const LIMITS: StockLimits = StockLimits {
    max_add_quantity: 50,
    max_price_cents: 10_000,
    max_on_hand: 200,
};

#[derive(Debug, Clone)]
enum Op {
    Add {
        sku: usize,
        quantity: i64,
        price: i64,
    },
    Place {
        order: u128,
        lines: Vec<(usize, i32)>,
    },
    Cancel {
        order: u128,
    },
    Decline {
        order: u128,
    },
    Confirm {
        order: u128,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let order = 0u128..6;
    prop_oneof![
        (0..3usize, -5i64..60, -10i64..12_000).prop_map(|(sku, quantity, price)| Op::Add {
            sku,
            quantity,
            price
        }),
        (
            order.clone(),
            prop::collection::vec((0..SKUS.len(), -1i32..8), 0..5)
        )
            .prop_map(|(order, lines)| Op::Place { order, lines }),
        order.clone().prop_map(|order| Op::Cancel { order }),
        order.clone().prop_map(|order| Op::Decline { order }),
        order.prop_map(|order| Op::Confirm { order }),
    ]
}

/// The inventory's view, kept in memory.
#[derive(Default)]
struct Model {
    stock: BTreeMap<String, StockLevel>,
    reservations: BTreeMap<Uuid, Reservation>,
    /// Stock movements out of HELD per order (release or commit).
    exits: BTreeMap<Uuid, u32>,
    added: BTreeMap<String, i64>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Add {
                sku,
                quantity,
                price,
            } => {
                let sku = SKUS[*sku];
                let current = self
                    .stock
                    .get(sku)
                    .cloned()
                    .unwrap_or_else(|| StockLevel::empty(sku));
                if let Ok(next) = current.add(*quantity, *price, &LIMITS) {
                    *self.added.entry(sku.to_owned()).or_default() += quantity;
                    self.stock.insert(sku.to_owned(), next);
                }
            }
            Op::Place { order, lines } => {
                let id = Uuid::from_u128(*order);
                match on_order_placed(self.reservations.get(&id)) {
                    Step::Reserve => {
                        let lines: Vec<OrderLine> = lines
                            .iter()
                            .map(|&(sku, quantity)| OrderLine {
                                sku: SKUS[sku].into(),
                                quantity,
                            })
                            .collect();
                        let decision = aggregate_lines(&lines, 3)
                            .map(|demand| decide_reservation(&demand, &self.stock))
                            .unwrap_or_else(|rejection| rejection);
                        match decision {
                            ReserveDecision::Reserve {
                                stock,
                                lines,
                                total_cents,
                            } => {
                                for level in stock {
                                    self.stock.insert(level.sku.clone(), level);
                                }
                                let r = Reservation::held(id, id, &lines, total_cents, 0);
                                self.reservations.insert(id, r);
                            }
                            ReserveDecision::Reject { reason, .. } => {
                                let r = Reservation::empty(
                                    id,
                                    id,
                                    ReservationState::Rejected,
                                    reason.as_str(),
                                    0,
                                );
                                self.reservations.insert(id, r);
                            }
                        }
                    }
                    Step::RejectLate => {
                        let r = Reservation::empty(
                            id,
                            id,
                            ReservationState::Rejected,
                            "order_cancelled",
                            0,
                        );
                        self.reservations.insert(id, r);
                    }
                    step => assert!(matches!(step, Step::Ignore(_)), "{step:?}"),
                }
            }
            Op::Cancel { order } => {
                let id = Uuid::from_u128(*order);
                let step = on_order_cancelled(self.reservations.get(&id));
                self.transition(id, step);
            }
            Op::Decline { order } => {
                let id = Uuid::from_u128(*order);
                let step = on_payment_declined(self.reservations.get(&id));
                self.transition(id, step);
            }
            Op::Confirm { order } => {
                let id = Uuid::from_u128(*order);
                let step = on_order_confirmed(self.reservations.get(&id));
                self.transition(id, step);
            }
        }
    }

    fn transition(&mut self, id: Uuid, step: Step) {
        match step {
            Step::Release | Step::Commit => {
                let r = self
                    .reservations
                    .get(&id)
                    .expect("a step that moves stock needs a reservation");
                let (levels, state) = if step == Step::Release {
                    (release_stock(r, &self.stock), ReservationState::Released)
                } else {
                    (commit_stock(r, &self.stock), ReservationState::Committed)
                };
                let levels = levels.expect("moving held stock never fails");
                for level in levels {
                    self.stock.insert(level.sku.clone(), level);
                }
                let next = r.moved_to(state, None, 1);
                self.reservations.insert(id, next);
                *self.exits.entry(id).or_default() += 1;
            }
            Step::Tombstone => {
                let r = Reservation::empty(id, id, ReservationState::Cancelled, "OTHER", 0);
                self.reservations.insert(id, r);
            }
            Step::Ignore(_) => {}
            Step::Reserve | Step::RejectLate => panic!("not a compensation step: {step:?}"),
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        for (sku, level) in &self.stock {
            prop_assert!(level.is_consistent(), "{level:?}");
            prop_assert!(
                level.available >= 0 && level.reserved >= 0,
                "negative stock {level:?}"
            );
            prop_assert!(
                level.reserved <= level.added,
                "reserved beyond added {level:?}"
            );
            prop_assert_eq!(
                level.added,
                self.added.get(sku).copied().unwrap_or_default()
            );
            let held: i64 = self
                .reservations
                .values()
                .filter(|r| r.state == ReservationState::Held)
                .flat_map(|r| &r.lines)
                .filter(|l| &l.sku == sku)
                .map(|l| i64::from(l.quantity))
                .sum();
            prop_assert_eq!(
                level.reserved,
                held,
                "reserved != held reservations of {}",
                sku
            );
            let committed: i64 = self
                .reservations
                .values()
                .filter(|r| r.state == ReservationState::Committed)
                .flat_map(|r| &r.lines)
                .filter(|l| &l.sku == sku)
                .map(|l| i64::from(l.quantity))
                .sum();
            prop_assert_eq!(level.committed, committed);
        }
        for (order, exits) in &self.exits {
            prop_assert!(*exits <= 1, "order {} left HELD {} times", order, exits);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn invariants_hold_under_any_interleaving(ops in prop::collection::vec(op(), 1..60)) {
        let mut model = Model::default();
        for op in &ops {
            model.apply(op);
            model.check()?;
        }
    }

    #[test]
    fn redelivering_every_event_changes_nothing(ops in prop::collection::vec(op(), 1..40)) {
        // Apply each saga event twice in a row (at-least-once without the
        // event-id filter): the state machine alone must absorb the copy.
        let mut once = Model::default();
        let mut twice = Model::default();
        for op in &ops {
            once.apply(op);
            twice.apply(op);
            if !matches!(op, Op::Add { .. }) {
                twice.apply(op);
            }
            twice.check()?;
        }
        prop_assert_eq!(&once.stock, &twice.stock);
        prop_assert_eq!(&once.reservations, &twice.reservations);
    }

    #[test]
    fn a_reservation_never_exceeds_available_stock(
        available in 0i64..50,
        lines in prop::collection::vec((0..3usize, 1i32..30), 1..6),
    ) {
        let mut stock = BTreeMap::new();
        for sku in &SKUS[..3] {
            let level = StockLevel::empty(sku).add(available.max(1), 7, &LIMITS).expect("valid");
            stock.insert((*sku).to_owned(), level);
        }
        let lines: Vec<OrderLine> =
            lines.iter().map(|&(s, q)| OrderLine { sku: SKUS[s].into(), quantity: q }).collect();
        let demand = aggregate_lines(&lines, 10).expect("well-formed");
        match decide_reservation(&demand, &stock) {
            ReserveDecision::Reserve { stock: next, lines: reserved, total_cents } => {
                let total: i64 = reserved.iter().map(|l| i64::from(l.quantity) * l.unit_price_cents).sum();
                prop_assert_eq!(total, total_cents);
                for level in next {
                    prop_assert!(level.is_consistent());
                    prop_assert_eq!(i64::from(demand[&level.sku]), level.reserved);
                }
            }
            ReserveDecision::Reject { shortfalls, .. } => {
                prop_assert!(!shortfalls.is_empty());
                for s in shortfalls {
                    prop_assert!(i64::from(s.requested) > stock[&s.sku].available);
                }
            }
        }
    }
}
