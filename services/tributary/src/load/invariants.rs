//! The saga invariants of ARCHITECTURE section 6, checked from the outside
//! through each owning service's query API once a run has settled:
//!
//! 1. every accepted order reached exactly one terminal state;
//! 2. CONFIRMED ⇒ payment AUTHORIZED (not refunded) and reservation
//!    COMMITTED; CANCELLED ⇒ no charge left (declined, refunded, cancelled or
//!    none) and no stock held;
//! 3. per SKU: available ≥ 0, nothing reserved once every saga ended,
//!    available + committed = added, and available = added − Σ confirmed;
//! 4. at most one authorization (and one refund) per order;
//! 5. exactly one notification per terminal order, of the matching kind.
//!
//! The services converge at their own pace (a refund or a stock release
//! follows the cancellation that caused it), so a violation is only final
//! once it persists until the deadline: the check re-reads what failed
//! until then.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use futures::{StreamExt, stream};
use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    client::{
        LoadClient, NotificationView, OrderStatus, OrderView, PaymentState, PaymentView,
        ReservationState, ReservationView, StockView, TimelineEntry,
    },
    schedule::OrderKind,
    setup::STOCK_BATCH,
};

/// Pause between two re-reads of what still fails.
const RECHECK_PAUSE: Duration = Duration::from_millis(500);
/// Examples of violations kept per invariant.
const MAX_EXAMPLES: usize = 10;

/// One order the check covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedOrder {
    pub id: Uuid,
    /// Index into [`RunRecord::customers`].
    pub customer: usize,
    /// What the plan meant it to exercise; `None` for an order found in the
    /// customer's list whose placement answer was lost.
    pub kind: Option<OrderKind>,
    /// Scheduled send time, unix microseconds (`None` when untracked).
    pub scheduled_us: Option<i64>,
}

/// A customer of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRef {
    pub id: Uuid,
    pub email: String,
}

/// Everything needed to check (or re-check) a run's invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRecord {
    pub orders: Vec<TrackedOrder>,
    pub customers: Vec<CustomerRef>,
    /// SKU name → units added, as the inventory reported after setup.
    pub stocked: BTreeMap<String, i64>,
}

/// The verdict on one invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantResult {
    pub number: u8,
    pub name: &'static str,
    /// Orders or SKUs examined.
    pub checked: usize,
    pub violations: usize,
    /// The first few violations, in words.
    pub examples: Vec<String>,
    pub holds: bool,
}

/// The state the check saw, comparable across two checks (a redelivery
/// must change none of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub orders: BTreeMap<Uuid, (OrderStatus, Option<String>)>,
    pub payments: BTreeMap<Uuid, Option<PaymentState>>,
    pub reservations: BTreeMap<Uuid, Option<ReservationState>>,
    pub stock: BTreeMap<String, StockView>,
    /// Order → notifications about it.
    pub notifications: BTreeMap<Uuid, usize>,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub invariants: Vec<InvariantResult>,
    pub observed: Observed,
    /// The final order views (for outcome counts and latencies).
    pub orders: BTreeMap<Uuid, OrderView>,
}

impl Verification {
    pub fn holds(&self) -> bool {
        self.invariants.iter().all(|i| i.holds)
    }
}

/// A read that failed: the check cannot establish what depends on it.
type Fetched<T> = Result<T, String>;

/// What the services say about one order.
#[derive(Debug, Clone)]
struct OrderFacts {
    order: Fetched<Option<OrderView>>,
    payment: Fetched<Option<PaymentView>>,
    reservation: Fetched<Option<ReservationView>>,
    timeline: Fetched<Vec<TimelineEntry>>,
}

/// What the services say about the whole run.
#[derive(Debug, Clone)]
struct Facts {
    orders: BTreeMap<Uuid, OrderFacts>,
    /// Customer index → their order notifications (by e-mail and by id).
    notifications: BTreeMap<usize, Fetched<Vec<NotificationView>>>,
    stock: Fetched<BTreeMap<String, StockView>>,
}

