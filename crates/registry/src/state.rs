//! The registry's in-memory model, rebuilt from the `_schemas` log.
//!
//! Pure: it applies [`LogRecord`]s and answers queries, and plans writes
//! (which record to append) without doing them. The only way state changes is
//! [`RegistryState::apply`], for records read back from the log, so every
//! instance that reads the same log holds the same state.
//!
//! Conflicts can only arise when two instances write at the same moment. The
//! rule is "first in the log wins": a record that gives a known id to another
//! schema, or a known (subject, version) to another id, is ignored. The
//! instance that wrote it notices (see [`RegistryState::confirms`]) and
//! appends a [`RegistryState::repair_for`] record so the loser leaves no trace
//! after compaction.

use std::collections::{BTreeMap, HashMap};

use thiserror::Error;
use tributary_contracts::{CompatibilityLevel, check_compatibility};

use crate::{
    SubjectVersion,
    record::{LogRecord, SchemaValue},
    schema::StoredSchema,
};

/// A query or plan the state cannot satisfy.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StateError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {version} not found.")]
    VersionNotFound { subject: String, version: String },
    #[error("Schema not found")]
    SchemaNotFound,
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\": {}", messages.join("; "))]
    Incompatible {
        subject: String,
        messages: Vec<String>,
    },
    #[error("no schema id left to allocate")]
    IdsExhausted,
}

/// Which version of a subject a request means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Latest,
    Number(u32),
}

impl std::fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionSelector::Latest => f.write_str("latest"),
            VersionSelector::Number(n) => write!(f, "{n}"),
        }
    }
}

/// What registering a schema under a subject amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Already a live version of the subject: nothing to write.
    Existing { id: u32, version: u32 },
    /// A new version to append to the log.
    New(SchemaValue),
}

