//! Identifier rules shared by both backends.
//!
//! Table, service and namespace names end up spliced into SQL and CQL
//! statements (identifiers cannot be bound as parameters), so they are
//! restricted to lowercase ASCII identifiers. The length limits keep the
//! longest derived ScyllaDB names under its 48-character limit.

use crate::error::ViewError;

/// Longest view table name (`view_` is prepended physically).
pub const MAX_TABLE_NAME: usize = 32;
/// Longest service name (the ScyllaDB keyspace is `<prefix>_<service>`).
pub const MAX_SERVICE_NAME: usize = 20;
/// Longest shadow namespace name.
pub const MAX_NAMESPACE_NAME: usize = 12;
/// Longest ScyllaDB keyspace prefix.
pub const MAX_KEYSPACE_PREFIX: usize = 12;

/// Checks `name` is `[a-z][a-z0-9_]*` and at most `max` bytes long.
pub(crate) fn check_identifier(
    what: &'static str,
    name: &str,
    max: usize,
) -> Result<(), ViewError> {
    let invalid = |reason: String| ViewError::InvalidName {
        what,
        name: name.to_owned(),
        reason,
    };
    let Some(first) = name.chars().next() else {
        return Err(invalid("must not be empty".into()));
    };
    if !first.is_ascii_lowercase() {
        return Err(invalid("must start with a lowercase ASCII letter".into()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(invalid(format!(
            "character {bad:?} is not allowed (use a-z, 0-9 and _)"
        )));
    }
    if name.len() > max {
        return Err(invalid(format!("longer than {max} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_snake_case() {
        assert!(check_identifier("table", "orders_by_id", 32).is_ok());
        assert!(check_identifier("table", "a1", 32).is_ok());
    }

    #[test]
    fn rejects_unsafe_names() {
        for bad in ["", "1abc", "Orders", "a-b", "a b", "a;drop", "ä", "_x"] {
            assert!(check_identifier("table", bad, 32).is_err(), "{bad:?}");
        }
        assert!(check_identifier("table", &"a".repeat(33), 32).is_err());
    }
}
