//! The build-time rules of the generator, on in-memory schema trees: a
//! contract that breaks one never compiles, with a message that says why.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::codegen::{
    contracts::{SchemaTree, validate},
    emit_events, emit_strategies, envelope,
};

const TOPICS: &str = r#"
[defaults]
partitions = 6

[[topic]]
name = "things"
description = "Things happen."
key_field = "thing_id"
key_overrides = { ThingNamed = "name" }
events = ["ThingHappened", "ThingNamed"]
"#;

fn envelope_field() -> Value {
    json!({
        "name": "envelope",
        "type": serde_json::from_str::<Value>(envelope::CANONICAL_JSON).expect("canonical JSON"),
        "doc": "Metadata."
    })
}

fn record(name: &str, fields: Vec<Value>) -> Value {
    let mut all = vec![envelope_field()];
    all.extend(fields);
    json!({"type": "record", "name": name, "namespace": "tributary.things", "doc": "A record.", "fields": all})
}

fn part() -> Value {
    json!({"type": "array", "items": {"type": "record", "name": "Part", "doc": "A part.",
        "fields": [{"name": "label", "type": "string", "doc": "Label."}]}})
}

fn happened() -> Value {
    record(
        "ThingHappened",
        vec![
            json!({"name": "thing_id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "Id."}),
            json!({"name": "kind", "type": {"type": "enum", "name": "Kind", "doc": "Kinds.",
                "symbols": ["BIG", "SMALL_ONE"], "default": "BIG"}, "doc": "Kind."}),
            json!({"name": "cause", "type": ["null", {"type": "string", "logicalType": "uuid"}],
                "default": null, "doc": "Cause."}),
            json!({"name": "type", "type": "double", "doc": "A keyword-named float."}),
            json!({"name": "parts", "type": part(), "doc": "Parts."}),
        ],
    )
}

fn named() -> Value {
    record(
        "ThingNamed",
        vec![
            json!({"name": "name", "type": "string", "doc": "Name."}),
            json!({"name": "parts", "type": part(), "doc": "Parts."}),
        ],
    )
}

fn tree(files: Vec<(&str, Value)>) -> SchemaTree {
    let mut things = BTreeMap::new();
    for (name, schema) in files {
        things.insert(format!("{name}.avsc"), schema.to_string());
    }
    SchemaTree {
        root: "/schemas".into(),
        topics_toml: TOPICS.to_owned(),
        files: BTreeMap::from([("things".to_owned(), things)]),
        misplaced: Vec::new(),
    }
}

fn valid_tree() -> SchemaTree {
    tree(vec![("ThingHappened", happened()), ("ThingNamed", named())])
}

#[track_caller]
fn assert_rejected(tree: &SchemaTree, expected: &str) {
    match validate(tree) {
        Ok(_) => panic!("accepted; expected an error containing {expected:?}"),
        Err(error) => assert!(
            error.contains(expected),
            "error {error:?} lacks {expected:?}"
        ),
    }
}

/// Applies `edit` to the fields of ThingHappened.
fn happened_with(edit: impl FnOnce(&mut Vec<Value>)) -> SchemaTree {
    let mut schema = happened();
    edit(schema["fields"].as_array_mut().expect("fields"));
    tree(vec![("ThingHappened", schema), ("ThingNamed", named())])
}

#[test]
fn a_valid_tree_generates_types_impls_and_strategies() {
    let contracts = validate(&valid_tree()).expect("valid");
    assert_eq!(contracts.topics[0].partitions, 6);
    let events = emit_events::generate(&contracts).expect("generates");
    for expected in [
        "pub struct ThingHappened {",
        "pub struct Part {",
        "pub enum Kind {",
        "#[serde(rename = \"SMALL_ONE\")]\n    SmallOne,",
        "#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)]\npub struct ThingHappened",
        "pub r#type: f64,",
        "#[serde(default, with = \"crate::serde_uuid::option\")]\n    pub cause: ::std::option::Option<::uuid::Uuid>,",
        "const EVENT_TYPE: &'static str = \"thing.happened\";",
        "const SCHEMA_JSON: &'static str = include_str!(\"/schemas/things/ThingHappened.avsc\");",
        "::std::borrow::Cow::Owned(self.thing_id.to_string())",
        "::std::borrow::Cow::Borrowed(&self.name)",
        "key: \"thing_id (ThingNamed: name)\",",
    ] {
        assert!(
            events.contains(expected),
            "events.rs lacks {expected:?}:\n{events}"
        );
    }
    assert_eq!(
        events.matches("pub struct Part {").count(),
        1,
        "a shared nested type is generated once"
    );
    let strategies = emit_strategies::generate(&contracts).expect("generates");
    assert!(
        strategies.contains("pub fn arb_thing_happened()"),
        "{strategies}"
    );
    assert!(
        strategies.contains("(\"tributary.things.ThingNamed\", arb_thing_named()"),
        "{strategies}"
    );
}

#[test]
fn topic_list_and_files_must_match() {
    assert_rejected(
        &tree(vec![("ThingHappened", happened())]),
        "ThingNamed.avsc does not exist",
    );
    let mut extra = valid_tree();
    extra
        .files
        .get_mut("things")
        .expect("dir")
        .insert("Stray.avsc".to_owned(), "{}".to_owned());
    assert_rejected(&extra, "Stray.avsc is not listed");
    let mut unknown_dir = valid_tree();
    unknown_dir.files.insert(
        "ghosts".to_owned(),
        BTreeMap::from([("Boo.avsc".to_owned(), "{}".to_owned())]),
    );
    assert_rejected(&unknown_dir, "schemas/ghosts/ is not a topic");
}

#[test]
fn the_canonical_envelope_must_come_first() {
    assert_rejected(
        &happened_with(|fields| fields.rotate_left(1)),
        "first field must be `envelope`",
    );
    assert_rejected(
        &happened_with(|fields| fields[0]["type"]["fields"][4]["doc"] = json!("Someone else.")),
        "differs from the canonical",
    );
    assert_rejected(
        &happened_with(|fields| {
            fields.remove(0);
        }),
        "first field",
    );
}

#[test]
fn key_fields_must_exist_and_be_text() {
    assert_rejected(
        &happened_with(|fields| fields.retain(|f| f["name"] != "thing_id")),
        "key field `thing_id`",
    );
    assert_rejected(
        &happened_with(|fields| fields[1]["type"] = json!("int")),
        "must be a string or a uuid",
    );
}

#[test]
fn a_full_name_means_one_type_everywhere() {
    let mut other = named();
    other["fields"][2]["type"]["items"]["fields"][0]["doc"] = json!("Different.");
    assert_rejected(
        &tree(vec![("ThingHappened", happened()), ("ThingNamed", other)]),
        "`tributary.things.Part` differs",
    );
}

#[test]
fn names_docs_and_types_are_checked() {
    let mut wrong_namespace = happened();
    wrong_namespace["namespace"] = json!("tributary.other");
    assert_rejected(
        &tree(vec![
            ("ThingHappened", wrong_namespace),
            ("ThingNamed", named()),
        ]),
        "must be `tributary.things.ThingHappened`",
    );
    assert_rejected(
        &happened_with(|f| {
            f[1].as_object_mut().expect("field").remove("doc");
        }),
        "needs a non-empty `doc`",
    );
    assert_rejected(
        &happened_with(|f| f.push(json!({"name": "b", "type": "bytes", "doc": "B."}))),
        "`bytes`",
    );
    assert_rejected(
        &happened_with(|f| f.push(json!({"name": "k2", "type": "Kind", "doc": "Ref."}))),
        "define the type inline",
    );
    assert_rejected(
        &happened_with(|f| f.push(json!({"name": "u", "type": ["string", "null"], "doc": "U."}))),
        "null first",
    );
    assert_rejected(
        &happened_with(|f| f[2]["type"]["default"] = json!("HUGE")),
        "not one of its symbols",
    );
    assert_rejected(
        &happened_with(|f| {
            f.push(json!({"name": "n", "type": "int", "default": "x", "doc": "N."}))
        }),
        "does not fit",
    );
    assert_rejected(
        &happened_with(|f| {
            f.push(json!({"name": "ids", "type": {"type": "array", "items": {"type": "string", "logicalType": "uuid"}}, "doc": "Ids."}))
        }),
        "uuid inside an array",
    );
}

#[test]
fn generated_names_must_be_unique() {
    let mut clash = named();
    clash["fields"][2]["type"]["items"]["namespace"] = json!("tributary.elsewhere");
    assert_rejected(
        &tree(vec![("ThingHappened", happened()), ("ThingNamed", clash)]),
        "share the simple name `Part`",
    );
}
