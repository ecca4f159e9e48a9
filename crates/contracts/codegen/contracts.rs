//! Loads `schemas/` and checks the rules that span files: the topic list
//! matches the files, every event carries the canonical envelope first, key
//! fields exist, and a named type means the same thing wherever it appears.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use serde_json::Value;

use super::{
    avro::{self, AvroType, NamedType, RecordDef},
    config::{self, TopicConfig},
    envelope, names, rust_types,
};

/// Everything the emitters need, validated.
#[derive(Debug)]
pub struct Contracts {
    pub topics: Vec<Topic>,
    /// Every distinct named type except the envelope, in order of first
    /// definition (topic order, then event order, outer before inner).
    pub named: Vec<NamedType>,
    /// The canonical envelope, for generating its proptest strategy.
    pub envelope: RecordDef,
}

#[derive(Debug)]
pub struct Topic {
    pub config: TopicConfig,
    pub partitions: i32,
    pub events: Vec<EventRecord>,
}

/// One event record: the root record of one schema file.
#[derive(Debug)]
pub struct EventRecord {
    pub record: RecordDef,
    pub topic: String,
    /// Absolute path of the `.avsc` file, for `include_str!`.
    pub path: PathBuf,
    pub key_field: String,
    pub key_is_uuid: bool,
}

/// The raw contents of `schemas/`: what [`validate`] works on, so the rules
/// can be tested without touching the file system.
#[derive(Debug, Default)]
pub struct SchemaTree {
    /// The `schemas/` directory (absolute), for the paths in `include_str!`.
    pub root: PathBuf,
    pub topics_toml: String,
    /// `.avsc` texts by directory name, then file name.
    pub files: BTreeMap<String, BTreeMap<String, String>>,
    /// `.avsc` files directly in `schemas/` (always an error).
    pub misplaced: Vec<String>,
}

/// Reads `topics.toml` and every `.avsc` one directory below `schemas_dir`.
pub fn read_tree(schemas_dir: &Path) -> Result<SchemaTree, String> {
    let mut tree = SchemaTree {
        root: schemas_dir.to_path_buf(),
        topics_toml: read(&schemas_dir.join("topics.toml"))?,
        ..SchemaTree::default()
    };
    for entry in list(schemas_dir)? {
        let name = file_name(&entry);
        if entry.is_dir() {
            let files = tree.files.entry(name).or_default();
            for file in list(&entry)? {
                if is_avsc(&file) {
                    files.insert(file_name(&file), read(&file)?);
                }
            }
        } else if is_avsc(&entry) {
            tree.misplaced.push(name);
        }
    }
    Ok(tree)
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_avsc(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|ext| ext == "avsc")
}

/// Checks every rule and builds the model the emitters use.
pub fn validate(tree: &SchemaTree) -> Result<Contracts, String> {
    let topics_file = config::parse(&tree.topics_toml)?;
    check_files_match_topics(tree, &topics_file.topics)?;

    let envelope_json: Value = serde_json::from_str(envelope::CANONICAL_JSON)
        .map_err(|e| format!("canonical envelope: {e}"))?;
    let canonical = avro::parse_document(&envelope_json)?;

    let mut named: Vec<NamedType> = Vec::new();
    let mut topics = Vec::with_capacity(topics_file.topics.len());
    for topic_config in topics_file.topics {
        let mut events = Vec::with_capacity(topic_config.events.len());
        for event_name in &topic_config.events {
            let file = format!("{event_name}.avsc");
            let text = tree
                .files
                .get(&topic_config.name)
                .and_then(|files| files.get(&file))
                .ok_or_else(|| format!("{}/{file} is missing", topic_config.name))?;
            let path = tree.root.join(&topic_config.name).join(&file);
            let event = load_event(
                text,
                &path,
                &topic_config,
                event_name,
                &canonical.root,
                &mut named,
            )
            .map_err(|e| format!("{}/{file}: {e}", topic_config.name))?;
            events.push(event);
        }
        let partitions = topic_config
            .partitions
            .unwrap_or(topics_file.defaults.partitions);
        topics.push(Topic {
            config: topic_config,
            partitions,
            events,
        });
    }
    check_rust_names(&named)?;
    check_serde_support(&named)?;
    Ok(Contracts {
        topics,
        named,
        envelope: canonical.root,
    })
}

