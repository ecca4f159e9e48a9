//! After the last send: wait, bounded, until every accepted order has
//! reached a terminal state in the orders service's view, and find orders
//! the run placed without learning their id (a POST whose answer was lost).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use futures::{StreamExt, stream};
use tokio::time::Instant;
use uuid::Uuid;

use super::{
    client::{LoadClient, OrderView},
    progress::Counters,
};

/// Pause between two polling rounds over the orders still pending.
const ROUND_PAUSE: Duration = Duration::from_millis(250);

/// Polls the orders service until every order in `ids` is terminal or
/// `deadline` passes; returns the latest view of each order it found.
/// Unreachable moments (a restarting orders service) just cost a round.
pub async fn await_terminal(
    client: &LoadClient,
    ids: &[Uuid],
    deadline: Instant,
    concurrency: usize,
    counters: &Arc<Counters>,
) -> BTreeMap<Uuid, OrderView> {
    let mut views: BTreeMap<Uuid, OrderView> = BTreeMap::new();
    let mut pending: Vec<Uuid> = ids.to_vec();
    loop {
        let fetched: Vec<(Uuid, Option<OrderView>)> = stream::iter(pending.iter().copied())
            .map(|id| async move { (id, client.order(id).await.ok().flatten()) })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        for (id, view) in fetched {
            if let Some(view) = view {
                views.insert(id, view);
            }
        }
        pending.retain(|id| !views.get(id).is_some_and(|v| v.status.is_terminal()));
        counters
            .terminal
            .store(ids.len() - pending.len(), Ordering::Relaxed);
        if pending.is_empty() || Instant::now() >= deadline {
            return views;
        }
        tokio::time::sleep(ROUND_PAUSE.min(deadline - Instant::now())).await;
    }
}

/// Orders of `customers` the orders service knows that are not in `known`:
/// placements whose answer never arrived. Customers whose list cannot be
/// read are skipped (the invariant check reports what it can see).
pub async fn discover_untracked(
    client: &LoadClient,
    customers: &[Uuid],
    known: &BTreeSet<Uuid>,
    concurrency: usize,
) -> Vec<(Uuid, usize)> {
    let lists: Vec<(usize, Vec<OrderView>)> = stream::iter(customers.iter().copied().enumerate())
        .map(|(index, customer)| async move {
            (
                index,
                client.customer_orders(customer).await.unwrap_or_default(),
            )
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut found: Vec<(Uuid, usize)> = lists
        .into_iter()
        .flat_map(|(customer, orders)| {
            orders
                .into_iter()
                .filter(|o| !known.contains(&o.id))
                .map(move |o| (o.id, customer))
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}
