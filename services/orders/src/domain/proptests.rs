//! Property tests: any interleaving of an order's saga events — duplicated,
//! reordered across topics, racing the timeout, with the service's own
//! terminal event fed back — ends in exactly one terminal state, and a
//! rebuild that replays the same events in another order yields the same row.

use std::collections::{HashSet, VecDeque};

use proptest::prelude::*;
use tributary_contracts::events::AnyEvent;

use super::*;
use crate::test_support::Saga;

const PLACED_AT: i64 = 1_700_000_000_000;
const TIMEOUT_MS: i64 = 30_000;

#[derive(Debug, Clone)]
enum Input {
    Event(AnyEvent),
    /// A sweeper pass after the timeout expired.
    Timeout,
}

/// A tiny deterministic generator for the choices the simulation makes
/// (where a fed-back event lands in the queue).
struct Choices(u64);

impl Choices {
    fn below(&mut self, bound: usize) -> usize {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % (bound.max(1) as u64)).unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Run {
    order: Option<Order>,
    /// Every terminal event the service published (re-emissions included).
    emitted: Vec<AnyEvent>,
    /// Every event the projector consumed successfully, in order.
    consumed: Vec<AnyEvent>,
    /// The status the first decisive input should lead to.
    expected: Option<OrderStatus>,
}

fn decisive_status(input: &Input) -> Option<OrderStatus> {
    match input {
        Input::Timeout => Some(OrderStatus::Cancelled),
        Input::Event(AnyEvent::PaymentAuthorized(_)) => Some(OrderStatus::Confirmed),
        Input::Event(AnyEvent::PaymentDeclined(_) | AnyEvent::StockRejected(_)) => {
            Some(OrderStatus::Cancelled)
        }
        Input::Event(_) => None,
    }
}

/// Runs the live service: a queue of deliveries, unknown orders retried at
/// the back, emitted events fed back at a random later position.
fn run_live(inputs: Vec<Input>, seed: u64) -> Run {
    let mut choices = Choices(seed | 1);
    let mut queue: VecDeque<Input> = inputs.into();
    let mut run = Run::default();
    let mut step: i64 = 0;
    while let Some(input) = queue.pop_front() {
        step += 1;
        let now = PLACED_AT + TIMEOUT_MS + step * 7;
        let before = run.order.clone();
        let emitted = match &input {
            Input::Event(event) => {
                let saga = SagaEvent::from_any(event).expect("saga event");
                match decide(run.order.as_ref(), saga, now) {
                    Err(DomainError::UnknownOrder { .. }) => {
                        queue.push_back(input);
                        continue;
                    }
                    Ok(decision) => {
                        run.consumed.push(event.clone());
                        if let Some(next) = decision.next {
                            run.order = Some(next);
                        }
                        decision.emit
                    }
                }
            }
            Input::Timeout => match run.order.as_ref() {
                // The pending index has no entry before the placement.
                None => None,
                Some(order) => match decide_timeout(order, now, TIMEOUT_MS) {
                    TimeoutAction::Cancel { next, event } => {
                        run.order = Some(*next);
                        Some(AnyEvent::OrderCancelled(event))
                    }
                    TimeoutAction::Reemit(event) => Some(AnyEvent::OrderCancelled(event)),
                    TimeoutAction::NotDue | TimeoutAction::Clear => None,
                },
            },
        };
        if before.is_some() && run.expected.is_none() {
            run.expected = decisive_status(&input);
        }
        if let Some(event) = emitted {
            let at = choices.below(queue.len() + 1);
            queue.insert(at, Input::Event(event.clone()));
            run.emitted.push(event);
        }
        // A terminal order never changes its decision.
        if let (Some(before), Some(after)) = (&before, &run.order)
            && before.status.is_terminal()
        {
            assert_eq!(after.status, before.status, "terminal status changed");
            assert_eq!(after.reason, before.reason);
            assert_eq!(after.terminal_event_id, before.terminal_event_id);
        }
    }
    run
}

/// Replays consumed events as a rebuild would: another order, no sweeper,
/// nothing fed back (a shadow's outbox is never relayed).
fn run_rebuild(events: Vec<AnyEvent>) -> Option<Order> {
    let mut queue: VecDeque<AnyEvent> = events.into();
    let mut order: Option<Order> = None;
    let mut step = 0;
    while let Some(event) = queue.pop_front() {
        step += 1;
        let now = PLACED_AT + 10 * TIMEOUT_MS + step;
        match decide(
            order.as_ref(),
            SagaEvent::from_any(&event).expect("saga"),
            now,
        ) {
            Err(DomainError::UnknownOrder { .. }) => queue.push_back(event),
            Ok(decision) => {
                if let Some(next) = decision.next {
                    order = Some(next);
                }
            }
        }
    }
    order
}

fn inputs() -> impl Strategy<Value = (Vec<Input>, u64, u64)> {
    let saga = Saga::new(PLACED_AT);
    let candidates: Vec<Input> = vec![
        Input::Event(saga.placed().into()),
        Input::Event(saga.reserved().into()),
        Input::Event(saga.rejected().into()),
        Input::Event(saga.authorized().into()),
        Input::Event(saga.declined().into()),
        Input::Event(saga.released().into()),
        Input::Event(saga.refunded().into()),
        Input::Timeout,
    ];
    // For each candidate, how many copies are delivered (the placement at
    // least once: the gateway always publishes it).
    let copies = proptest::collection::vec(0usize..=2, candidates.len());
    (copies, any::<u64>(), any::<u64>()).prop_flat_map(move |(copies, seed, rebuild_seed)| {
        let mut chosen = Vec::new();
        for (i, (candidate, n)) in candidates.iter().zip(copies).enumerate() {
            let n = if i == 0 { n.max(1) } else { n };
            chosen.extend(std::iter::repeat_n(candidate.clone(), n));
        }
        (Just(chosen).prop_shuffle(), Just(seed), Just(rebuild_seed))
    })
}

fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut choices = Choices(seed | 1);
    for i in (1..items.len()).rev() {
        let j = choices.below(i + 1);
        items.swap(i, j);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn exactly_one_terminal_state_under_any_interleaving((inputs, seed, rebuild_seed) in inputs()) {
        let run = run_live(inputs, seed);
        let order = run.order.clone().expect("the placement always arrives");

        let ids: HashSet<_> = run.emitted.iter().map(|e| e.envelope().event_id).collect();
        prop_assert!(ids.len() <= 1, "several terminal events: {ids:?}");

        match run.expected {
            None => {
                prop_assert_eq!(order.status, OrderStatus::Pending);
                prop_assert!(ids.is_empty());
            }
            Some(expected) => {
                prop_assert_eq!(order.status, expected);
                prop_assert_eq!(ids.len(), 1);
                prop_assert_eq!(ids.iter().next().copied(), order.terminal_event_id);
                // Every emitted copy says the same thing.
                for event in &run.emitted {
                    prop_assert_eq!(event, &run.emitted[0]);
                }
            }
        }

        // A rebuild from the same events, in another order, agrees exactly.
        let mut replay = run.consumed.clone();
        shuffle(&mut replay, rebuild_seed);
        prop_assert_eq!(run_rebuild(replay), Some(order));
    }
}
