//! Handlers of the Confluent REST API. Reads answer from the in-memory state;
//! writes go through the instance's single [`Writer`](crate::writer::Writer).

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tributary_contracts::CompatibilityLevel;

use super::{
    AppState,
    body::{ApiBody, Vnd, raw_json},
    errors::ApiError,
};
use crate::{
    schema::{SchemaError, StoredSchema},
    state::VersionSelector,
    tailer::read,
};

/// Body of register, lookup and compatibility requests.
#[derive(Debug, Deserialize)]
pub(crate) struct SchemaRequest {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<Value>>,
}

impl SchemaRequest {
    fn parse(&self) -> Result<StoredSchema, SchemaError> {
        if self.references.as_ref().is_some_and(|r| !r.is_empty()) {
            return Err(SchemaError::References);
        }
        StoredSchema::parse(&self.schema, self.schema_type.as_deref())
    }
}

/// Body of `PUT /config[/{subject}]`.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfigRequest {
    #[serde(default)]
    compatibility: Option<String>,
}

#[derive(Serialize)]
struct ConfigAnswer {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: CompatibilityLevel,
}

#[derive(Serialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Serialize)]
struct SchemaAnswer<'a> {
    schema: &'a str,
}

#[derive(Serialize)]
struct SubjectVersionRef {
    subject: String,
    version: u32,
}

#[derive(Serialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<String>>,
}

pub(crate) async fn root() -> Response {
    Vnd(json!({})).into_response()
}

pub(crate) async fn live() -> Response {
    Vnd(json!({"status": "UP"})).into_response()
}

