//! A client for any Confluent-compatible schema registry (ours, Confluent,
//! Karapace, Apicurio's ccompat API, Redpanda).
//!
//! It only uses the common subset of the REST API, sends Confluent's media
//! type, retries only what may succeed on a second try (connection failures,
//! timeouts and 5xx answers; every call here is idempotent, registering the
//! same schema twice yields the same id) and caches what never changes: the id
//! of a (subject, schema) pair and the schema behind an id.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use apache_avro::Schema;
use reqwest::{Method, StatusCode, Url, header};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use tributary_contracts::CompatibilityLevel;

use crate::error::{
    RegistryError,
    codes::{SCHEMA_NOT_FOUND, SUBJECT_NOT_FOUND},
};

/// Confluent's media type, sent as `Accept` and `Content-Type`.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Upper bound for one backoff pause, however many attempts are configured.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Entries kept in each cache; past this, new entries are simply not cached,
/// so a process that sees unboundedly many schemas cannot grow without bound.
const MAX_CACHE_ENTRIES: usize = 10_000;

/// How patient a [`RegistryClient`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Time limit for one HTTP request (connect + answer).
    pub timeout: Duration,
    /// Attempts per call, the first one included (at least 1 is made).
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubled after each further one,
    /// capped at 5 s.
    pub backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            backoff: Duration::from_millis(200),
        }
    }
}

/// One version of a subject, as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
}

/// A schema registry client; cheap to clone, clones share the caches.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The caches can hold thousands of schemas: keep them out of logs.
        f.debug_struct("RegistryClient")
            .field("base_url", &self.inner.base_url)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    base: Url,
    config: ClientConfig,
    /// (subject, schema text) → global id.
    ids: Mutex<HashMap<(String, String), u32>>,
    /// Global id → parsed schema. Ids are immutable, so this never expires.
    schemas: Mutex<HashMap<u32, Arc<Schema>>>,
}

#[derive(Serialize)]
struct SchemaBody<'a> {
    schema: &'a str,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaByIdBody {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: u32,
    message: String,
}

#[derive(Serialize)]
struct CompatibilityBody {
    compatibility: CompatibilityLevel,
}

#[derive(Deserialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
    #[serde(default)]
    messages: Vec<String>,
}

