//! The users service's HTTP API (internal; the gateway exposes it publicly as
//! `/v1/users` and `/v1/sessions`).
//!
//! | call | body | answer |
//! |---|---|---|
//! | `POST /users` | `{"email","password","name"}` | 201 `{"id","email","name","role"}`; 409 taken; 422 invalid field |
//! | `POST /sessions` | `{"email","password"}` | 201 `{"token","token_type","expires_at"}`; 401 wrong credentials |
//! | `GET /users/{id}` | — | 200 `{"id","email","name","role","created_at"}`; 404 |

use std::fmt;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tributary_service::{ApiError, ApiJson};
use uuid::Uuid;

use crate::accounts::{AccountError, Accounts};
use crate::domain::validate_registration;
use crate::token::Role;
use crate::views::UserRecord;

/// Routes of the users API over `accounts`.
pub fn router(accounts: Accounts) -> Router {
    Router::new()
        .route("/users", post(register))
        .route("/users/{id}", get(user))
        .route("/sessions", post(login))
        .with_state(accounts)
}

/// `POST /users` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
}

impl fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `POST /sessions` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Unix ms.
    pub created_at: i64,
}

impl From<UserRecord> for UserView {
    fn from(user: UserRecord) -> Self {
        UserView {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role,
            created_at: user.created_at,
        }
    }
}

/// `POST /sessions` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The JWT to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Expiry, RFC 3339.
    pub expires_at: String,
}

async fn register(
    State(accounts): State<Accounts>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let registration =
        validate_registration(&body.email, &body.password, &body.name).map_err(|e| {
            ApiError::unprocessable(format!("Invalid `{}`: {}.", e.field, e.message))
                .with_field(e.field, e.message)
        })?;
    let user = accounts.register(registration).await.map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(UserView::from(user))).into_response())
}

async fn login(
    State(accounts): State<Accounts>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let issued = accounts
        .login(&body.email, body.password)
        .await
        .map_err(api_error)?;
    let expires_at = OffsetDateTime::from_unix_timestamp(issued.expires_at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let session = SessionView {
        token: issued.token,
        token_type: "Bearer".to_owned(),
        expires_at,
    };
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

async fn user(
    State(accounts): State<Accounts>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let not_found = || ApiError::not_found(format!("No user with id `{id}`."));
    let uuid = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let user = accounts.get(uuid).await.map_err(api_error)?;
    user.map(|u| Json(UserView::from(u))).ok_or_else(not_found)
}

fn api_error(error: AccountError) -> ApiError {
    match error {
        AccountError::EmailTaken => {
            ApiError::conflict("An account with this e-mail address already exists.")
                .with_field("email", "is already registered")
        }
        AccountError::BadCredentials => ApiError::unauthorized("Wrong e-mail or password."),
        AccountError::Invalid(e) => {
            ApiError::unprocessable(format!("Invalid `{}`: {}.", e.field, e.message))
                .with_field(e.field, e.message)
        }
        AccountError::Commit(e) => e.into(),
        AccountError::View(e) => e.into(),
        other => ApiError::internal(&other),
    }
}
