//! Outbox sequence numbers and shards on ScyllaDB.
//!
//! ScyllaDB has no cheap global counter, so the outbox is spread over
//! [`OUTBOX_SHARDS`] partitions (`shard = fnv1a(key) % 16`, so all messages of
//! one Kafka key share a shard) and clustered by `(seq, event_id)` inside each.
//! `seq = (logical_micros << 4) | shard`:
//! - `logical_micros` is a per-process clock that never goes backwards and
//!   never repeats (`max(last + 1, now)`), so one process's messages keep their
//!   append order; across processes it follows wall-clock time, and a key only
//!   moves between processes on a consumer-group rebalance, which takes far
//!   longer than clock skew between nodes;
//! - the low 4 bits name the shard, so an ack can find the row from `seq` alone.
//!
//! Two processes can, rarely, draw the same `seq` for the same shard; the
//! clustering key still tells the messages apart by `event_id`, and readers
//! never split a `seq` across pages (see `read.rs`), so an ack of that `seq`
//! only ever removes messages that were returned together.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Number of outbox partitions. Changing it would move keys between shards and
/// break per-key order for messages pending during the change.
pub(crate) const OUTBOX_SHARDS: i32 = 16;

const SHARD_BITS: u32 = 4;

static LAST_MICROS: AtomicI64 = AtomicI64::new(0);

/// The outbox shard of a Kafka key (stable across processes and builds).
pub(crate) fn shard_of(key: &str) -> i32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // The modulus is 16, so the result always fits an i32.
    i32::try_from(hash % OUTBOX_SHARDS as u64).unwrap_or(0)
}

/// The shard encoded in a sequence number.
pub(crate) fn shard_of_seq(seq: i64) -> i32 {
    i32::try_from(seq & i64::from(OUTBOX_SHARDS - 1)).unwrap_or(0)
}

/// A new sequence number for a message in `shard`.
pub(crate) fn next_seq(shard: i32) -> i64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX >> SHARD_BITS)
    });
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    let micros = loop {
        let candidate = now.max(last.saturating_add(1));
        match LAST_MICROS.compare_exchange_weak(
            last,
            candidate,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => break candidate,
            Err(actual) => last = actual,
        }
    };
    (micros << SHARD_BITS) | i64::from(shard & (OUTBOX_SHARDS - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_increase_and_carry_the_shard() {
        let mut previous = 0;
        for i in 0..1000 {
            let shard = i % OUTBOX_SHARDS;
            let seq = next_seq(shard);
            assert!(seq > previous);
            assert_eq!(shard_of_seq(seq), shard);
            previous = seq;
        }
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(shard_of("order-1"), shard_of("order-1"));
        // FNV-1a of the empty string is the offset basis.
        assert_eq!(shard_of(""), (0xcbf2_9ce4_8422_2325_u64 % 16) as i32);
        for key in ["a", "b", "order-42", "ünïcode"] {
            assert!((0..OUTBOX_SHARDS).contains(&shard_of(key)));
        }
    }
}
