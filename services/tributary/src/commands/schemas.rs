//! `tributary schemas`: keep the Avro contracts evolvable and documented.
//!
//! - `check`: every schema under `schemas/` must be BACKWARD compatible with
//!   every earlier version of it: each version committed in git history and,
//!   with `--registry`, each version registered under its subject. CI runs it.
//! - `asyncapi`: print, write or drift-check `docs/asyncapi.yaml`.
//! - `register`: register every contract schema with a registry.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tributary_contracts::{CATALOG, asyncapi, check_history, parse_schema, subject_name};
use tributary_registry::{ClientConfig, RegistryClient, RegistryError};

/// Arguments of `tributary schemas`.
#[derive(Debug, Args)]
pub struct SchemasArgs {
    #[command(subcommand)]
    pub command: SchemasCommand,
}

/// The `schemas` subcommands.
#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// Fail when a schema is not BACKWARD compatible with every earlier version
    /// of it in git history (and in the registry, with --registry).
    Check {
        /// Repository root (the directory holding `schemas/`).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Also check against every version registered under each subject.
        #[arg(long, env = "TRIBUTARY_REGISTRY_URL")]
        registry: Option<String>,
    },
    /// Print the AsyncAPI document, write it to docs/asyncapi.yaml, or check it is current.
    Asyncapi {
        /// Repository root (the directory holding `docs/`).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Write docs/asyncapi.yaml instead of printing.
        #[arg(long, conflicts_with = "check")]
        write: bool,
        /// Fail when docs/asyncapi.yaml differs from what the schemas render to.
        #[arg(long)]
        check: bool,
    },
    /// Register every contract schema under its TopicRecordNameStrategy subject.
    Register {
        /// Base URL of a Confluent-compatible schema registry.
        #[arg(long, env = "TRIBUTARY_REGISTRY_URL")]
        registry: String,
    },
}

/// Runs a `schemas` subcommand.
pub async fn run(args: SchemasArgs) -> anyhow::Result<()> {
    match args.command {
        SchemasCommand::Check { repo, registry } => {
            let report = match registry {
                None => tokio::task::spawn_blocking(move || check_repo(&repo))
                    .await
                    .context("the schema check task failed")??,
                Some(url) => {
                    let client = RegistryClient::new(&url, ClientConfig::default())
                        .with_context(|| format!("registry URL {url}"))?;
                    check_repo_with_registry(&repo, &client).await?
                }
            };
            print!("{report}");
            report.into_result()
        }
        SchemasCommand::Asyncapi { repo, write, check } => asyncapi_command(&repo, write, check),
        SchemasCommand::Register { registry } => register(&registry).await,
    }
}

/// The outcome of `schemas check`: one entry per schema file.
#[derive(Debug, Default)]
pub struct Report {
    pub schemas: Vec<SchemaReport>,
    /// Things the reader should know, e.g. that there was no git history.
    pub notes: Vec<String>,
}

/// The check of one schema file.
#[derive(Debug)]
pub struct SchemaReport {
    /// Path relative to the repository root, e.g. `schemas/orders/OrderPlaced.avsc`.
    pub path: PathBuf,
    /// The earlier versions checked against, oldest first, by origin
    /// (`git abc1234`, `registry v2 (id 7)`); violation messages refer to them
    /// by 1-based position ("version 2").
    pub versions: Vec<String>,
    /// Empty when the schema passed.
    pub violations: Vec<String>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.schemas.iter().all(|s| s.violations.is_empty())
    }

    /// The reports of the schemas that failed.
    pub fn failures(&self) -> impl Iterator<Item = &SchemaReport> {
        self.schemas.iter().filter(|s| !s.violations.is_empty())
    }

    /// `Ok` when every schema passed, else an error listing every violation.
    pub fn into_result(self) -> anyhow::Result<()> {
        if self.is_ok() {
            return Ok(());
        }
        let mut message = String::from("schema evolution check failed:");
        for failure in self.failures() {
            for violation in &failure.violations {
                message.push_str(&format!("\n  {}: {violation}", failure.path.display()));
            }
        }
        bail!(message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        for schema in &self.schemas {
            let status = if schema.violations.is_empty() {
                "OK  "
            } else {
                "FAIL"
            };
            writeln!(
                f,
                "{status} {} ({} earlier version{})",
                schema.path.display(),
                schema.versions.len(),
                if schema.versions.len() == 1 { "" } else { "s" }
            )?;
            if schema.violations.is_empty() {
                continue;
            }
            for violation in &schema.violations {
                writeln!(f, "     - {violation}")?;
            }
            let versions: Vec<String> = schema
                .versions
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{}={v}", i + 1))
                .collect();
            if !versions.is_empty() {
                writeln!(f, "     versions (oldest first): {}", versions.join(", "))?;
            }
        }
        let failed = self.failures().count();
        writeln!(
            f,
            "{} schema(s) checked, {failed} failed",
            self.schemas.len()
        )
    }
}

