//! The sending phase: every order leaves at its scheduled time, in its own
//! task, whether or not earlier ones have been answered. A slow system
//! therefore faces the offered rate, not a rate that politely slows down
//! with it (coordinated omission), and each order's latency is measured
//! from its *scheduled* time.
//!
//! Requests in flight are bounded: if the bound is reached the system is not
//! keeping up with the offered rate, and the driver stops sending and says
//! so rather than queueing without end.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::{sync::Semaphore, task::JoinSet, time::Instant};
use uuid::Uuid;

use super::{
    client::{LoadClient, OrderRequest, OrderRequestLine, PaymentRequest, Placement},
    progress::Counters,
    schedule::{OrderKind, Plan, PlannedOrder},
    setup::Prepared,
};

/// Payment tokens of the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Approved by the payment simulator.
    pub approve: String,
    /// Declined by the payment simulator (its `decline_token`).
    pub decline: String,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            approve: "tok_ok".to_owned(),
            decline: "tok_decline".to_owned(),
        }
    }
}

/// What happened to one scheduled order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// Index into the plan's orders.
    pub index: usize,
    /// Scheduled send time, unix microseconds.
    pub scheduled_us: i64,
    pub placement: Placement,
    /// Scheduled time to the answer.
    pub latency: Duration,
}

/// The outcome of the sending phase.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub results: Vec<SendResult>,
    /// Why sending stopped early, when it did.
    pub overload: Option<String>,
    /// Time from the first send to the last one, plus one interval: the
    /// window the sends were spread over (the schedule's own length when
    /// the sender kept up).
    pub window: Duration,
    /// Largest delay between an order's scheduled time and its task start:
    /// how far the sender itself fell behind (should stay near zero).
    pub max_send_lag: Duration,
}

/// Sends the plan's orders on schedule.
pub async fn drive(
    client: &LoadClient,
    plan: &Plan,
    prepared: &Prepared,
    tokens: &Tokens,
    max_in_flight: usize,
    rate: f64,
    counters: &Arc<Counters>,
) -> Sent {
    let slots = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut tasks: JoinSet<SendResult> = JoinSet::new();
    let mut sent = Sent::default();
    let start = Instant::now();
    let start_us = unix_micros(SystemTime::now());

    for order in &plan.orders {
        let due = start + order.offset;
        tokio::time::sleep_until(due).await;
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            sent.overload = Some(format!(
                "{max_in_flight} orders were awaiting an answer at order {} of {} ({:.1}s into \
                 the run): the platform is not keeping up with {rate} orders/s; lower --rate or \
                 raise --max-in-flight",
                order.index + 1,
                plan.orders.len(),
                order.offset.as_secs_f64(),
            ));
            break;
        };
        sent.max_send_lag = sent.max_send_lag.max(due.elapsed());
        let Some(customer) = prepared.customers.get(order.user) else {
            continue;
        };
        let token = customer.token.clone();
        let body = request_of(plan, order, tokens);
        let scheduled_us = start_us + micros(order.offset);
        let client = client.clone();
        let counters = Arc::clone(counters);
        let index = order.index;
        Counters::bump(&counters.sent);
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        tasks.spawn(async move {
            let placement = client.place_order(&token, &body).await;
            let latency = due.elapsed();
            drop(slot);
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            Counters::bump(match placement {
                Placement::Accepted(_) => &counters.accepted,
                Placement::Refused(_) => &counters.refused,
                Placement::NoAnswer => &counters.no_answer,
            });
            SendResult {
                index,
                scheduled_us,
                placement,
                latency,
            }
        });
        sent.window = start.elapsed() + Duration::from_secs_f64(1.0 / rate);
        // Collect what has finished so the set does not grow with the run.
        while let Some(done) = tasks.try_join_next() {
            if let Ok(result) = done {
                sent.results.push(result);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(result) = done {
            sent.results.push(result);
        }
    }
    sent.results.sort_by_key(|r| r.index);
    sent
}

/// The placed order's id, if it was accepted.
pub fn accepted_id(result: &SendResult) -> Option<Uuid> {
    match result.placement {
        Placement::Accepted(id) => Some(id),
        _ => None,
    }
}

fn request_of(plan: &Plan, order: &PlannedOrder, tokens: &Tokens) -> OrderRequest {
    OrderRequest {
        lines: order
            .lines
            .iter()
            .filter_map(|line| {
                Some(OrderRequestLine {
                    sku: plan.skus.get(line.sku)?.name.clone(),
                    quantity: line.quantity,
                })
            })
            .collect(),
        payment: PaymentRequest {
            token: match order.kind {
                OrderKind::Decline => tokens.decline.clone(),
                OrderKind::Normal | OrderKind::Reject => tokens.approve.clone(),
            },
        },
    }
}

/// Microseconds since the Unix epoch (0 for a clock before it).
pub fn unix_micros(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map_or(0, micros)
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}