impl RegistryClient {
    /// A client for the registry at `base_url` (e.g. `http://localhost:8081`;
    /// a path prefix is kept). Does no I/O.
    pub fn new(base_url: &str, config: ClientConfig) -> Result<Self, RegistryError> {
        let invalid = |detail: String| RegistryError::InvalidUrl {
            url: base_url.to_owned(),
            detail,
        };
        let base = Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme `{}` is not http or https",
                base.scheme()
            )));
        }
        if base.cannot_be_a_base() {
            return Err(invalid("not a base URL".to_owned()));
        }
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            header::HeaderValue::from_static(CONTENT_TYPE),
        );
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .default_headers(headers)
            .build()
            .map_err(|e| invalid(format!("cannot build HTTP client: {e}")))?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                base_url: base_url.trim_end_matches('/').to_owned(),
                base,
                config,
                ids: Mutex::new(HashMap::new()),
                schemas: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The registry URL this client talks to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Registers `schema_json` under `subject` (`POST /subjects/{subject}/versions`)
    /// and returns its global id. Registering an already registered schema is
    /// answered with the existing id; answers are cached per (subject, schema).
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<u32, RegistryError> {
        let key = (subject.to_owned(), schema_json.to_owned());
        if let Some(id) = lock(&self.inner.ids).get(&key) {
            return Ok(*id);
        }
        let body = SchemaBody {
            schema: schema_json,
        };
        let answer: IdBody = self
            .call(
                Method::POST,
                &["subjects", subject, "versions"],
                Some(&body),
                Some(subject),
            )
            .await?;
        insert_bounded(&mut lock(&self.inner.ids), key, answer.id);
        Ok(answer.id)
    }

    /// Finds `schema_json` among the versions of `subject` (`POST /subjects/{subject}`).
    /// `Ok(None)` when the subject or the schema under it is unknown.
    pub async fn lookup(
        &self,
        subject: &str,
        schema_json: &str,
    ) -> Result<Option<SubjectVersion>, RegistryError> {
        let body = SchemaBody {
            schema: schema_json,
        };
        match self
            .call_raw(Method::POST, self.url(&["subjects", subject])?, Some(&body))
            .await?
        {
            Answer::Ok(bytes) => parse_body(&bytes).map(Some),
            Answer::Err {
                error_code: SUBJECT_NOT_FOUND | SCHEMA_NOT_FOUND,
                ..
            } => Ok(None),
            Answer::Err {
                status,
                error_code,
                message,
            } => Err(RegistryError::from_api(
                Some(subject),
                status,
                error_code,
                message,
            )),
        }
    }

    /// The schema with global id `id` (`GET /schemas/ids/{id}`), parsed.
    /// Cached for the life of the client: ids never change meaning.
    pub async fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(schema) = lock(&self.inner.schemas).get(&id) {
            return Ok(Arc::clone(schema));
        }
        let id_text = id.to_string();
        let answer: SchemaByIdBody = self
            .call(
                Method::GET,
                &["schemas", "ids", &id_text],
                None::<&()>,
                None,
            )
            .await?;
        if let Some(kind) = answer.schema_type.as_deref()
            && !kind.eq_ignore_ascii_case("AVRO")
        {
            return Err(RegistryError::InvalidSchema {
                message: format!("schema id {id} is of type {kind}, not AVRO"),
            });
        }
        let schema =
            Schema::parse_str(&answer.schema).map_err(|e| RegistryError::InvalidSchema {
                message: format!("schema id {id} does not parse as Avro: {e}"),
            })?;
        let schema = Arc::new(schema);
        insert_bounded(&mut lock(&self.inner.schemas), id, Arc::clone(&schema));
        Ok(schema)
    }

    /// Every subject (`GET /subjects`).
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        self.call(Method::GET, &["subjects"], None::<&()>, None)
            .await
    }

    /// The version numbers of `subject` (`GET /subjects/{subject}/versions`).
    pub async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        self.call(
            Method::GET,
            &["subjects", subject, "versions"],
            None::<&()>,
            Some(subject),
        )
        .await
    }

    /// One version of `subject` (`GET /subjects/{subject}/versions/{version}`).
    pub async fn version(
        &self,
        subject: &str,
        version: u32,
    ) -> Result<SubjectVersion, RegistryError> {
        let version = version.to_string();
        self.call(
            Method::GET,
            &["subjects", subject, "versions", &version],
            None::<&()>,
            Some(subject),
        )
        .await
    }

    /// The newest version of `subject` (`GET /subjects/{subject}/versions/latest`).
    pub async fn latest_version(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.call(
            Method::GET,
            &["subjects", subject, "versions", "latest"],
            None::<&()>,
            Some(subject),
        )
        .await
    }

    /// Asks whether `schema_json` could be registered under `subject` without
    /// registering it (`POST /compatibility/subjects/{subject}/versions/latest?verbose=true`).
    /// `Ok(Ok(()))` when compatible, `Ok(Err(messages))` when not.
    pub async fn test_compatibility(
        &self,
        subject: &str,
        schema_json: &str,
    ) -> Result<Result<(), Vec<String>>, RegistryError> {
        let body = SchemaBody {
            schema: schema_json,
        };
        let answer: CompatibilityAnswer = self
            .call_with_query(
                Method::POST,
                &["compatibility", "subjects", subject, "versions", "latest"],
                Some("verbose=true"),
                Some(&body),
                Some(subject),
            )
            .await?;
        Ok(if answer.is_compatible {
            Ok(())
        } else {
            Err(answer.messages)
        })
    }

    /// Sets the compatibility level of `subject` (`PUT /config/{subject}`).
    pub async fn set_subject_compatibility(
        &self,
        subject: &str,
        level: CompatibilityLevel,
    ) -> Result<(), RegistryError> {
        let body = CompatibilityBody {
            compatibility: level,
        };
        let _: serde_json::Value = self
            .call(
                Method::PUT,
                &["config", subject],
                Some(&body),
                Some(subject),
            )
            .await?;
        Ok(())
    }

    /// Calls the registry and decodes a 2xx answer, mapping error answers to
    /// [`RegistryError`] variants.
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        body: Option<&B>,
        subject: Option<&str>,
    ) -> Result<T, RegistryError> {
        self.call_with_query(method, path, None, body, subject)
            .await
    }

    /// [`Self::call`] with a query string (`verbose=true`).
    async fn call_with_query<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: Option<&str>,
        body: Option<&B>,
        subject: Option<&str>,
    ) -> Result<T, RegistryError> {
        let mut url = self.url(path)?;
        url.set_query(query);
        match self.call_raw(method, url, body).await? {
            Answer::Ok(bytes) => parse_body(&bytes),
            Answer::Err {
                status,
                error_code,
                message,
            } => Err(RegistryError::from_api(
                subject, status, error_code, message,
            )),
        }
    }

    /// Sends one request with bounded retries and classifies the answer.
    async fn call_raw<B: Serialize>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<Answer, RegistryError> {
        let body =
            body.map(serde_json::to_vec)
                .transpose()
                .map_err(|e| RegistryError::InvalidSchema {
                    message: format!("cannot encode request body: {e}"),
                })?;
        let attempts = self.inner.config.max_attempts.max(1);
        let mut pause = self.inner.config.backoff;
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(&method, &url, body.as_deref()).await;
            let retry_detail = match outcome {
                Ok(Answer::Err {
                    status,
                    error_code,
                    message,
                }) if status >= 500 => {
                    if attempt >= attempts {
                        return Ok(Answer::Err {
                            status,
                            error_code,
                            message,
                        });
                    }
                    format!("HTTP {status}: {message}")
                }
                Ok(answer) => return Ok(answer),
                // Transport failures (refused, reset, timed out) may pass on a
                // later try; a request that cannot even be built will not.
                Err(e) if !e.is_builder() => {
                    if attempt >= attempts {
                        return Err(RegistryError::Unreachable {
                            url: url.to_string(),
                            attempts,
                            detail: error_chain(&e),
                        });
                    }
                    error_chain(&e)
                }
                Err(e) => {
                    return Err(RegistryError::InvalidUrl {
                        url: url.to_string(),
                        detail: error_chain(&e),
                    });
                }
            };
            tracing::debug!(%url, attempt, detail = %retry_detail, "schema registry call failed; retrying");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self.inner.http.request(method.clone(), url.clone());
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body.to_vec());
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.is_success() {
            return Ok(Answer::Ok(bytes.to_vec()));
        }
        Ok(error_answer(status, &bytes))
    }

    /// Joins `path` onto the base URL, percent-encoding each segment (subjects
    /// may hold characters that are special in URLs).
    fn url(&self, path: &[&str]) -> Result<Url, RegistryError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| RegistryError::InvalidUrl {
                url: self.inner.base_url.clone(),
                detail: "not a base URL".to_owned(),
            })?
            .pop_if_empty()
            .extend(path);
        Ok(url)
    }
}