/// One schema file and the earlier versions it must stay compatible with.
struct Candidate {
    relative: PathBuf,
    current: String,
    versions: Vec<(String, String)>,
}

/// Checks every `.avsc` under `<repo>/schemas` against its git history.
///
/// A directory that is not a git work tree, a repository without commits and
/// files never committed have no history: they pass (with a note) unless
/// they are invalid Avro.
///
/// # Errors
/// When `schemas/` cannot be read or `git` cannot be run at all.
pub fn check_repo(repo: &Path) -> anyhow::Result<Report> {
    let (candidates, notes) = collect_candidates(repo)?;
    Ok(evaluate(candidates, notes))
}

/// [`check_repo`], plus every version registered under each schema's subject.
///
/// # Errors
/// Also when the registry cannot be reached or answers with an error other
/// than "subject not found".
pub async fn check_repo_with_registry(
    repo: &Path,
    registry: &RegistryClient,
) -> anyhow::Result<Report> {
    let owned_repo = repo.to_path_buf();
    let (mut candidates, notes) =
        tokio::task::spawn_blocking(move || collect_candidates(&owned_repo))
            .await
            .context("the schema check task failed")??;
    for candidate in &mut candidates {
        let Some(subject) = subject_of(candidate) else {
            continue; // invalid or misplaced: reported by the check itself
        };
        let versions = match registry.versions(&subject).await {
            Ok(versions) => versions,
            Err(RegistryError::NotFound { .. }) => Vec::new(),
            Err(error) => {
                return Err(error).with_context(|| format!("listing the versions of {subject}"));
            }
        };
        for version in versions {
            let registered = registry
                .version(&subject, version)
                .await
                .with_context(|| format!("fetching {subject} version {version}"))?;
            candidate.versions.push((
                format!("registry {subject} v{version} (id {})", registered.id),
                registered.schema,
            ));
        }
    }
    Ok(evaluate(candidates, notes))
}

fn evaluate(candidates: Vec<Candidate>, notes: Vec<String>) -> Report {
    let schemas = candidates
        .into_iter()
        .map(|candidate| {
            let (labels, texts): (Vec<String>, Vec<String>) =
                candidate.versions.into_iter().unzip();
            let violations = check_history(&candidate.current, &texts)
                .err()
                .unwrap_or_default();
            SchemaReport {
                path: candidate.relative,
                versions: labels,
                violations,
            }
        })
        .collect();
    Report { schemas, notes }
}

/// `<topic>-<full name>` for a schema at `schemas/<topic>/<Record>.avsc`.
fn subject_of(candidate: &Candidate) -> Option<String> {
    let topic = candidate.relative.parent()?.file_name()?.to_str()?;
    match parse_schema(&candidate.current).ok()? {
        apache_avro::Schema::Record(record) => {
            Some(subject_name(topic, &record.name.fullname(None)))
        }
        _ => None,
    }
}

fn collect_candidates(repo: &Path) -> anyhow::Result<(Vec<Candidate>, Vec<String>)> {
    let schemas_dir = repo.join("schemas");
    let mut files = Vec::new();
    find_schema_files(&schemas_dir, &mut files)
        .with_context(|| format!("reading {}", schemas_dir.display()))?;
    files.sort();
    let mut notes = Vec::new();
    let history = GitHistory::open(repo)?;
    if let Some(reason) = &history.unavailable {
        notes.push(format!("no git history to check against: {reason}"));
    }
    let mut candidates = Vec::with_capacity(files.len());
    for file in files {
        let relative = file.strip_prefix(repo).unwrap_or(&file).to_path_buf();
        let current =
            fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let versions = history.versions(&relative)?;
        candidates.push(Candidate {
            relative,
            current,
            versions,
        });
    }
    if candidates.is_empty() {
        notes.push(format!("no .avsc files under {}", schemas_dir.display()));
    }
    Ok((candidates, notes))
}

fn find_schema_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            find_schema_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "avsc") {
            out.push(path);
        }
    }
    Ok(())
}