/// What applying one record did, for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Unchanged,
    /// The record lost against an earlier one and was ignored.
    Conflict(String),
    /// The record cannot be used (not AVRO, does not parse) and was ignored.
    Skipped(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct VersionEntry {
    id: u32,
    deleted: bool,
}

/// Every subject, version, schema id and compatibility setting.
#[derive(Debug, Clone)]
pub struct RegistryState {
    /// Level used when the log holds no global setting (from configuration).
    default_level: CompatibilityLevel,
    global_level: Option<CompatibilityLevel>,
    subject_levels: BTreeMap<String, CompatibilityLevel>,
    schemas: BTreeMap<u32, StoredSchema>,
    /// Schema identity → the first id it was given.
    ids: HashMap<String, u32>,
    /// Subject → version → entry, soft-deleted versions included.
    subjects: BTreeMap<String, BTreeMap<u32, VersionEntry>>,
    /// Highest id any record ever claimed, so ids are never reused.
    max_id: u32,
}

impl RegistryState {
    /// An empty registry whose global level defaults to `default_level`.
    pub fn new(default_level: CompatibilityLevel) -> Self {
        RegistryState {
            default_level,
            global_level: None,
            subject_levels: BTreeMap::new(),
            schemas: BTreeMap::new(),
            ids: HashMap::new(),
            subjects: BTreeMap::new(),
            max_id: 0,
        }
    }

    /// Applies one record read from the log.
    pub fn apply(&mut self, record: LogRecord) -> Applied {
        match record {
            LogRecord::Schema {
                subject,
                version,
                value: Some(value),
            } => self.apply_schema(subject, version, value),
            LogRecord::Schema {
                subject,
                version,
                value: None,
            } => self.remove_version(&subject, version),
            LogRecord::Config {
                subject: None,
                level,
            } => {
                self.global_level = level;
                Applied::Changed
            }
            LogRecord::Config {
                subject: Some(subject),
                level: Some(level),
            } => {
                self.subject_levels.insert(subject, level);
                Applied::Changed
            }
            LogRecord::Config {
                subject: Some(subject),
                level: None,
            } => {
                self.subject_levels.remove(&subject);
                Applied::Changed
            }
            LogRecord::Ignored { .. } => Applied::Unchanged,
        }
    }

    fn apply_schema(&mut self, subject: String, version: u32, value: SchemaValue) -> Applied {
        // Even a record we cannot use (another registry's PROTOBUF schema)
        // owns its id: never hand that id to something else.
        self.max_id = self.max_id.max(value.id);
        let stored = match StoredSchema::parse(&value.schema, value.schema_type.as_deref()) {
            Ok(stored) => stored,
            Err(e) => {
                return Applied::Skipped(format!("{subject} v{version} (id {}): {e}", value.id));
            }
        };
        if let Some(known) = self.schemas.get(&value.id)
            && known.identity != stored.identity
        {
            return Applied::Conflict(format!("id {} already names another schema", value.id));
        }
        let versions = self.subjects.entry(subject.clone()).or_default();
        if let Some(entry) = versions.get(&version)
            && entry.id != value.id
        {
            return Applied::Conflict(format!("{subject} v{version} already has id {}", entry.id));
        }
        versions.insert(
            version,
            VersionEntry {
                id: value.id,
                deleted: value.deleted,
            },
        );
        self.ids.entry(stored.identity.clone()).or_insert(value.id);
        self.schemas.entry(value.id).or_insert(stored);
        Applied::Changed
    }

    fn remove_version(&mut self, subject: &str, version: u32) -> Applied {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return Applied::Unchanged;
        };
        let Some(entry) = versions.remove(&version) else {
            return Applied::Unchanged;
        };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        // An id nothing refers to any more is forgotten, so a later record may
        // claim it; this is what lets a repaired conflict converge.
        let referenced = self
            .subjects
            .values()
            .any(|versions| versions.values().any(|e| e.id == entry.id));
        if !referenced
            && let Some(schema) = self.schemas.remove(&entry.id)
            && self.ids.get(&schema.identity) == Some(&entry.id)
        {
            self.ids.remove(&schema.identity);
        }
        Applied::Changed
    }

    /// The global level: set through the API, else the configured default.
    pub fn global_level(&self) -> CompatibilityLevel {
        self.global_level.unwrap_or(self.default_level)
    }

    /// The level set for `subject` itself, if any.
    pub fn subject_level(&self, subject: &str) -> Option<CompatibilityLevel> {
        self.subject_levels.get(subject).copied()
    }

    /// The level registrations under `subject` are checked with.
    pub fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_level(subject)
            .unwrap_or_else(|| self.global_level())
    }

    /// Subjects with at least one live (not soft-deleted) version.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, versions)| versions.values().any(|e| !e.deleted))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Live version numbers of `subject`, oldest first.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, StateError> {
        Ok(self
            .live(subject)?
            .into_iter()
            .map(|(version, _)| version)
            .collect())
    }

    /// One live version of `subject`.
    pub fn version(
        &self,
        subject: &str,
        selector: VersionSelector,
    ) -> Result<SubjectVersion, StateError> {
        let live = self.live(subject)?;
        let found = match selector {
            VersionSelector::Latest => live.last().copied(),
            VersionSelector::Number(n) => live.iter().find(|(version, _)| *version == n).copied(),
        };
        let (version, id) = found.ok_or_else(|| StateError::VersionNotFound {
            subject: subject.to_owned(),
            version: selector.to_string(),
        })?;
        self.subject_version(subject, version, id)
    }

    /// The live version of `subject` that holds `candidate`, if any.
    pub fn lookup(
        &self,
        subject: &str,
        candidate: &StoredSchema,
    ) -> Result<SubjectVersion, StateError> {
        let live = self.live(subject)?;
        let (version, id) = live
            .into_iter()
            .find(|(_, id)| {
                self.schemas
                    .get(id)
                    .is_some_and(|s| s.identity == candidate.identity)
            })
            .ok_or(StateError::SchemaNotFound)?;
        self.subject_version(subject, version, id)
    }

    /// The schema with global id `id`.
    pub fn schema_by_id(&self, id: u32) -> Option<&StoredSchema> {
        self.schemas.get(&id)
    }

    /// Every live (subject, version) that uses schema `id`.
    pub fn usages(&self, id: u32) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for (subject, versions) in &self.subjects {
            for (version, entry) in versions {
                if entry.id == id && !entry.deleted {
                    out.push((subject.clone(), *version));
                }
            }
        }
        out
    }

    /// Decides what registering `candidate` under `subject` means: the
    /// existing version, a new version (with the id and version it gets), or
    /// a compatibility error.
    pub fn plan_register(
        &self,
        subject: &str,
        candidate: &StoredSchema,
    ) -> Result<Registration, StateError> {
        let live = self.live(subject).unwrap_or_default();
        if let Some((version, id)) = live.iter().find(|(_, id)| {
            self.schemas
                .get(id)
                .is_some_and(|s| s.identity == candidate.identity)
        }) {
            return Ok(Registration::Existing {
                id: *id,
                version: *version,
            });
        }
        let existing: Vec<_> = live
            .iter()
            .filter_map(|(_, id)| self.schemas.get(id))
            .map(|s| s.parsed.as_ref().clone())
            .collect();
        check_compatibility(self.effective_level(subject), &candidate.parsed, &existing).map_err(
            |messages| StateError::Incompatible {
                subject: subject.to_owned(),
                messages,
            },
        )?;
        let (id, text) = match self
            .ids
            .get(&candidate.identity)
            .and_then(|id| Some((*id, self.schemas.get(id)?)))
        {
            Some((id, known)) => (id, known.text.clone()),
            None => (
                self.max_id.checked_add(1).ok_or(StateError::IdsExhausted)?,
                candidate.text.clone(),
            ),
        };
        // Versions keep counting past soft-deleted ones, as Confluent's do.
        let version = self
            .subjects
            .get(subject)
            .and_then(|versions| versions.keys().next_back())
            .map_or(1, |v| v + 1);
        Ok(Registration::New(SchemaValue {
            subject: subject.to_owned(),
            version,
            id,
            schema: text,
            deleted: false,
            schema_type: None,
        }))
    }

    /// Checks `candidate` against `subject` without registering it: against
    /// every version the level asks for (`None` or `Latest`), or against the
    /// one version named. An unknown subject is compatible with anything when
    /// no version is named.
    pub fn check(
        &self,
        subject: &str,
        selector: Option<VersionSelector>,
        candidate: &StoredSchema,
    ) -> Result<Result<(), Vec<String>>, StateError> {
        let level = self.effective_level(subject);
        let against: Vec<_> = match selector {
            None if !self.subjects.contains_key(subject) => Vec::new(),
            None | Some(VersionSelector::Latest) => {
                let live = self.live(subject)?;
                live.iter()
                    .filter_map(|(_, id)| self.schemas.get(id))
                    .map(|s| s.parsed.as_ref().clone())
                    .collect()
            }
            Some(selector @ VersionSelector::Number(_)) => {
                let version = self.version(subject, selector)?;
                self.schemas
                    .get(&version.id)
                    .map(|s| s.parsed.as_ref().clone())
                    .into_iter()
                    .collect()
            }
        };
        Ok(check_compatibility(level, &candidate.parsed, &against))
    }

    /// Whether `value`, once appended and read back, took effect (rather than
    /// losing a race against another instance's write).
    pub fn confirms(&self, value: &SchemaValue) -> bool {
        let entry = self
            .subjects
            .get(&value.subject)
            .and_then(|versions| versions.get(&value.version));
        let Some(entry) = entry else { return false };
        let Some(stored) = self.schemas.get(&entry.id) else {
            return false;
        };
        entry.id == value.id
            && entry.deleted == value.deleted
            && StoredSchema::parse(&value.schema, value.schema_type.as_deref())
                .is_ok_and(|ours| ours.identity == stored.identity)
    }

    /// The record that erases the trace of a losing `value` from the log after
    /// compaction: the winner's value under the same key when there is one,
    /// a tombstone otherwise.
    pub fn repair_for(&self, value: &SchemaValue) -> LogRecord {
        let winner = self
            .subjects
            .get(&value.subject)
            .and_then(|versions| versions.get(&value.version));
        match winner.and_then(|entry| Some((entry, self.schemas.get(&entry.id)?))) {
            Some((entry, stored)) => LogRecord::schema(SchemaValue {
                subject: value.subject.clone(),
                version: value.version,
                id: entry.id,
                schema: stored.text.clone(),
                deleted: entry.deleted,
                schema_type: None,
            }),
            None => LogRecord::Schema {
                subject: value.subject.clone(),
                version: value.version,
                value: None,
            },
        }
    }

    /// The records that soft-delete every live version of `subject`, and the
    /// version numbers they delete.
    pub fn plan_delete_subject(
        &self,
        subject: &str,
    ) -> Result<(Vec<u32>, Vec<LogRecord>), StateError> {
        let live = self.live(subject)?;
        let mut records = Vec::with_capacity(live.len());
        for (version, id) in &live {
            let schema = self
                .schemas
                .get(id)
                .map(|s| s.text.clone())
                .unwrap_or_default();
            records.push(LogRecord::schema(SchemaValue {
                subject: subject.to_owned(),
                version: *version,
                id: *id,
                schema,
                deleted: true,
                schema_type: None,
            }));
        }
        Ok((
            live.into_iter().map(|(version, _)| version).collect(),
            records,
        ))
    }

    /// Live (version, id) pairs of `subject`, oldest first; an error when there
    /// are none, which is how Confluent treats a fully deleted subject.
    fn live(&self, subject: &str) -> Result<Vec<(u32, u32)>, StateError> {
        let live: Vec<(u32, u32)> = self
            .subjects
            .get(subject)
            .map(|versions| {
                versions
                    .iter()
                    .filter(|(_, e)| !e.deleted)
                    .map(|(v, e)| (*v, e.id))
                    .collect()
            })
            .unwrap_or_default();
        if live.is_empty() {
            Err(StateError::SubjectNotFound(subject.to_owned()))
        } else {
            Ok(live)
        }
    }

    fn subject_version(
        &self,
        subject: &str,
        version: u32,
        id: u32,
    ) -> Result<SubjectVersion, StateError> {
        let schema = self.schemas.get(&id).ok_or(StateError::SchemaNotFound)?;
        Ok(SubjectVersion {
            subject: subject.to_owned(),
            version,
            id,
            schema: schema.text.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;
    const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}"#;
    const BREAKING: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"c","type":"int"}]}"#;

    fn schema(text: &str) -> StoredSchema {
        StoredSchema::parse(text, None).expect("test schema parses")
    }

    /// Plans a registration and, like the writer, applies the planned record.
    fn register(
        state: &mut RegistryState,
        subject: &str,
        text: &str,
    ) -> Result<(u32, u32), StateError> {
        match state.plan_register(subject, &schema(text))? {
            Registration::Existing { id, version } => Ok((id, version)),
            Registration::New(value) => {
                let (id, version) = (value.id, value.version);
                assert_eq!(
                    state.apply(LogRecord::schema(value.clone())),
                    Applied::Changed
                );
                assert!(state.confirms(&value));
                Ok((id, version))
            }
        }
    }

    #[test]
    fn same_schema_reuses_ids_and_new_ones_get_the_next() {
        let mut state = RegistryState::new(CompatibilityLevel::Backward);
        assert_eq!(register(&mut state, "a", V1), Ok((1, 1)));
        assert_eq!(
            register(&mut state, "a", V1),
            Ok((1, 1)),
            "same subject: existing version"
        );
        assert_eq!(
            register(&mut state, "b", V1),
            Ok((1, 1)),
            "other subject: same global id, its own v1"
        );
        assert_eq!(register(&mut state, "a", V2), Ok((2, 2)));
        assert_eq!(state.versions("a"), Ok(vec![1, 2]));
        assert_eq!(state.subjects(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(
            state.usages(1),
            vec![("a".to_owned(), 1), ("b".to_owned(), 1)]
        );
        let latest = state.version("a", VersionSelector::Latest).expect("latest");
        assert_eq!((latest.version, latest.id), (2, 2));
        assert_eq!(state.lookup("a", &schema(V1)).expect("found").version, 1);
        assert_eq!(
            state.lookup("a", &schema(BREAKING)),
            Err(StateError::SchemaNotFound)
        );
        assert_eq!(
            state.lookup("zz", &schema(V1)),
            Err(StateError::SubjectNotFound("zz".to_owned()))
        );
        assert!(matches!(
            state.version("a", VersionSelector::Number(9)),
            Err(StateError::VersionNotFound { .. })
        ));
    }

    #[test]
    fn compatibility_follows_global_and_subject_levels() {
        let mut state = RegistryState::new(CompatibilityLevel::Backward);
        register(&mut state, "a", V1).expect("first version");
        assert!(matches!(
            register(&mut state, "a", BREAKING),
            Err(StateError::Incompatible { .. })
        ));
        assert!(matches!(
            state.check("a", None, &schema(BREAKING)),
            Ok(Err(_))
        ));
        assert_eq!(
            state.check("a", Some(VersionSelector::Latest), &schema(V2)),
            Ok(Ok(()))
        );
        assert_eq!(state.check("new", None, &schema(BREAKING)), Ok(Ok(())));

        state.apply(LogRecord::Config {
            subject: Some("a".to_owned()),
            level: Some(CompatibilityLevel::None),
        });
        assert_eq!(state.effective_level("a"), CompatibilityLevel::None);
        assert_eq!(state.effective_level("b"), CompatibilityLevel::Backward);
        assert_eq!(register(&mut state, "a", BREAKING), Ok((2, 2)));

        state.apply(LogRecord::Config {
            subject: Some("a".to_owned()),
            level: None,
        });
        state.apply(LogRecord::Config {
            subject: None,
            level: Some(CompatibilityLevel::Full),
        });
        assert_eq!(state.effective_level("a"), CompatibilityLevel::Full);
        assert_eq!(state.global_level(), CompatibilityLevel::Full);
        assert_eq!(state.subject_level("a"), None);
    }

    #[test]
    fn replaying_the_log_rebuilds_the_same_state() {
        let mut first = RegistryState::new(CompatibilityLevel::Backward);
        let mut log = Vec::new();
        for (subject, text) in [("a", V1), ("b", V1), ("a", V2), ("c", BREAKING)] {
            if let Registration::New(value) =
                first.plan_register(subject, &schema(text)).expect("plan")
            {
                let record = LogRecord::schema(value);
                first.apply(record.clone());
                log.push(record);
            }
        }
        let config = LogRecord::Config {
            subject: Some("a".to_owned()),
            level: Some(CompatibilityLevel::Forward),
        };
        first.apply(config.clone());
        log.push(config);

        let mut replayed = RegistryState::new(CompatibilityLevel::Backward);
        for record in log {
            let (key, value) = record.encode().expect("encodes");
            replayed.apply(LogRecord::decode(Some(&key), value.as_deref()).expect("decodes"));
        }
        assert_eq!(replayed.subjects(), first.subjects());
        for subject in first.subjects() {
            for version in first.versions(&subject).expect("versions") {
                let selector = VersionSelector::Number(version);
                assert_eq!(
                    replayed.version(&subject, selector),
                    first.version(&subject, selector)
                );
            }
        }
        assert_eq!(replayed.effective_level("a"), CompatibilityLevel::Forward);
        assert_eq!(
            replayed.plan_register("d", &schema(r#""long""#)),
            first.plan_register("d", &schema(r#""long""#))
        );
    }

    #[test]
    fn soft_deleted_subjects_disappear_but_keep_ids_and_version_numbers() {
        let mut state = RegistryState::new(CompatibilityLevel::Backward);
        register(&mut state, "a", V1).expect("v1");
        let (versions, records) = state.plan_delete_subject("a").expect("plan");
        assert_eq!(versions, vec![1]);
        for record in records {
            state.apply(record);
        }
        assert!(state.subjects().is_empty());
        assert_eq!(
            state.versions("a"),
            Err(StateError::SubjectNotFound("a".to_owned()))
        );
        assert!(
            state.schema_by_id(1).is_some(),
            "ids stay resolvable for old data"
        );
        assert_eq!(
            register(&mut state, "a", V1),
            Ok((1, 2)),
            "same id, next version"
        );
    }

    #[test]
    fn first_record_wins_a_conflict_and_repair_converges() {
        let mut state = RegistryState::new(CompatibilityLevel::None);
        let value = |subject: &str, id, text: &str| SchemaValue {
            subject: subject.to_owned(),
            version: 1,
            id,
            schema: text.to_owned(),
            deleted: false,
            schema_type: None,
        };
        // Two instances both allocated id 1, for different schemas and subjects.
        let winner = value("a", 1, V1);
        let loser = value("b", 1, r#""string""#);
        assert_eq!(
            state.apply(LogRecord::schema(winner.clone())),
            Applied::Changed
        );
        assert!(matches!(
            state.apply(LogRecord::schema(loser.clone())),
            Applied::Conflict(_)
        ));
        assert!(state.confirms(&winner));
        assert!(!state.confirms(&loser));
        let repair = state.repair_for(&loser);
        assert_eq!(
            repair,
            LogRecord::Schema {
                subject: "b".to_owned(),
                version: 1,
                value: None
            }
        );
        state.apply(repair);
        assert_eq!(state.schema_by_id(1).expect("id 1").text, V1);
        assert_eq!(
            register(&mut state, "b", r#""string""#),
            Ok((2, 1)),
            "retry gets a fresh id"
        );

        // Same key, different ids: the repair rewrites the winner's value.
        let late = value("a", 7, r#""int""#);
        assert!(matches!(
            state.apply(LogRecord::schema(late.clone())),
            Applied::Conflict(_)
        ));
        assert_eq!(state.repair_for(&late), LogRecord::schema(winner));
    }

    #[test]
    fn tombstones_forget_unreferenced_ids_and_bad_records_are_skipped() {
        let mut state = RegistryState::new(CompatibilityLevel::Backward);
        register(&mut state, "a", V1).expect("v1");
        state.apply(LogRecord::Schema {
            subject: "a".to_owned(),
            version: 1,
            value: None,
        });
        assert!(state.schema_by_id(1).is_none());
        assert_eq!(
            register(&mut state, "a", V1),
            Ok((2, 1)),
            "ids are never reused"
        );

        let bad = SchemaValue {
            subject: "p".to_owned(),
            version: 1,
            id: 9,
            schema: "syntax = \"proto3\";".to_owned(),
            deleted: false,
            schema_type: Some("PROTOBUF".to_owned()),
        };
        assert!(matches!(
            state.apply(LogRecord::schema(bad)),
            Applied::Skipped(_)
        ));
        assert!(state.subjects().iter().all(|s| s != "p"));
    }
}
