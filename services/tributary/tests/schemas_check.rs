//! `tributary schemas check` against real git repositories built in a
//! temporary directory, and against this repository's own schemas.

use std::{fs, path::Path, process::Command};

use tributary::commands::schemas::check_repo;

const V1: &str = r#"{"type": "record", "name": "Thing", "namespace": "tributary.things", "doc": "A thing.",
  "fields": [{"name": "id", "type": "string", "doc": "Id."}]}"#;

/// v1 plus an optional field: BACKWARD compatible.
const V2_OPTIONAL: &str = r#"{"type": "record", "name": "Thing", "namespace": "tributary.things", "doc": "A thing.",
  "fields": [{"name": "id", "type": "string", "doc": "Id."},
             {"name": "note", "type": ["null", "string"], "default": null, "doc": "Note."}]}"#;

/// v1 plus a required field: v1 data cannot be read.
const V2_REQUIRED: &str = r#"{"type": "record", "name": "Thing", "namespace": "tributary.things", "doc": "A thing.",
  "fields": [{"name": "id", "type": "string", "doc": "Id."},
             {"name": "size", "type": "int", "doc": "Size."}]}"#;

const SCHEMA: &str = "schemas/things/Thing.avsc";

fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

fn write_schema(repo: &Path, text: &str) {
    let path = repo.join(SCHEMA);
    fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    fs::write(path, text).expect("write schema");
}

fn commit_schema(repo: &Path, text: &str, message: &str) {
    write_schema(repo, text);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
}

fn new_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    git(dir.path(), &["init", "-q"]);
    dir
}

#[test]
fn an_incompatible_committed_change_fails_and_names_the_schema() {
    let repo = new_repo();
    commit_schema(repo.path(), V1, "v1");
    commit_schema(repo.path(), V2_REQUIRED, "v2 adds a required field");

    let report = check_repo(repo.path()).expect("check runs");
    assert!(!report.is_ok(), "{report}");
    let failure = report.failures().next().expect("one failure");
    assert_eq!(failure.path, Path::new(SCHEMA));
    assert_eq!(
        failure.versions.len(),
        2,
        "both commits are earlier versions: {report}"
    );
    assert!(
        failure.violations.iter().any(|v| v.contains("version 1")),
        "{report}"
    );
    let error = report.into_result().expect_err("fails").to_string();
    assert!(error.contains(SCHEMA), "{error}");
}

#[test]
fn an_uncommitted_incompatible_change_fails_and_a_compatible_one_passes() {
    let repo = new_repo();
    commit_schema(repo.path(), V1, "v1");

    write_schema(repo.path(), V2_REQUIRED);
    assert!(!check_repo(repo.path()).expect("check runs").is_ok());

    write_schema(repo.path(), V2_OPTIONAL);
    let report = check_repo(repo.path()).expect("check runs");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.schemas.len(), 1);
}

#[test]
fn renamed_files_keep_their_history() {
    let repo = new_repo();
    commit_schema(repo.path(), V1, "v1");
    fs::create_dir_all(repo.path().join("schemas/stuff")).expect("mkdir");
    git(repo.path(), &["mv", SCHEMA, "schemas/stuff/Thing.avsc"]);
    git(repo.path(), &["commit", "-q", "-m", "move"]);
    fs::write(repo.path().join("schemas/stuff/Thing.avsc"), V2_REQUIRED).expect("write");

    let report = check_repo(repo.path()).expect("check runs");
    assert!(
        !report.is_ok(),
        "the pre-rename version still counts: {report}"
    );
}

#[test]
fn no_history_passes_with_a_note_but_invalid_avro_fails() {
    let plain = tempfile::tempdir().expect("tempdir");
    write_schema(plain.path(), V2_REQUIRED);
    let report = check_repo(plain.path()).expect("check runs");
    assert!(report.is_ok(), "{report}");
    assert!(report.notes.iter().any(|n| n.contains("git")), "{report}");

    let empty_repo = new_repo();
    write_schema(
        empty_repo.path(),
        r#"{"type": "record", "name": "Thing", "fields": "nope"}"#,
    );
    let report = check_repo(empty_repo.path()).expect("check runs");
    assert!(!report.is_ok(), "invalid Avro must fail: {report}");
}

#[test]
fn this_repository_passes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = check_repo(&root).expect("check runs");
    assert!(report.is_ok(), "{report}");
    assert!(
        report.schemas.len() >= tributary_contracts::CATALOG.len(),
        "{report}"
    );
}
