//! Decoding a member's assignment from the standard Kafka consumer protocol
//! (`ConsumerProtocolAssignment`), which DescribeGroups returns as opaque
//! bytes: version (i16), then `[topic (string) [partition (i32)]]`, then user
//! data. Anything that does not parse is reported as "no assignment known",
//! never as an error: other protocols (connect, streams) are legitimate.

/// `(topic, partitions)` pairs, or `None` when the bytes are not a v0+
/// consumer-protocol assignment.
pub fn parse_assignment(bytes: &[u8]) -> Option<Vec<(String, Vec<i32>)>> {
    let mut r = Reader { bytes, at: 0 };
    let _version = r.i16()?;
    let topics = r.i32()?;
    if !(0..=100_000).contains(&topics) {
        return None;
    }
    let mut out = Vec::with_capacity(usize::try_from(topics).ok()?);
    for _ in 0..topics {
        let len = usize::try_from(r.i16()?).ok()?;
        let name = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
        let count = r.i32()?;
        if !(0..=1_000_000).contains(&count) {
            return None;
        }
        let mut partitions = Vec::with_capacity(usize::try_from(count).ok()?);
        for _ in 0..count {
            partitions.push(r.i32()?);
        }
        partitions.sort_unstable();
        out.push((name, partitions));
    }
    Some(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_consumer_protocol_assignment() {
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 6];
        b.extend_from_slice(b"orders");
        b.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            parse_assignment(&b),
            Some(vec![("orders".to_owned(), vec![1, 3])])
        );
    }

    #[test]
    fn rejects_truncated_bytes() {
        assert_eq!(parse_assignment(&[0, 1, 0, 0, 0, 1, 0, 6, b'o']), None);
        assert_eq!(parse_assignment(&[]), None);
    }
}