/// Every listed event has a file, and every file is a listed event.
fn check_files_match_topics(tree: &SchemaTree, topics: &[TopicConfig]) -> Result<(), String> {
    if let Some(file) = tree.misplaced.first() {
        return Err(format!("{file}: schemas live in schemas/<topic>/"));
    }
    let listed: BTreeMap<&str, BTreeSet<String>> = topics
        .iter()
        .map(|t| {
            let files = t.events.iter().map(|e| format!("{e}.avsc")).collect();
            (t.name.as_str(), files)
        })
        .collect();
    for (dir, files) in &tree.files {
        let Some(expected) = listed.get(dir.as_str()) else {
            if files.is_empty() {
                continue;
            }
            return Err(format!(
                "schemas/{dir}/ is not a topic listed in topics.toml"
            ));
        };
        if let Some(file) = files.keys().find(|f| !expected.contains(*f)) {
            return Err(format!(
                "{dir}/{file} is not listed under topic `{dir}` in topics.toml"
            ));
        }
    }
    for (topic, expected) in &listed {
        let present = tree.files.get(*topic);
        if let Some(file) = expected
            .iter()
            .find(|f| present.is_none_or(|p| !p.contains_key(*f)))
        {
            return Err(format!(
                "topics.toml lists `{}` under `{topic}` but schemas/{topic}/{file} does not exist",
                file.trim_end_matches(".avsc")
            ));
        }
    }
    Ok(())
}

fn load_event(
    text: &str,
    path: &Path,
    topic: &TopicConfig,
    event_name: &str,
    canonical_envelope: &RecordDef,
    named: &mut Vec<NamedType>,
) -> Result<EventRecord, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let parsed = avro::parse_document(&json)?;
    let record = parsed.root.clone();

    let expected_full_name = format!("{}.{event_name}", topic.namespace());
    if record.full_name != expected_full_name {
        return Err(format!(
            "the record must be `{expected_full_name}` (namespace from the topic, name from the file), \
             found `{}`",
            record.full_name
        ));
    }
    check_envelope(&record, &parsed, canonical_envelope)?;
    let key_field = topic.key_field_of(event_name).to_owned();
    let key_is_uuid = check_key(&record, &key_field)?;

    for named_type in parsed.named {
        if named_type.full_name() == envelope::FULL_NAME {
            continue;
        }
        match named
            .iter()
            .find(|t| t.full_name() == named_type.full_name())
        {
            Some(existing) if *existing != named_type => {
                return Err(format!(
                    "`{}` differs from its definition in an earlier schema; a full name must \
                     mean one type everywhere (rename one of them)",
                    named_type.full_name()
                ));
            }
            Some(_) => {}
            None => named.push(named_type),
        }
    }
    Ok(EventRecord {
        record,
        topic: topic.name.clone(),
        path: path.to_path_buf(),
        key_field,
        key_is_uuid,
    })
}

/// The first field is `envelope`, of exactly the canonical envelope record.
fn check_envelope(
    record: &RecordDef,
    parsed: &avro::ParsedSchema,
    canonical: &RecordDef,
) -> Result<(), String> {
    let first = record.fields.first().ok_or("the record has no fields")?;
    let is_envelope_field = first.name == envelope::FIELD
        && first.ty == AvroType::Record(envelope::FULL_NAME.to_owned());
    if !is_envelope_field {
        return Err(format!(
            "the first field must be `{}` of type `{}`",
            envelope::FIELD,
            envelope::FULL_NAME
        ));
    }
    match parsed.named_type(envelope::FULL_NAME) {
        Some(NamedType::Record(found)) if found == canonical => Ok(()),
        _ => Err(format!(
            "the `{}` record differs from the canonical one in crates/contracts/codegen/envelope.rs \
             (which matches the hand-written Envelope struct); copy it exactly",
            envelope::FULL_NAME
        )),
    }
}

/// The key field is a top-level, non-optional string or uuid; returns whether it is a uuid.
fn check_key(record: &RecordDef, key_field: &str) -> Result<bool, String> {
    let field = record
        .fields
        .iter()
        .find(|f| f.name == key_field)
        .ok_or_else(|| {
            format!("key field `{key_field}` (topics.toml) is not a field of the record")
        })?;
    match field.ty {
        AvroType::String => Ok(false),
        AvroType::Uuid => Ok(true),
        _ => Err(format!(
            "key field `{key_field}` must be a string or a uuid"
        )),
    }
}

/// Every field type has a serde mapping that apache-avro writes correctly.
fn check_serde_support(named: &[NamedType]) -> Result<(), String> {
    for t in named {
        if let NamedType::Record(record) = t {
            for field in &record.fields {
                let at = format!("field `{}.{}`", record.full_name, field.name);
                rust_types::serde_attribute(&field.ty, &at)?;
                names::field_ident(&field.name).map_err(|e| format!("{at}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// All generated types live in one Rust module, so simple names must be
/// unique and must not shadow the generated items.
fn check_rust_names(named: &[NamedType]) -> Result<(), String> {
    const RESERVED: [&str; 2] = ["AnyEvent", "Envelope"];
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for t in named {
        if RESERVED.contains(&t.name()) {
            return Err(format!(
                "`{}`: the name `{}` is reserved by the generator",
                t.full_name(),
                t.name()
            ));
        }
        if let Some(other) = seen.insert(t.name(), t.full_name()) {
            return Err(format!(
                "`{}` and `{other}` share the simple name `{}`; generated Rust types need unique names",
                t.full_name(),
                t.name()
            ));
        }
    }
    Ok(())
}
