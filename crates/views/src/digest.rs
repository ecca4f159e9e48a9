//! Content digests of a view table, for rebuild verification.
//!
//! Each row is hashed on its own (SHA-256 of the length-prefixed partition,
//! clustering key and value) and the row hashes are added as 256-bit integers
//! modulo 2^256. Addition is commutative, so the digest does not depend on the
//! order rows were inserted or are read in — ScyllaDB returns rows in token
//! order, SQLite in key order, and neither needs sorting or buffering. The row
//! count is folded into the final hash.
//!
//! The version column is deliberately left out: it counts how many puts a row
//! received, which depends on retries and concurrency history (and, on
//! ScyllaDB, on replays), not on what the view says. A rebuilt view must have
//! the same content, not the same history.

use std::fmt;

use sha2::{Digest, Sha256};

/// Digest of one table's content: partition, clustering key and value of
/// every row, independent of row order. Versions are left out on purpose: they
/// count puts (retries, races, replays), not what the view says, and a rebuilt
/// view must match the content, not the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableDigest {
    /// Number of rows.
    pub rows: u64,
    /// SHA-256 over the row count and the sum of the row hashes.
    pub sha256: [u8; 32],
}

impl TableDigest {
    /// Lowercase hex of [`TableDigest::sha256`].
    pub fn hex(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(64);
        for byte in self.sha256 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

impl fmt::Display for TableDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows, sha256 {}", self.rows, self.hex())
    }
}

/// Accumulates rows in any order.
#[derive(Debug, Clone, Default)]
pub struct DigestBuilder {
    rows: u64,
    /// Little-endian 256-bit sum of row hashes.
    sum: [u64; 4],
}

impl DigestBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, partition: &str, clustering: &str, value: &[u8]) {
        let mut hasher = Sha256::new();
        for field in [partition.as_bytes(), clustering.as_bytes(), value] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field);
        }
        let hash: [u8; 32] = hasher.finalize().into();
        let mut carry = false;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            // Big-endian hash bytes: the last 8 bytes are the least significant limb.
            let start = 32 - 8 * (i + 1);
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&hash[start..start + 8]);
            let addend = u64::from_be_bytes(bytes);
            let (partial, overflow_a) = limb.overflowing_add(addend);
            let (total, overflow_b) = partial.overflowing_add(u64::from(carry));
            *limb = total;
            carry = overflow_a || overflow_b;
        }
        self.rows += 1;
    }

    pub fn finish(&self) -> TableDigest {
        let mut hasher = Sha256::new();
        hasher.update(self.rows.to_be_bytes());
        for limb in self.sum.iter().rev() {
            hasher.update(limb.to_be_bytes());
        }
        TableDigest {
            rows: self.rows,
            sha256: hasher.finalize().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_content_sensitive() {
        let rows = [
            ("a", "1", b"x".as_slice()),
            ("a", "2", b"y"),
            ("b", "", b"z"),
        ];
        let mut forward = DigestBuilder::new();
        rows.iter().for_each(|(p, c, v)| forward.add(p, c, v));
        let mut backward = DigestBuilder::new();
        rows.iter()
            .rev()
            .for_each(|(p, c, v)| backward.add(p, c, v));
        assert_eq!(forward.finish(), backward.finish());
        assert_eq!(forward.finish().rows, 3);

        let mut changed = DigestBuilder::new();
        changed.add("a", "1", b"x");
        changed.add("a", "2", b"Y");
        changed.add("b", "", b"z");
        assert_ne!(forward.finish(), changed.finish());
    }

    #[test]
    fn field_boundaries_matter() {
        let mut one = DigestBuilder::new();
        one.add("ab", "c", b"");
        let mut two = DigestBuilder::new();
        two.add("a", "bc", b"");
        assert_ne!(one.finish(), two.finish());
    }

    #[test]
    fn empty_table_has_a_stable_digest() {
        assert_eq!(DigestBuilder::new().finish(), DigestBuilder::new().finish());
        assert_eq!(DigestBuilder::new().finish().hex().len(), 64);
    }
}
