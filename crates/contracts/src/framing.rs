//! The Confluent wire format: magic byte `0`, a 4-byte big-endian schema id,
//! then the Avro binary body. Any Confluent deserializer, in any language,
//! reads what we write.

use crate::ContractError;

/// First byte of every framed payload.
pub const MAGIC_BYTE: u8 = 0;
/// Magic byte plus the 4-byte schema id.
pub const FRAME_HEADER_LEN: usize = 5;

/// Frames an Avro body with its registry schema id.
pub fn frame(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    frame_into(schema_id, body, &mut out);
    out
}

/// Appends a framed body to `out`, for callers that reuse buffers.
pub fn frame_into(schema_id: u32, body: &[u8], out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(body);
}

/// Splits a framed payload into its schema id and Avro body.
pub fn unframe(payload: &[u8]) -> Result<(u32, &[u8]), ContractError> {
    if payload.len() < FRAME_HEADER_LEN {
        return Err(ContractError::TooShort { len: payload.len() });
    }
    if payload[0] != MAGIC_BYTE {
        return Err(ContractError::WrongMagicByte { found: payload[0] });
    }
    let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
    Ok((id, &payload[FRAME_HEADER_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_unframes() {
        let framed = frame(0x0102_0304, b"body");
        assert_eq!(framed[..5], [0, 1, 2, 3, 4]);
        let (id, body) = unframe(&framed).expect("valid frame");
        assert_eq!(id, 0x0102_0304);
        assert_eq!(body, b"body");
    }

    #[test]
    fn rejects_short_and_wrong_magic() {
        assert!(matches!(
            unframe(&[0, 0, 1]),
            Err(ContractError::TooShort { len: 3 })
        ));
        assert!(matches!(
            unframe(&[7, 0, 0, 0, 1, 9]),
            Err(ContractError::WrongMagicByte { found: 7 })
        ));
    }
}