pub(crate) async fn ready(State(app): State<AppState>) -> Response {
    if app.progress.is_healthy() {
        Vnd(json!({"status": "UP"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Vnd(json!({"status": "DOWN", "reason": "schemas topic not readable"})),
        )
            .into_response()
    }
}

pub(crate) async fn schema_types() -> Response {
    Vnd(["AVRO"]).into_response()
}

pub(crate) async fn subjects(State(app): State<AppState>) -> Response {
    Vnd(read(&app.state).subjects()).into_response()
}

pub(crate) async fn register(
    State(app): State<AppState>,
    Path(subject): Path<String>,
    ApiBody(request): ApiBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let schema = request.parse()?;
    let id = app.writer.register(&subject, &schema).await?;
    Ok(Vnd(IdAnswer { id }).into_response())
}

pub(crate) async fn lookup(
    State(app): State<AppState>,
    Path(subject): Path<String>,
    ApiBody(request): ApiBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let schema = request.parse()?;
    let found = read(&app.state).lookup(&subject, &schema)?;
    Ok(Vnd(found).into_response())
}

pub(crate) async fn delete_subject(
    State(app): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    if flag(query.as_deref(), "permanent") {
        return Err(ApiError::Unsupported(
            "Permanent deletion is not supported; ids stay resolvable".to_owned(),
        ));
    }
    let versions = app.writer.delete_subject(&subject).await?;
    Ok(Vnd(versions).into_response())
}

pub(crate) async fn versions(
    State(app): State<AppState>,
    Path(subject): Path<String>,
) -> Result<Response, ApiError> {
    let versions = read(&app.state).versions(&subject)?;
    Ok(Vnd(versions).into_response())
}

pub(crate) async fn version(
    State(app): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let selector = parse_version(&version)?;
    let found = read(&app.state).version(&subject, selector)?;
    Ok(Vnd(found).into_response())
}

pub(crate) async fn version_schema(
    State(app): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let selector = parse_version(&version)?;
    let found = read(&app.state).version(&subject, selector)?;
    Ok(raw_json(found.schema))
}

pub(crate) async fn schema_by_id(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let state = read(&app.state);
    let schema = parse_id(&id)
        .and_then(|id| state.schema_by_id(id))
        .ok_or_else(|| schema_not_found(&id))?;
    Ok(Vnd(SchemaAnswer {
        schema: &schema.text,
    })
    .into_response())
}

pub(crate) async fn schema_text_by_id(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let state = read(&app.state);
    let schema = parse_id(&id)
        .and_then(|id| state.schema_by_id(id))
        .ok_or_else(|| schema_not_found(&id))?;
    Ok(raw_json(schema.text.clone()))
}

pub(crate) async fn schema_usages(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let state = read(&app.state);
    let id_number = parse_id(&id)
        .filter(|id| state.schema_by_id(*id).is_some())
        .ok_or_else(|| schema_not_found(&id))?;
    let usages: Vec<SubjectVersionRef> = state
        .usages(id_number)
        .into_iter()
        .map(|(subject, version)| SubjectVersionRef { subject, version })
        .collect();
    Ok(Vnd(usages).into_response())
}

pub(crate) async fn check_version(
    State(app): State<AppState>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    ApiBody(request): ApiBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    let selector = parse_version(&version)?;
    check(&app, &subject, Some(selector), query.as_deref(), &request)
}

pub(crate) async fn check_all(
    State(app): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
    ApiBody(request): ApiBody<SchemaRequest>,
) -> Result<Response, ApiError> {
    check(&app, &subject, None, query.as_deref(), &request)
}

fn check(
    app: &AppState,
    subject: &str,
    selector: Option<VersionSelector>,
    query: Option<&str>,
    request: &SchemaRequest,
) -> Result<Response, ApiError> {
    let schema = request.parse()?;
    let outcome = read(&app.state).check(subject, selector, &schema)?;
    let verbose = flag(query, "verbose");
    let answer = match outcome {
        Ok(()) => CompatibilityAnswer {
            is_compatible: true,
            messages: verbose.then(Vec::new),
        },
        Err(messages) => CompatibilityAnswer {
            is_compatible: false,
            messages: verbose.then_some(messages),
        },
    };
    Ok(Vnd(answer).into_response())
}

pub(crate) async fn get_global_config(State(app): State<AppState>) -> Response {
    Vnd(ConfigAnswer {
        compatibility_level: read(&app.state).global_level(),
    })
    .into_response()
}

pub(crate) async fn put_global_config(
    State(app): State<AppState>,
    ApiBody(request): ApiBody<ConfigRequest>,
) -> Result<Response, ApiError> {
    let level = parse_level(request.compatibility.as_deref())?;
    app.writer.set_level(None, Some(level)).await?;
    Ok(Vnd(json!({ "compatibility": level })).into_response())
}

pub(crate) async fn get_subject_config(
    State(app): State<AppState>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let state = read(&app.state);
    let level = match state.subject_level(&subject) {
        Some(level) => level,
        None if flag(query.as_deref(), "defaultToGlobal") => state.global_level(),
        None => {
            return Err(ApiError::SubjectLevelNotConfigured(format!(
                "Subject '{subject}' does not have subject-level compatibility configured"
            )));
        }
    };
    Ok(Vnd(ConfigAnswer {
        compatibility_level: level,
    })
    .into_response())
}

pub(crate) async fn put_subject_config(
    State(app): State<AppState>,
    Path(subject): Path<String>,
    ApiBody(request): ApiBody<ConfigRequest>,
) -> Result<Response, ApiError> {
    let level = parse_level(request.compatibility.as_deref())?;
    app.writer.set_level(Some(&subject), Some(level)).await?;
    Ok(Vnd(json!({ "compatibility": level })).into_response())
}

pub(crate) async fn delete_subject_config(
    State(app): State<AppState>,
    Path(subject): Path<String>,
) -> Result<Response, ApiError> {
    let previous = read(&app.state).subject_level(&subject).ok_or_else(|| {
        ApiError::SubjectLevelNotConfigured(format!(
            "Subject '{subject}' does not have subject-level compatibility configured"
        ))
    })?;
    app.writer.set_level(Some(&subject), None).await?;
    Ok(Vnd(ConfigAnswer {
        compatibility_level: previous,
    })
    .into_response())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `latest`, `-1` or a version number in Confluent's range [1, 2^31-1].
fn parse_version(text: &str) -> Result<VersionSelector, ApiError> {
    if text.eq_ignore_ascii_case("latest") || text == "-1" {
        return Ok(VersionSelector::Latest);
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(VersionSelector::Number(n)),
        _ => Err(ApiError::InvalidVersion(format!(
            "The specified version '{text}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
        ))),
    }
}

fn parse_id(text: &str) -> Option<u32> {
    text.parse().ok()
}

fn schema_not_found(id: &str) -> ApiError {
    ApiError::SchemaNotFound(format!("Schema {id} not found"))
}

fn parse_level(text: Option<&str>) -> Result<CompatibilityLevel, ApiError> {
    let invalid = || {
        ApiError::InvalidCompatibilityLevel(
            "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, \
             forward_transitive, and full_transitive"
                .to_owned(),
        )
    };
    text.ok_or_else(invalid)?.parse().map_err(|_| invalid())
}

/// Whether `name=true` is in the query string.
fn flag(query: Option<&str>, name: &str) -> bool {
    query.unwrap_or_default().split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        key == name && value.eq_ignore_ascii_case("true")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_confluent_rules() {
        assert_eq!(parse_version("latest").ok(), Some(VersionSelector::Latest));
        assert_eq!(parse_version("-1").ok(), Some(VersionSelector::Latest));
        assert_eq!(parse_version("3").ok(), Some(VersionSelector::Number(3)));
        for bad in ["0", "-2", "abc", "2147483648", ""] {
            assert!(
                matches!(parse_version(bad), Err(ApiError::InvalidVersion(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_flags_and_levels() {
        assert!(flag(Some("verbose=true"), "verbose"));
        assert!(flag(Some("a=1&verbose=TRUE"), "verbose"));
        assert!(!flag(Some("verbose=false"), "verbose"));
        assert!(!flag(None, "verbose"));
        assert_eq!(
            parse_level(Some("none")).ok(),
            Some(CompatibilityLevel::None)
        );
        assert!(matches!(
            parse_level(Some("sideways")),
            Err(ApiError::InvalidCompatibilityLevel(_))
        ));
        assert!(matches!(
            parse_level(None),
            Err(ApiError::InvalidCompatibilityLevel(_))
        ));
    }
}