/// Read access to the committed versions of files, through the `git` CLI.
struct GitHistory {
    repo: PathBuf,
    /// Why there is no history (not a work tree, no commits), if so.
    unavailable: Option<String>,
}

impl GitHistory {
    fn open(repo: &Path) -> anyhow::Result<GitHistory> {
        let unavailable = if git(repo, &["rev-parse", "--is-inside-work-tree"])?.is_none() {
            Some(format!("{} is not inside a git work tree", repo.display()))
        } else if git(repo, &["rev-parse", "--verify", "--quiet", "HEAD"])?.is_none() {
            Some("the repository has no commits yet".to_owned())
        } else {
            None
        };
        Ok(GitHistory {
            repo: repo.to_path_buf(),
            unavailable,
        })
    }

    /// Every committed version of `relative` (following renames), oldest
    /// first, labelled `git <short sha>`.
    fn versions(&self, relative: &Path) -> anyhow::Result<Vec<(String, String)>> {
        if self.unavailable.is_some() {
            return Ok(Vec::new());
        }
        let pathspec = relative.to_string_lossy();
        // `--diff-filter=d` leaves out deletions; `--name-only` gives the path
        // each commit knew the file by (relative to the top level).
        let log = git(
            &self.repo,
            &[
                "log",
                "--follow",
                "--diff-filter=d",
                "--format=commit %H",
                "--name-only",
                "--",
                &pathspec,
            ],
        )?
        .unwrap_or_default();
        let mut versions = Vec::new();
        for (sha, path) in parse_log(&log) {
            let object = format!("{sha}:{path}");
            let Some(text) = git(&self.repo, &["show", &object])? else {
                continue; // e.g. a merge that did not touch the file
            };
            let short = sha.get(..10).unwrap_or(&sha);
            versions.push((format!("git {short}"), text));
        }
        versions.reverse();
        Ok(versions)
    }
}

/// Pairs of (commit, path) from `git log --format='commit %H' --name-only`.
fn parse_log(log: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut commit: Option<&str> = None;
    for line in log.lines() {
        if let Some(sha) = line.strip_prefix("commit ") {
            commit = Some(sha.trim());
        } else if !line.trim().is_empty()
            && let Some(sha) = commit.take()
        {
            pairs.push((sha.to_owned(), line.trim().to_owned()));
        }
    }
    pairs
}

/// Runs `git -C repo args`: `Ok(Some(stdout))` on success, `Ok(None)` when
/// git ran and failed, `Err` when git could not be run at all.
fn git(repo: &Path, args: &[&str]) -> anyhow::Result<Option<String>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .context("running git (is it installed and on PATH?)")?;
    if !output.status.success() {
        return Ok(None);
    }
    String::from_utf8(output.stdout)
        .map(Some)
        .with_context(|| format!("git {} printed non-UTF-8 output", args.join(" ")))
}

fn asyncapi_command(repo: &Path, write: bool, check: bool) -> anyhow::Result<()> {
    let rendered = asyncapi::render();
    let path = repo.join(asyncapi::DOCUMENT_PATH);
    if write {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fs::write(&path, &rendered).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    } else if check {
        let committed =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        if committed != rendered {
            bail!(
                "{} is out of date with schemas/; regenerate it with `{}`",
                path.display(),
                asyncapi::REGENERATE_COMMAND
            );
        }
        println!("{} is up to date", path.display());
    } else {
        print!("{rendered}");
    }
    Ok(())
}

async fn register(url: &str) -> anyhow::Result<()> {
    let client = RegistryClient::new(url, ClientConfig::default())
        .with_context(|| format!("registry URL {url}"))?;
    for descriptor in CATALOG {
        let subject = descriptor.subject();
        match client.register(&subject, descriptor.schema_json).await {
            Ok(id) => println!("{subject} -> {id}"),
            Err(RegistryError::Incompatible { message, .. }) => {
                bail!(
                    "the registry rejected {subject} as incompatible with its earlier versions: {message}"
                )
            }
            Err(error) => return Err(error).with_context(|| format!("registering {subject}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_git_log_with_renames_and_merges() {
        let log = "commit aaa\n\nschemas/o/B.avsc\ncommit mmm\ncommit bbb\n\nschemas/o/A.avsc\n";
        assert_eq!(
            parse_log(log),
            vec![
                ("aaa".to_owned(), "schemas/o/B.avsc".to_owned()),
                ("bbb".to_owned(), "schemas/o/A.avsc".to_owned())
            ]
        );
    }
}
