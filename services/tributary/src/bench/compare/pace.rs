//! Sending one measurement point: at a fixed offered rate (open loop: event
//! *i* is due at *i / rate* whatever happened to earlier ones) or as fast as
//! the broker confirms with a bounded number of sends in flight.

use std::time::{Duration, Instant};

use futures::{StreamExt as _, future::BoxFuture, stream::FuturesUnordered};

use super::{collector::Collector, stamp::Stamp};
use crate::bench::BenchError;

/// A publish the broker has not confirmed yet.
pub(crate) type Confirm = BoxFuture<'static, Result<(), BenchError>>;

/// Sends in flight at most in paced mode: a broker that stops confirming
/// stalls the sender here (and the stall shows as latency) instead of
/// growing memory without bound.
const PACED_IN_FLIGHT: usize = 20_000;

/// A broker's publishing side.
pub(crate) trait Publisher {
    /// Hands one message to the client, in call order; the returned future
    /// resolves once the broker confirmed it (Kafka `acks=all` delivery
    /// report, RabbitMQ publisher confirm).
    async fn enqueue(
        &self,
        stamp: &Stamp,
        key: &[u8],
        payload: &[u8],
    ) -> Result<Confirm, BenchError>;
}

/// How a point sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pace {
    /// `per_sec` events a second for `duration`.
    Rate { per_sec: f64, duration: Duration },
    /// `events` as fast as confirms allow, `in_flight` at most unconfirmed.
    Saturate { events: u64, in_flight: usize },
}

impl Pace {
    pub fn events(&self) -> u64 {
        match *self {
            Pace::Rate { per_sec, duration } => (per_sec * duration.as_secs_f64()).round() as u64,
            Pace::Saturate { events, .. } => events,
        }
    }

    fn in_flight(&self) -> usize {
        match *self {
            Pace::Rate { .. } => PACED_IN_FLIGHT,
            Pace::Saturate { in_flight, .. } => in_flight.max(1),
        }
    }

    /// When event `seq` is due, from the start of the point; `None` for
    /// "now" (saturation).
    pub fn due(&self, seq: u64) -> Option<Duration> {
        match *self {
            Pace::Rate { per_sec, .. } if per_sec > 0.0 => {
                Some(Duration::from_secs_f64(seq as f64 / per_sec))
            }
            _ => None,
        }
    }
}

/// The payloads of a run: one pre-encoded `OrderPlaced` per key, so the
/// clock never includes encoding, and both brokers carry the same bytes.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    /// Per key: the order id (the Kafka message key) and the framed event.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Pool {
    pub fn new(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Pool, BenchError> {
        if entries.is_empty() {
            return Err(BenchError::Argument {
                arg: "--keys",
                detail: "must be at least 1".to_owned(),
            });
        }
        Ok(Pool { entries })
    }

    pub fn framed_bytes(&self) -> usize {
        self.entries.first().map_or(0, |(_, payload)| payload.len())
    }

    /// Event `seq` goes to key `seq % keys`, as that key's `seq / keys`-th.
    fn entry(&self, seq: u64) -> (u32, u64, &[u8], &[u8]) {
        let keys = self.entries.len() as u64;
        let key = (seq % keys) as usize;
        let (id, payload) = &self.entries[key];
        (key as u32, seq / keys, id, payload)
    }
}

/// What the sender did in one point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    pub events: u64,
    /// From the first due time to the last confirm.
    pub elapsed: Duration,
    /// How far behind schedule the last send was handed to the client.
    pub behind: Duration,
}

/// Sends point `point` with `pace`.
pub(crate) async fn drive<P: Publisher>(
    publisher: &P,
    pace: Pace,
    point: u32,
    pool: &Pool,
    collector: &Collector,
) -> Result<Sent, BenchError> {
    let events = pace.events();
    let window = pace.in_flight();
    let start_us = collector.now_us();
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut behind = Duration::ZERO;
    for seq in 0..events {
        let due = pace.due(seq);
        if let Some(due) = due {
            let at = tokio::time::Instant::from_std(started + due);
            // Collect confirms while waiting for the next due time.
            loop {
                tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(at) => break,
                    Some(confirm) = in_flight.next(), if !in_flight.is_empty() => confirm?,
                }
            }
        }
        while in_flight.len() >= window {
            if let Some(confirm) = in_flight.next().await {
                confirm?;
            }
        }
        let scheduled_us = match due {
            Some(due) => start_us + u64::try_from(due.as_micros()).unwrap_or(u64::MAX),
            None => collector.now_us(),
        };
        let (key, key_seq, id, payload) = pool.entry(seq);
        let stamp = Stamp {
            point,
            seq,
            key,
            key_seq,
            scheduled_us,
        };
        in_flight.push(publisher.enqueue(&stamp, id, payload).await?);
        if let Some(due) = due {
            behind = started.elapsed().saturating_sub(due);
        }
    }
    while let Some(confirm) = in_flight.next().await {
        confirm?;
    }
    Ok(Sent {
        events,
        elapsed: started.elapsed(),
        behind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_events_are_due_on_an_even_schedule() {
        let pace = Pace::Rate {
            per_sec: 500.0,
            duration: Duration::from_secs(10),
        };
        assert_eq!(pace.events(), 5_000);
        assert_eq!(pace.due(0), Some(Duration::ZERO));
        assert_eq!(pace.due(250), Some(Duration::from_millis(500)));
        let saturate = Pace::Saturate {
            events: 10,
            in_flight: 0,
        };
        assert_eq!(saturate.due(3), None);
        assert_eq!(saturate.in_flight(), 1);
    }

    #[test]
    fn events_cycle_over_the_keys() {
        let pool = Pool::new(vec![
            (b"a".to_vec(), vec![0, 1]),
            (b"b".to_vec(), vec![0, 2]),
        ])
        .expect("two keys");
        assert_eq!(pool.entry(0).0, 0);
        assert_eq!(pool.entry(3), (1, 1, &b"b"[..], &[0u8, 2][..]));
        assert!(Pool::new(Vec::new()).is_err());
    }
}
