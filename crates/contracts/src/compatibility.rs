//! Schema compatibility rules, shared by the registry (on register) and by
//! `tributary schemas check` (against every version in git history).

use std::{fmt, str::FromStr};

use apache_avro::{Schema, schema_compatibility::SchemaCompatibility};
use serde::{Deserialize, Serialize};

use crate::ContractError;

/// Confluent's compatibility levels, with Confluent's names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompatibilityLevel {
    /// New readers can read data written with the latest earlier version.
    #[default]
    Backward,
    /// New readers can read data written with every earlier version.
    BackwardTransitive,
    /// Readers of the latest earlier version can read new data.
    Forward,
    /// Readers of every earlier version can read new data.
    ForwardTransitive,
    /// Both backward and forward against the latest earlier version.
    Full,
    /// Both backward and forward against every earlier version.
    FullTransitive,
    /// No check.
    None,
}

impl CompatibilityLevel {
    /// Every level, for error messages that list the accepted values.
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
        CompatibilityLevel::None,
    ];

    /// Confluent's name for the level.
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
            CompatibilityLevel::None => "NONE",
        }
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    fn checks_backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    fn checks_forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CompatibilityLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = CompatibilityLevel::ALL.iter().map(|l| l.as_str()).collect();
                format!(
                    "unknown compatibility level `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Checks `candidate` against `existing` (oldest first) under `level`.
///
/// Returns one message per violation, naming the version it breaks with
/// (1-based position in `existing`), so a caller can show all of them at once.
pub fn check_compatibility(
    level: CompatibilityLevel,
    candidate: &Schema,
    existing: &[Schema],
) -> Result<(), Vec<String>> {
    let against: Vec<(usize, &Schema)> = if level.transitive() {
        existing.iter().enumerate().collect()
    } else {
        existing
            .iter()
            .enumerate()
            .next_back()
            .into_iter()
            .collect()
    };
    let mut violations = Vec::new();
    for (index, old) in against {
        let version = index + 1;
        if level.checks_backward()
            && let Err(e) = SchemaCompatibility::can_read(old, candidate)
        {
            violations.push(format!(
                "new schema cannot read data written with version {version}: {e}"
            ));
        }
        if level.checks_forward()
            && let Err(e) = SchemaCompatibility::can_read(candidate, old)
        {
            violations.push(format!(
                "version {version} cannot read data written with the new schema: {e}"
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// Parses a schema text, mapping the error into the contract error type.
pub fn parse_schema(text: &str) -> Result<Schema, ContractError> {
    Schema::parse_str(text).map_err(|e| ContractError::InvalidSchema(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &str) -> Schema {
        parse_schema(&format!(
            r#"{{"type":"record","name":"R","fields":[{fields}]}}"#
        ))
        .expect("test schema parses")
    }

    #[test]
    fn adding_a_field_with_default_is_backward_compatible() {
        let v1 = record(r#"{"name":"a","type":"string"}"#);
        let v2 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        assert!(check_compatibility(CompatibilityLevel::Backward, &v2, &[v1]).is_ok());
    }

    #[test]
    fn adding_a_field_without_default_is_not_backward_compatible() {
        let v1 = record(r#"{"name":"a","type":"string"}"#);
        let v2 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int"}"#);
        let errors = check_compatibility(CompatibilityLevel::Backward, &v2, &[v1])
            .expect_err("incompatible");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("version 1"), "{errors:?}");
    }

    #[test]
    fn transitive_levels_check_every_version() {
        let v1 = record(r#"{"name":"a","type":"string"}"#);
        let v2 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        // v3 drops the default of b: fine against v2 (which has b), not against v1.
        let v3 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int"}"#);
        let existing = [v1, v2];
        assert!(check_compatibility(CompatibilityLevel::Backward, &v3, &existing).is_ok());
        assert!(
            check_compatibility(CompatibilityLevel::BackwardTransitive, &v3, &existing).is_err()
        );
    }

    #[test]
    fn levels_parse_case_insensitively_and_reject_unknown_names() {
        assert_eq!(
            "full_transitive".parse(),
            Ok(CompatibilityLevel::FullTransitive)
        );
        assert!(
            "SIDEWAYS"
                .parse::<CompatibilityLevel>()
                .expect_err("unknown level")
                .contains("BACKWARD")
        );
    }
}
