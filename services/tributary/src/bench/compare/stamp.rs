//! The benchmark's own header on every message, on both brokers: which
//! measurement point it belongs to, its place in the run and in its key's
//! sequence, and when it was *scheduled* to be sent. The payload stays the
//! untouched Confluent-framed Avro `OrderPlaced`, as services see it.

/// Header name, the same on Kafka records and AMQP messages.
pub(crate) const HEADER: &str = "x-bench-stamp";

/// Encoded size of a [`Stamp`].
const LEN: usize = 32;

/// One message's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The measurement point; late arrivals from an earlier point are
    /// recognised by it and ignored.
    pub point: u32,
    /// Position in the point, from 0.
    pub seq: u64,
    /// Which key (order) the message belongs to.
    pub key: u32,
    /// Position within its key: per-key ordering is checked on it.
    pub key_seq: u64,
    /// Scheduled send time, µs since the run's clock started. Latency is
    /// measured from here, not from the actual send, so a producer that
    /// falls behind shows up as latency (no coordinated omission).
    pub scheduled_us: u64,
}

impl Stamp {
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0..4].copy_from_slice(&self.point.to_be_bytes());
        out[4..12].copy_from_slice(&self.seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.key.to_be_bytes());
        out[16..24].copy_from_slice(&self.key_seq.to_be_bytes());
        out[24..32].copy_from_slice(&self.scheduled_us.to_be_bytes());
        out
    }

    /// `None` unless `bytes` is exactly an encoded stamp.
    pub fn decode(bytes: &[u8]) -> Option<Stamp> {
        let bytes: &[u8; LEN] = bytes.try_into().ok()?;
        let u32_at = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&bytes[i..i + 4]);
            u32::from_be_bytes(b)
        };
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_be_bytes(b)
        };
        Some(Stamp {
            point: u32_at(0),
            seq: u64_at(4),
            key: u32_at(12),
            key_seq: u64_at(16),
            scheduled_us: u64_at(24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_reject_wrong_lengths() {
        let stamp = Stamp {
            point: 7,
            seq: u64::MAX - 3,
            key: 63,
            key_seq: 1234,
            scheduled_us: 9_876_543_210,
        };
        assert_eq!(Stamp::decode(&stamp.encode()), Some(stamp));
        assert_eq!(Stamp::decode(&stamp.encode()[..31]), None);
        assert_eq!(Stamp::decode(&[]), None);
    }
}