/// Checks `record` until every invariant holds or `timeout` passes.
pub async fn verify(
    client: &LoadClient,
    record: &RunRecord,
    timeout: Duration,
    concurrency: usize,
) -> Verification {
    let deadline = Instant::now() + timeout;
    let all_orders: Vec<&TrackedOrder> = record.orders.iter().collect();
    let all_customers: BTreeSet<usize> = (0..record.customers.len()).collect();
    let mut facts = Facts {
        orders: BTreeMap::new(),
        notifications: BTreeMap::new(),
        stock: Ok(BTreeMap::new()),
    };
    gather_orders(client, &all_orders, concurrency, &mut facts).await;
    gather_notifications(client, record, &all_customers, concurrency, &mut facts).await;
    facts.stock = gather_stock(client, record).await;
    loop {
        let evaluation = evaluate(record, &facts);
        if evaluation.failing_orders.is_empty() && !evaluation.stock_failed
            || Instant::now() >= deadline
        {
            return Verification {
                invariants: evaluation.results,
                observed: observe(&facts),
                orders: facts
                    .orders
                    .iter()
                    .filter_map(|(id, f)| Some((*id, f.order.clone().ok()??)))
                    .collect(),
            };
        }
        tokio::time::sleep(RECHECK_PAUSE.min(deadline - Instant::now())).await;
        let failing: Vec<&TrackedOrder> = record
            .orders
            .iter()
            .filter(|o| evaluation.failing_orders.contains(&o.id))
            .collect();
        let customers: BTreeSet<usize> = failing.iter().map(|o| o.customer).collect();
        gather_orders(client, &failing, concurrency, &mut facts).await;
        gather_notifications(client, record, &customers, concurrency, &mut facts).await;
        facts.stock = gather_stock(client, record).await;
    }
}

