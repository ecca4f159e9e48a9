//! Binary encoding of outbox headers in one BLOB column.
//!
//! Layout: `u32` count, then per header `u32` name length, name (UTF-8),
//! `u32` value length, value; all integers big-endian. Kept private to the
//! embedded backend (ScyllaDB stores a native `list<tuple<text, blob>>`).

pub(crate) fn encode(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let size = 4 + headers
        .iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len_u32(headers.len()).to_be_bytes());
    for (name, value) in headers {
        out.extend_from_slice(&len_u32(name.len()).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&len_u32(value.len()).to_be_bytes());
        out.extend_from_slice(value);
    }
    out
}

/// Kafka caps records far below 4 GiB, so saturating is only a guard.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut reader = Reader { bytes, at: 0 };
    let count = reader.u32()?;
    // Each header takes at least 8 bytes, which bounds the allocation.
    let mut headers = Vec::with_capacity((count as usize).min(bytes.len() / 8));
    for _ in 0..count {
        let name = reader.chunk()?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|e| format!("header name is not UTF-8: {e}"))?;
        let value = reader.chunk()?.to_vec();
        headers.push((name, value));
    }
    if reader.at != bytes.len() {
        return Err(format!(
            "{} trailing bytes after headers",
            bytes.len() - reader.at
        ));
    }
    Ok(headers)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("headers truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(raw))
    }

    fn chunk(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let headers = vec![
            ("ce_id".to_owned(), b"abc".to_vec()),
            ("empty".to_owned(), Vec::new()),
            ("ce_id".to_owned(), vec![0, 255]),
        ];
        assert_eq!(decode(&encode(&headers)).expect("decodes"), headers);
        assert_eq!(decode(&encode(&[])).expect("decodes"), Vec::new());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[0, 0, 0, 1]).is_err());
        assert!(decode(&[0, 0, 0, 1, 255, 255, 255, 255]).is_err());
        assert!(decode(&[255, 255, 255, 255]).is_err());
        let mut trailing = encode(&[]);
        trailing.push(1);
        assert!(decode(&trailing).is_err());
    }
}
