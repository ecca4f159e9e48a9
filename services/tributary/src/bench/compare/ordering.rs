//! Per-key ordering as consumers actually processed the messages.

use std::collections::HashMap;

use serde::Serialize;

/// How often a key's messages were processed out of their sending order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderingCount {
    /// Messages checked.
    pub messages: u64,
    /// Distinct keys seen.
    pub keys: u64,
    /// Pairs of messages of one key, next to each other in that key's
    /// processing order, where the later-sent one was processed first.
    pub out_of_order_pairs: u64,
    /// Keys with at least one such pair.
    pub keys_affected: u64,
}

/// Counts out-of-order pairs in `processed`: `(key, key_seq)` in the order
/// the consumers finished processing them (across all consumers).
pub fn out_of_order_pairs(processed: impl IntoIterator<Item = (u32, u64)>) -> OrderingCount {
    let mut last: HashMap<u32, (u64, bool)> = HashMap::new();
    let mut count = OrderingCount::default();
    for (key, seq) in processed {
        count.messages += 1;
        match last.get_mut(&key) {
            None => {
                last.insert(key, (seq, false));
            }
            Some((previous, affected)) => {
                if seq < *previous {
                    count.out_of_order_pairs += 1;
                    *affected = true;
                }
                *previous = seq;
            }
        }
    }
    count.keys = last.len() as u64;
    count.keys_affected = last.values().filter(|(_, affected)| *affected).count() as u64;
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_keys_count_nothing() {
        let processed = [(1, 0), (2, 0), (1, 1), (2, 1), (1, 2)];
        let count = out_of_order_pairs(processed);
        assert_eq!(count.messages, 5);
        assert_eq!(count.keys, 2);
        assert_eq!(count.out_of_order_pairs, 0);
        assert_eq!(count.keys_affected, 0);
    }

    #[test]
    fn swapped_neighbours_count_once_per_pair() {
        // Key 1: 0, 2, 1, 3 → one inversion (2 then 1). Key 2: 1, 0 → one.
        let processed = [(1, 0), (1, 2), (2, 1), (1, 1), (2, 0), (1, 3)];
        let count = out_of_order_pairs(processed);
        assert_eq!(count.out_of_order_pairs, 2);
        assert_eq!(count.keys_affected, 2);
        assert_eq!(count.keys, 2);
    }

    #[test]
    fn empty_input_is_all_zero() {
        assert_eq!(out_of_order_pairs([]), OrderingCount::default());
    }
}
