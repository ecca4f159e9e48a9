//! Time parsing and formatting for operator input and output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::OpsError;

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses an RFC 3339 time (`2026-11-21T19:00:00Z`, fractional seconds and
/// offsets accepted as `humantime` does) into Unix ms.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, OpsError> {
    let time = humantime::parse_rfc3339_weak(text.trim())
        .map_err(|e| OpsError::InvalidArgument(format!("`{text}` is not an RFC 3339 time: {e}")))?;
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| OpsError::InvalidArgument(format!("`{text}` is before 1970")))?
        .as_millis();
    i64::try_from(ms).map_err(|_| OpsError::InvalidArgument(format!("`{text}` is too far away")))
}

/// Parses a humane duration (`15m`, `2h 30m`, `1day`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration: {e}"))
}

/// Unix ms as RFC 3339 with milliseconds (UTC); the raw number when out of range.
pub fn format_ms(ms: i64) -> String {
    u64::try_from(ms)
        .ok()
        .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
        .map(|t| humantime::format_rfc3339_millis(t).to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let ms = parse_rfc3339_ms("2026-11-21T19:00:00.250Z").expect("valid");
        assert_eq!(format_ms(ms), "2026-11-21T19:00:00.250Z");
        assert!(parse_rfc3339_ms("yesterday").is_err());
    }
}
