//! The orders service's tables (ARCHITECTURE section 7), their row types and
//! key layouts.
//!
//! Every table is designed for one query and works unchanged on both view
//! backends: the partition key is what a query knows, the clustering key is
//! the order the query wants (clustering keys sort by their bytes, so times
//! are zero-padded). The order row is the only row written under an
//! optimistic-concurrency expectation (it carries the saga's decision); the
//! others are derived indexes written unconditionally, so no row mixes
//! conditional and unconditional writes (a rule of the ScyllaDB backend).

use serde::{Deserialize, Serialize};
use tributary_service::JsonTable;
use tributary_views::{Expect, TableDef, Write};
use uuid::Uuid;

use crate::domain::{Order, SagaEvent};

/// partition = order id, clustering = "", value = [`Order`].
pub const ORDERS_BY_ID: TableDef = TableDef {
    name: "orders_by_id",
    doc: "partition = order id, clustering = \"\", value = the order (JSON); GET /orders/{id}",
};

/// partition = customer id, clustering = [`time_key`] of the placement,
/// value = [`CustomerOrder`]; read descending for newest first.
pub const ORDERS_BY_CUSTOMER: TableDef = TableDef {
    name: "orders_by_customer",
    doc: "partition = customer id, clustering = zero-padded placed_at/order id, value = order reference (JSON); GET /orders?customer= newest first",
};

/// partition = order id, clustering = [`time_key`] of the event, value =
/// [`TimelineEntry`].
pub const SAGA_TIMELINE_BY_ORDER: TableDef = TableDef {
    name: "saga_timeline_by_order",
    doc: "partition = order id, clustering = zero-padded occurred_at/event id, value = timeline entry (JSON); GET /orders/{id}/timeline",
};

/// partition = [`pending_bucket`], clustering = [`time_key`] of the
/// placement, value = [`PendingOrder`]; read ascending for oldest first.
pub const PENDING_ORDERS: TableDef = TableDef {
    name: "pending_orders",
    doc: "partition = bucket-NN (hash of the order id), clustering = zero-padded placed_at/order id, value = pending order (JSON); saga-timeout sweeper and GET /sagas/stuck",
};

/// Every table of the service.
pub const TABLES: [TableDef; 4] = [
    ORDERS_BY_ID,
    ORDERS_BY_CUSTOMER,
    SAGA_TIMELINE_BY_ORDER,
    PENDING_ORDERS,
];

pub const ORDERS: JsonTable<Order> = JsonTable::new(ORDERS_BY_ID);
pub const CUSTOMER_ORDERS: JsonTable<CustomerOrder> = JsonTable::new(ORDERS_BY_CUSTOMER);
pub const TIMELINE: JsonTable<TimelineEntry> = JsonTable::new(SAGA_TIMELINE_BY_ORDER);
pub const PENDING: JsonTable<PendingOrder> = JsonTable::new(PENDING_ORDERS);

/// How many partitions the pending index is spread over. Pending orders are
/// few (each lives for one saga), but one partition for all of them would be
/// a hot spot on ScyllaDB under load; 16 keeps partitions small while a
/// sweep stays 16 cheap reads.
pub const PENDING_BUCKETS: u8 = 16;

/// A customer's order, as listed in `orders_by_customer`. Only the reference
/// is stored: the order itself is read from `orders_by_id`, so a saga step
/// writes one order row instead of two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerOrder {
    pub order_id: Uuid,
    pub placed_at: i64,
}

/// One consumed saga event in an order's timeline. A pure function of the
/// event, so a rebuilt timeline equals the live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Dotted event type, e.g. `stock.reserved`.
    pub event_type: String,
    /// The service that produced the event.
    pub producer: String,
    /// Event time, unix ms.
    pub occurred_at: i64,
    pub event_id: Uuid,
    /// The event that caused this one, when it was a reaction.
    pub causation_id: Option<Uuid>,
    /// One-line human summary.
    pub detail: String,
}

impl TimelineEntry {
    /// The entry of one saga event.
    pub fn of(saga: &SagaEvent<'_>) -> Self {
        let envelope = saga.envelope();
        TimelineEntry {
            event_type: saga.event_type().to_owned(),
            producer: envelope.producer.clone(),
            occurred_at: envelope.occurred_at,
            event_id: envelope.event_id,
            causation_id: envelope.causation_id,
            detail: saga.detail(),
        }
    }

    /// The write that appends this entry to `order_id`'s timeline; writing
    /// it again changes nothing.
    pub fn append(&self, order_id: Uuid) -> Result<Write, serde_json::Error> {
        TIMELINE.put(
            &order_id.to_string(),
            &time_key(self.occurred_at, self.event_id),
            self,
            Expect::Any,
        )
    }
}

/// An order that has not reached a terminal state, in the sweeper's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub placed_at: i64,
}

impl PendingOrder {
    /// The index entry of `order`.
    pub fn of(order: &Order) -> Self {
        PendingOrder {
            order_id: order.id,
            customer_id: order.customer_id,
            placed_at: order.placed_at,
        }
    }

    /// The entry's partition key.
    pub fn bucket(&self) -> String {
        pending_bucket(self.order_id)
    }

    /// The entry's clustering key.
    pub fn clustering(&self) -> String {
        time_key(self.placed_at, self.order_id)
    }
}

/// `<unix ms, 20 digits>/<id>`: sorts by time, then id, as bytes. Times
/// before the epoch (a broken producer clock) sort as the epoch rather than
/// breaking the order.
pub fn time_key(unix_ms: i64, id: Uuid) -> String {
    format!("{:020}/{id}", unix_ms.max(0))
}

/// The pending-index partition of `order_id`.
pub fn pending_bucket(order_id: Uuid) -> String {
    let byte = order_id.as_bytes()[15];
    format!("bucket-{:02}", byte % PENDING_BUCKETS)
}

/// Every pending-index partition.
pub fn pending_buckets() -> impl Iterator<Item = String> {
    (0..PENDING_BUCKETS).map(|b| format!("bucket-{b:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_chronologically() {
        let id = Uuid::nil();
        let mut keys = [
            time_key(1_700_000_000_000, id),
            time_key(9, id),
            time_key(-5, id),
            time_key(100, id),
        ];
        keys.sort();
        assert_eq!(keys[0], time_key(0, id));
        assert_eq!(keys[1], time_key(9, id));
        assert_eq!(keys[2], time_key(100, id));
        assert_eq!(keys[3], time_key(1_700_000_000_000, id));
    }

    #[test]
    fn buckets_cover_every_order() {
        let all: Vec<String> = pending_buckets().collect();
        assert_eq!(all.len(), usize::from(PENDING_BUCKETS));
        for _ in 0..100 {
            assert!(all.contains(&pending_bucket(Uuid::new_v4())));
        }
    }

    #[test]
    fn table_names_are_valid() {
        for table in TABLES {
            table.validate().expect("valid name");
        }
    }
}
