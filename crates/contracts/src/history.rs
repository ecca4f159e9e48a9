//! The schema evolution rule of the project: every change to a schema must
//! be BACKWARD compatible with every earlier version of it (readers using the
//! new schema can read everything ever written). `tributary schemas check`
//! feeds this with the versions from git history and the registry.

use apache_avro::Schema;

use crate::{CompatibilityLevel, check_compatibility, parse_schema};

/// Checks `current_json` against every earlier version (oldest first) under
/// BACKWARD_TRANSITIVE.
///
/// Returns every problem at once: an unparsable current or earlier version,
/// and one message per incompatible earlier version, naming its 1-based
/// position in `earlier_versions_oldest_first`.
pub fn check_history(
    current_json: &str,
    earlier_versions_oldest_first: &[String],
) -> Result<(), Vec<String>> {
    let current = parse_schema(current_json).map_err(|e| vec![format!("current schema: {e}")])?;
    let mut problems = Vec::new();
    let mut earlier: Vec<Schema> = Vec::with_capacity(earlier_versions_oldest_first.len());
    for (index, text) in earlier_versions_oldest_first.iter().enumerate() {
        match parse_schema(text) {
            Ok(schema) => earlier.push(schema),
            // Cannot happen for versions that passed this check when committed;
            // reported rather than skipped so a broken history is noticed.
            Err(e) => problems.push(format!("version {}: {e}", index + 1)),
        }
    }
    if problems.is_empty()
        && let Err(violations) =
            check_compatibility(CompatibilityLevel::BackwardTransitive, &current, &earlier)
    {
        problems = violations;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &str) -> String {
        format!(r#"{{"type":"record","name":"R","namespace":"t","fields":[{fields}]}}"#)
    }

    const A: &str = r#"{"name":"a","type":"string"}"#;
    const B_INT: &str = r#"{"name":"b","type":"int"}"#;

    #[test]
    fn no_history_and_identical_versions_pass() {
        let v1 = record(A);
        assert_eq!(check_history(&v1, &[]), Ok(()));
        assert_eq!(check_history(&v1, std::slice::from_ref(&v1)), Ok(()));
    }

    #[test]
    fn adding_an_optional_field_passes() {
        let v1 = record(A);
        let v2 = record(&format!(
            r#"{A},{{"name":"c","type":["null","string"],"default":null}}"#
        ));
        assert_eq!(check_history(&v2, &[v1]), Ok(()));
    }

    #[test]
    fn adding_a_required_field_fails() {
        let v1 = record(A);
        let v2 = record(&format!("{A},{B_INT}"));
        let errors =
            check_history(&v2, &[v1]).expect_err("a new field without default breaks old data");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("version 1"), "{errors:?}");
    }

    #[test]
    fn changing_a_field_type_fails() {
        let v1 = record(&format!("{A},{B_INT}"));
        let v2 = record(&format!(r#"{A},{{"name":"b","type":"string"}}"#));
        assert!(check_history(&v2, &[v1]).is_err());
    }

    /// Removing a field is BACKWARD compatible in Avro (the new reader skips
    /// it), whether or not it had a default; only FORWARD rules forbid
    /// removing a field without a default. Re-adding it later without a
    /// default, however, breaks the versions written in between.
    #[test]
    fn removing_a_field_passes_backward_but_re_adding_it_without_default_fails() {
        let v1 = record(&format!("{A},{B_INT}"));
        let v2 = record(A);
        assert_eq!(check_history(&v2, std::slice::from_ref(&v1)), Ok(()));
        let v3 = record(&format!("{A},{B_INT}"));
        let errors = check_history(&v3, &[v1, v2]).expect_err("v2 data lacks b");
        assert!(errors.iter().all(|e| e.contains("version 2")), "{errors:?}");
    }

    #[test]
    fn checks_every_earlier_version_not_only_the_latest() {
        let v1 = record(A);
        let v2 = record(&format!(r#"{A},{{"name":"b","type":"int","default":0}}"#));
        let v3 = record(&format!("{A},{B_INT}"));
        let errors = check_history(&v3, &[v1, v2]).expect_err("v1 data lacks b");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("version 1"), "{errors:?}");
    }

    #[test]
    fn invalid_schemas_are_reported_not_skipped() {
        let v1 = record(A);
        assert!(
            check_history("{not json", std::slice::from_ref(&v1)).expect_err("invalid")[0]
                .contains("current")
        );
        let errors = check_history(&v1, &["{}".to_owned()]).expect_err("invalid earlier");
        assert!(errors[0].starts_with("version 1"), "{errors:?}");
    }
}