/// A classified registry answer.
enum Answer {
    Ok(Vec<u8>),
    Err {
        status: u16,
        error_code: u32,
        message: String,
    },
}

/// Reads Confluent's `{"error_code", "message"}`, falling back to the status
/// and body text for registries or proxies that answer otherwise.
fn error_answer(status: StatusCode, bytes: &[u8]) -> Answer {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => Answer::Err {
            status: status.as_u16(),
            error_code: body.error_code,
            message: body.message,
        },
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let message = if text.trim().is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                text.chars().take(500).collect()
            };
            Answer::Err {
                status: status.as_u16(),
                error_code: u32::from(status.as_u16()),
                message,
            }
        }
    }
}

fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Api {
        status: 200,
        error_code: 200,
        message: format!("unexpected answer body: {e}"),
    })
}

/// The error with its sources, which is where reqwest keeps the useful part
/// ("connection refused").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Locks a cache; a poisoned cache is still a valid map, so keep using it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn insert_bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() < MAX_CACHE_ENTRIES {
        map.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unusable_urls() {
        for url in ["not a url", "ftp://host:21", "mailto:someone@example.com"] {
            let result = RegistryClient::new(url, ClientConfig::default());
            assert!(
                matches!(result, Err(RegistryError::InvalidUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn builds_urls_with_encoded_segments_and_kept_prefix() {
        let client = RegistryClient::new("http://host:8081/registry/", ClientConfig::default())
            .expect("valid url");
        assert_eq!(client.base_url(), "http://host:8081/registry");
        let url = client.url(&["subjects", "a/b c", "versions"]).expect("url");
        assert_eq!(
            url.as_str(),
            "http://host:8081/registry/subjects/a%2Fb%20c/versions"
        );
    }

    #[test]
    fn maps_confluent_error_codes() {
        let answer = error_answer(
            StatusCode::CONFLICT,
            br#"{"error_code":409,"message":"nope"}"#,
        );
        let Answer::Err {
            status,
            error_code,
            message,
        } = answer
        else {
            panic!("error answer expected")
        };
        let error = RegistryError::from_api(Some("s"), status, error_code, message);
        assert!(
            matches!(error, RegistryError::Incompatible { ref subject, .. } if subject == "s"),
            "{error}"
        );

        let Answer::Err {
            status,
            error_code,
            message,
        } = error_answer(StatusCode::BAD_GATEWAY, b"<html>proxy</html>")
        else {
            panic!("error answer expected")
        };
        assert_eq!((status, error_code), (502, 502));
        assert!(message.contains("proxy"));
    }

    #[tokio::test]
    async fn unreachable_registry_fails_after_bounded_attempts() {
        // Bind and drop a listener to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let config = ClientConfig {
            timeout: Duration::from_secs(2),
            max_attempts: 3,
            backoff: Duration::from_millis(10),
        };
        let client =
            RegistryClient::new(&format!("http://127.0.0.1:{port}"), config).expect("client");
        let error = client.subjects().await.expect_err("nothing listens");
        assert!(
            matches!(error, RegistryError::Unreachable { attempts: 3, .. }),
            "{error}"
        );
        assert!(error.is_transient());
    }
}