async fn gather_orders(
    client: &LoadClient,
    orders: &[&TrackedOrder],
    concurrency: usize,
    facts: &mut Facts,
) {
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let gathered: Vec<(Uuid, OrderFacts)> = stream::iter(ids)
        .map(|id| async move {
            let (order, payment, reservation, timeline) = tokio::join!(
                client.order(id),
                client.payment(id),
                client.reservation(id),
                client.timeline(id),
            );
            let facts = OrderFacts {
                order: order.map_err(|e| e.to_string()),
                payment: payment.map_err(|e| e.to_string()),
                reservation: reservation.map_err(|e| e.to_string()),
                timeline: timeline.map(|(t, _)| t).map_err(|e| e.to_string()),
            };
            (id, facts)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    facts.orders.extend(gathered);
}

async fn gather_notifications(
    client: &LoadClient,
    record: &RunRecord,
    customers: &BTreeSet<usize>,
    concurrency: usize,
    facts: &mut Facts,
) {
    let wanted: Vec<(usize, CustomerRef)> = customers
        .iter()
        .filter_map(|&index| Some((index, record.customers.get(index)?.clone())))
        .collect();
    let gathered: Vec<(usize, Fetched<Vec<NotificationView>>)> = stream::iter(wanted)
        .map(|(index, customer)| async move {
            // The recipient is the e-mail once notifications knows the
            // user, else the user id: read both.
            let id = customer.id.to_string();
            let (by_email, by_id) = tokio::join!(
                client.notifications(&customer.email),
                client.notifications(&id),
            );
            let merged = by_email.and_then(|mut list| {
                list.extend(by_id?);
                list.retain(|n| n.kind != "WELCOME");
                list.sort_by_key(|n| n.id);
                list.dedup_by_key(|n| n.id);
                Ok(list)
            });
            (index, merged.map_err(|e| e.to_string()))
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    facts.notifications.extend(gathered);
}

async fn gather_stock(
    client: &LoadClient,
    record: &RunRecord,
) -> Fetched<BTreeMap<String, StockView>> {
    let skus: Vec<String> = record.stocked.keys().cloned().collect();
    let mut stock = BTreeMap::new();
    for chunk in skus.chunks(STOCK_BATCH) {
        let items = client.stock(chunk).await.map_err(|e| e.to_string())?;
        stock.extend(items.into_iter().map(|s| (s.sku.clone(), s)));
    }
    Ok(stock)
}

/// The verdicts, plus what to re-read.
#[derive(Debug)]
struct Evaluation {
    results: Vec<InvariantResult>,
    failing_orders: BTreeSet<Uuid>,
    stock_failed: bool,
}

/// Collects the violations of one invariant.
#[derive(Debug)]
struct Tally {
    number: u8,
    name: &'static str,
    checked: usize,
    violations: usize,
    examples: Vec<String>,
}

impl Tally {
    fn new(number: u8, name: &'static str) -> Self {
        Tally {
            number,
            name,
            checked: 0,
            violations: 0,
            examples: Vec::new(),
        }
    }

    fn violation(&mut self, what: String) {
        self.violations += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(what);
        }
    }

    fn finish(self) -> InvariantResult {
        InvariantResult {
            number: self.number,
            name: self.name,
            checked: self.checked,
            violations: self.violations,
            examples: self.examples,
            holds: self.violations == 0,
        }
    }
}

const TERMINAL_TYPES: [&str; 2] = ["order.confirmed", "order.cancelled"];

/// Pure: the verdict on `facts`.
fn evaluate(record: &RunRecord, facts: &Facts) -> Evaluation {
    let mut terminal = Tally::new(1, "every accepted order reached exactly one terminal state");
    let mut consistent = Tally::new(
        2,
        "confirmed orders are paid and committed; cancelled ones hold no charge and no stock",
    );
    let mut stock_tally = Tally::new(
        3,
        "stock is never negative, nothing stays reserved, available = added - confirmed",
    );
    let mut once = Tally::new(4, "at most one authorization and one refund per order");
    let mut notified = Tally::new(5, "exactly one notification per terminal order");
    let mut failing_orders = BTreeSet::new();

    let notifications = notifications_by_order(facts);
    let mut confirmed_units: BTreeMap<&str, i64> = BTreeMap::new();

    for tracked in &record.orders {
        let id = tracked.id;
        let before = [&terminal, &consistent, &once, &notified].map(|t| t.violations);
        let Some(order_facts) = facts.orders.get(&id) else {
            terminal.checked += 1;
            terminal.violation(format!("order {id}: not read"));
            failing_orders.insert(id);
            continue;
        };
        let order = match &order_facts.order {
            Ok(Some(order)) => order,
            Ok(None) => {
                terminal.checked += 1;
                terminal.violation(format!("order {id}: unknown to the orders service"));
                failing_orders.insert(id);
                continue;
            }
            Err(error) => {
                terminal.checked += 1;
                terminal.violation(format!("order {id}: cannot read it: {error}"));
                failing_orders.insert(id);
                continue;
            }
        };
        if order.status == OrderStatus::Confirmed {
            for line in &order.lines {
                *confirmed_units.entry(line.sku.as_str()).or_default() += line.quantity;
            }
        }
        check_terminal(order, &order_facts.timeline, &mut terminal);
        check_consistent(order, order_facts, &mut consistent);
        check_once(id, &order_facts.timeline, &mut once);
        check_notified(
            order,
            tracked.customer,
            facts,
            &notifications,
            &mut notified,
        );
        let after = [&terminal, &consistent, &once, &notified].map(|t| t.violations);
        if before != after {
            failing_orders.insert(id);
        }
    }

    let stock_before = stock_tally.violations;
    check_stock(record, &facts.stock, &confirmed_units, &mut stock_tally);
    let stock_failed = stock_tally.violations > stock_before;

    Evaluation {
        results: vec![
            terminal.finish(),
            consistent.finish(),
            stock_tally.finish(),
            once.finish(),
            notified.finish(),
        ],
        failing_orders,
        stock_failed,
    }
}

fn check_terminal(order: &OrderView, timeline: &Fetched<Vec<TimelineEntry>>, tally: &mut Tally) {
    tally.checked += 1;
    let id = order.id;
    if !order.status.is_terminal() {
        tally.violation(format!("order {id}: still {:?}", order.status));
        return;
    }
    let timeline = match timeline {
        Ok(timeline) => timeline,
        Err(error) => {
            tally.violation(format!("order {id}: cannot read its timeline: {error}"));
            return;
        }
    };
    let decisions: BTreeSet<(&str, Uuid)> = timeline
        .iter()
        .filter(|e| TERMINAL_TYPES.contains(&e.event_type.as_str()))
        .map(|e| (e.event_type.as_str(), e.event_id))
        .collect();
    let expected = match order.status {
        OrderStatus::Confirmed => "order.confirmed",
        _ => "order.cancelled",
    };
    // The timeline shows every decision event the orders service recorded:
    // two would mean the saga was decided twice. None is tolerated (the
    // saga-timeout path does not record its own cancellation there); the
    // status and the single notification (invariant 5) still prove the
    // one decision.
    if decisions.len() > 1 || decisions.iter().any(|(kind, _)| *kind != expected) {
        let seen: Vec<&str> = decisions.iter().map(|(kind, _)| *kind).collect();
        tally.violation(format!(
            "order {id}: {:?} but its timeline holds {} terminal events {seen:?}",
            order.status,
            decisions.len()
        ));
    }
}

fn check_consistent(order: &OrderView, facts: &OrderFacts, tally: &mut Tally) {
    tally.checked += 1;
    let id = order.id;
    let (payment, reservation) = match (&facts.payment, &facts.reservation) {
        (Ok(p), Ok(r)) => (p.as_ref(), r.as_ref()),
        (Err(error), _) | (_, Err(error)) => {
            tally.violation(format!(
                "order {id}: cannot read payment/reservation: {error}"
            ));
            return;
        }
    };
    let payment_state = payment.map(|p| p.state);
    let reservation_state = reservation.map(|r| r.state);
    match order.status {
        OrderStatus::Confirmed => {
            if payment_state != Some(PaymentState::Authorized) {
                tally.violation(format!(
                    "order {id}: CONFIRMED but payment is {payment_state:?}"
                ));
            } else if let (Some(paid), Some(total)) =
                (payment.and_then(|p| p.amount_cents), order.total_cents)
                && paid != total
            {
                tally.violation(format!(
                    "order {id}: CONFIRMED for {total} cents but {paid} were authorized"
                ));
            }
            if reservation_state != Some(ReservationState::Committed) {
                tally.violation(format!(
                    "order {id}: CONFIRMED but reservation is {reservation_state:?}"
                ));
            }
        }
        OrderStatus::Cancelled => {
            let charge_left = matches!(
                payment_state,
                Some(PaymentState::Authorized | PaymentState::Pending | PaymentState::Unknown)
            );
            if charge_left {
                tally.violation(format!(
                    "order {id}: CANCELLED but payment is {payment_state:?}"
                ));
            }
            let stock_held = matches!(
                reservation_state,
                Some(
                    ReservationState::Held
                        | ReservationState::Committed
                        | ReservationState::Unknown
                )
            );
            if stock_held {
                tally.violation(format!(
                    "order {id}: CANCELLED but reservation is {reservation_state:?}"
                ));
            }
        }
        // Not terminal: invariant 1 reports it.
        OrderStatus::Pending | OrderStatus::Unknown => {}
    }
}

fn check_once(id: Uuid, timeline: &Fetched<Vec<TimelineEntry>>, tally: &mut Tally) {
    tally.checked += 1;
    let Ok(timeline) = timeline else {
        // Invariant 1 already reports an unreadable timeline.
        return;
    };
    for kind in ["payment.authorized", "payment.refunded"] {
        let distinct: BTreeSet<Uuid> = timeline
            .iter()
            .filter(|e| e.event_type == kind)
            .map(|e| e.event_id)
            .collect();
        if distinct.len() > 1 {
            tally.violation(format!(
                "order {id}: {} distinct {kind} events",
                distinct.len()
            ));
        }
    }
}

fn check_notified(
    order: &OrderView,
    customer: usize,
    facts: &Facts,
    by_order: &BTreeMap<Uuid, Vec<&str>>,
    tally: &mut Tally,
) {
    tally.checked += 1;
    let id = order.id;
    match facts.notifications.get(&customer) {
        Some(Ok(_)) => {}
        Some(Err(error)) => {
            tally.violation(format!("order {id}: cannot read notifications: {error}"));
            return;
        }
        None => {
            tally.violation(format!(
                "order {id}: notifications of its customer not read"
            ));
            return;
        }
    }
    let kinds = by_order.get(&id).map(Vec::as_slice).unwrap_or_default();
    let expected = match order.status {
        OrderStatus::Confirmed => "ORDER_CONFIRMED",
        OrderStatus::Cancelled => "ORDER_CANCELLED",
        OrderStatus::Pending | OrderStatus::Unknown => return,
    };
    if kinds != [expected] {
        tally.violation(format!(
            "order {id}: {:?} with notifications {kinds:?}",
            order.status
        ));
    }
}

fn check_stock(
    record: &RunRecord,
    stock: &Fetched<BTreeMap<String, StockView>>,
    confirmed_units: &BTreeMap<&str, i64>,
    tally: &mut Tally,
) {
    let stock = match stock {
        Ok(stock) => stock,
        Err(error) => {
            tally.checked += 1;
            tally.violation(format!("cannot read stock: {error}"));
            return;
        }
    };
    for (sku, &stocked) in &record.stocked {
        tally.checked += 1;
        let Some(level) = stock.get(sku) else {
            tally.violation(format!("{sku}: unknown to the inventory"));
            continue;
        };
        let confirmed = confirmed_units.get(sku.as_str()).copied().unwrap_or(0);
        let mut problems = Vec::new();
        if level.available < 0 {
            problems.push(format!("available {} < 0", level.available));
        }
        if level.reserved != 0 {
            problems.push(format!("{} units still reserved", level.reserved));
        }
        if level.added != stocked {
            problems.push(format!("added {} but setup left {stocked}", level.added));
        }
        if level.available + level.committed != level.added {
            problems.push(format!(
                "available {} + committed {} != added {}",
                level.available, level.committed, level.added
            ));
        }
        if level.available != level.added - confirmed {
            problems.push(format!(
                "available {} != added {} - confirmed {confirmed}",
                level.available, level.added
            ));
        }
        if !problems.is_empty() {
            tally.violation(format!("{sku}: {}", problems.join("; ")));
        }
    }
}

/// Order → kinds of the order notifications about it.
fn notifications_by_order(facts: &Facts) -> BTreeMap<Uuid, Vec<&str>> {
    let mut by_order: BTreeMap<Uuid, Vec<&str>> = BTreeMap::new();
    for list in facts.notifications.values().filter_map(|l| l.as_ref().ok()) {
        for notification in list {
            by_order
                .entry(notification.subject_id)
                .or_default()
                .push(notification.kind.as_str());
        }
    }
    by_order
}

fn observe(facts: &Facts) -> Observed {
    let mut observed = Observed::default();
    for (id, f) in &facts.orders {
        if let Ok(Some(order)) = &f.order {
            observed
                .orders
                .insert(*id, (order.status, order.reason.clone()));
        }
        if let Ok(payment) = &f.payment {
            observed
                .payments
                .insert(*id, payment.as_ref().map(|p| p.state));
        }
        if let Ok(reservation) = &f.reservation {
            observed
                .reservations
                .insert(*id, reservation.as_ref().map(|r| r.state));
        }
    }
    if let Ok(stock) = &facts.stock {
        observed.stock = stock.clone();
    }
    for (id, kinds) in notifications_by_order(facts) {
        if facts.orders.contains_key(&id) {
            observed.notifications.insert(id, kinds.len());
        }
    }
    observed
}

#[cfg(test)]
mod tests;
