//! What a window (or the all-time totals) counts, and how one event changes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tributary_contracts::events::{AnyEvent, CancellationReason};
use uuid::Uuid;

use super::sketch::DurationSketch;

/// The part of an event analytics cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    /// A saga started.
    OrderPlaced { order_id: Uuid },
    /// A saga ended confirmed, earning `total_cents`.
    OrderConfirmed { order_id: Uuid, total_cents: i64 },
    /// A saga ended cancelled.
    OrderCancelled {
        order_id: Uuid,
        reason: CancellationReason,
    },
    /// Anything else: counted per topic only.
    Other,
}

impl Fact {
    /// Extracts the fact of `event`.
    pub fn of(event: &AnyEvent) -> Fact {
        match event {
            AnyEvent::OrderPlaced(e) => Fact::OrderPlaced {
                order_id: e.order_id,
            },
            AnyEvent::OrderConfirmed(e) => Fact::OrderConfirmed {
                order_id: e.order_id,
                total_cents: e.total_cents,
            },
            AnyEvent::OrderCancelled(e) => Fact::OrderCancelled {
                order_id: e.order_id,
                reason: e.reason,
            },
            _ => Fact::Other,
        }
    }

    /// The order whose saga this fact starts or ends.
    pub fn order_id(&self) -> Option<Uuid> {
        match self {
            Fact::OrderPlaced { order_id }
            | Fact::OrderConfirmed { order_id, .. }
            | Fact::OrderCancelled { order_id, .. } => Some(*order_id),
            Fact::Other => None,
        }
    }

    /// Whether the fact ends a saga.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Fact::OrderConfirmed { .. } | Fact::OrderCancelled { .. }
        )
    }
}

/// Counters of one window of one source partition, of a whole window, or of
/// all time. Every field merges by addition, so shards of a window and
/// windows of a range combine exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Aggregates {
    /// OrderPlaced events.
    pub orders_placed: u64,
    /// OrderConfirmed events.
    pub orders_confirmed: u64,
    /// OrderCancelled events.
    pub orders_cancelled: u64,
    /// Sum of `total_cents` of OrderConfirmed events.
    pub revenue_cents: i64,
    /// OrderCancelled events per `CancellationReason` symbol.
    pub cancellation_reasons: BTreeMap<String, u64>,
    /// Saga durations (terminal event time minus placement time) of the
    /// sagas that ended in this window.
    pub saga_duration: DurationSketch,
    /// Events per source topic.
    pub events_by_topic: BTreeMap<String, u64>,
    /// Events of this window that arrived after it was final: counted here,
    /// applied nowhere else.
    pub late_events: u64,
}

impl Aggregates {
    /// Counts one on-time event from `topic`; `saga_duration_ms` is the
    /// duration of the saga it ends, when its start is known.
    pub fn apply(&mut self, topic: &str, fact: &Fact, saga_duration_ms: Option<u64>) {
        bump(self.events_by_topic.entry(topic.to_owned()).or_insert(0));
        match fact {
            Fact::OrderPlaced { .. } => bump(&mut self.orders_placed),
            Fact::OrderConfirmed { total_cents, .. } => {
                bump(&mut self.orders_confirmed);
                self.revenue_cents = self.revenue_cents.saturating_add(*total_cents);
            }
            Fact::OrderCancelled { reason, .. } => {
                bump(&mut self.orders_cancelled);
                bump(
                    self.cancellation_reasons
                        .entry(reason.as_str().to_owned())
                        .or_insert(0),
                );
            }
            Fact::Other => {}
        }
        if let Some(duration) = saga_duration_ms
            && fact.is_terminal()
        {
            self.saga_duration.record(duration);
        }
    }

    /// Counts one event that arrived after its window was final.
    pub fn count_late(&mut self) {
        bump(&mut self.late_events);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Aggregates) {
        self.orders_placed = self.orders_placed.saturating_add(other.orders_placed);
        self.orders_confirmed = self.orders_confirmed.saturating_add(other.orders_confirmed);
        self.orders_cancelled = self.orders_cancelled.saturating_add(other.orders_cancelled);
        self.revenue_cents = self.revenue_cents.saturating_add(other.revenue_cents);
        merge_counts(&mut self.cancellation_reasons, &other.cancellation_reasons);
        self.saga_duration.merge(&other.saga_duration);
        merge_counts(&mut self.events_by_topic, &other.events_by_topic);
        self.late_events = self.late_events.saturating_add(other.late_events);
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == Aggregates::default()
    }
}

fn bump(counter: &mut u64) {
    *counter = counter.saturating_add(1);
}

fn merge_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, count) in from {
        let slot = into.entry(key.clone()).or_insert(0);
        *slot = slot.saturating_add(*count);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn order() -> Uuid {
        Uuid::from_u128(7)
    }

    #[test]
    fn counts_the_saga_facts() {
        let mut agg = Aggregates::default();
        agg.apply("orders", &Fact::OrderPlaced { order_id: order() }, None);
        agg.apply(
            "orders",
            &Fact::OrderConfirmed {
                order_id: order(),
                total_cents: 1250,
            },
            Some(40),
        );
        agg.apply(
            "orders",
            &Fact::OrderCancelled {
                order_id: order(),
                reason: CancellationReason::PaymentDeclined,
            },
            None,
        );
        agg.apply("payments", &Fact::Other, Some(99));
        agg.count_late();
        assert_eq!(agg.orders_placed, 1);
        assert_eq!(agg.orders_confirmed, 1);
        assert_eq!(agg.orders_cancelled, 1);
        assert_eq!(agg.revenue_cents, 1250);
        assert_eq!(agg.cancellation_reasons["PAYMENT_DECLINED"], 1);
        assert_eq!(agg.events_by_topic["orders"], 3);
        assert_eq!(agg.events_by_topic["payments"], 1);
        // Only terminal facts record durations.
        assert_eq!(agg.saga_duration.count, 1);
        assert_eq!(agg.late_events, 1);
    }

    fn fact_strategy() -> impl Strategy<Value = (String, Fact, Option<u64>)> {
        let topic = prop::sample::select(vec!["orders", "payments", "users"]);
        let fact = prop_oneof![
            Just(Fact::OrderPlaced {
                order_id: Uuid::nil()
            }),
            (0i64..100_000).prop_map(|total_cents| Fact::OrderConfirmed {
                order_id: Uuid::nil(),
                total_cents
            }),
            prop::sample::select(CancellationReason::ALL.to_vec()).prop_map(|reason| {
                Fact::OrderCancelled {
                    order_id: Uuid::nil(),
                    reason,
                }
            }),
            Just(Fact::Other),
        ];
        (topic, fact, prop::option::of(0u64..100_000))
            .prop_map(|(topic, fact, duration)| (topic.to_owned(), fact, duration))
    }

    proptest! {
        #[test]
        fn merging_shards_equals_counting_everything_in_one(
            facts in prop::collection::vec(fact_strategy(), 0..60),
            split in 0usize..60,
        ) {
            let split = split.min(facts.len());
            let (mut left, mut right, mut all) =
                (Aggregates::default(), Aggregates::default(), Aggregates::default());
            for (i, (topic, fact, duration)) in facts.iter().enumerate() {
                let shard = if i < split { &mut left } else { &mut right };
                shard.apply(topic, fact, *duration);
                all.apply(topic, fact, *duration);
            }
            left.merge(&right);
            prop_assert_eq!(left, all);
        }
    }
}
