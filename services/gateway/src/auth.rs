//! Bearer-token authentication.
//!
//! A middleware validates the `Authorization` header once per request (so
//! the rate limiter can key on the user) and stores the result as an
//! [`Authentication`] extension; handlers that need a user take a
//! [`Caller`], whose extraction turns a missing or bad token into a 401
//! problem with `WWW-Authenticate: Bearer`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tributary_service::ApiError;
use tributary_users::{Claims, Role, TokenError};
use uuid::Uuid;

use crate::state::Gateway;

/// What the `Authorization` header of a request proved.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// No `Authorization` header.
    Missing,
    /// A header that is not a valid bearer token of ours.
    Invalid(TokenError),
    /// A valid token.
    Valid(Box<Claims>),
}

impl Authentication {
    fn from_header(header: Option<&HeaderValue>, gateway: &Gateway) -> Self {
        let Some(value) = header else {
            return Authentication::Missing;
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match token {
            Some(token) => match gateway.validator().validate(token) {
                Ok(claims) => Authentication::Valid(Box::new(claims)),
                Err(error) => Authentication::Invalid(error),
            },
            None => Authentication::Invalid(TokenError::Malformed),
        }
    }
}

/// Middleware: records the request's [`Authentication`].
pub async fn authenticate(
    State(gateway): State<Gateway>,
    mut request: Request,
    next: Next,
) -> Response {
    let authentication =
        Authentication::from_header(request.headers().get(AUTHORIZATION), &gateway);
    if let Authentication::Invalid(error) = &authentication {
        tracing::debug!(reason = error.code(), "invalid bearer token");
    }
    request.extensions_mut().insert(authentication);
    next.run(request).await
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// 403 unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "This operation requires the admin role.",
            ))
        }
    }

    /// 403 unless the caller is `user` or an admin.
    pub fn require_self_or_admin(&self, user: Uuid) -> Result<(), ApiError> {
        if self.user_id == user || self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "Only the customer themself or an admin may do this.",
            ))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authentication>() {
            Some(Authentication::Valid(claims)) => Ok(Caller {
                user_id: claims.sub,
                email: claims.email.clone(),
                role: claims.role,
            }),
            Some(Authentication::Invalid(error)) => Err(invalid_token(error)),
            Some(Authentication::Missing) | None => Err(ApiError::unauthorized(
                "This operation needs `Authorization: Bearer <token>`; get a token from POST /v1/sessions.",
            )),
        }
    }
}

/// RFC 6750 section 3: a bad token is `error="invalid_token"`.
fn invalid_token(error: &TokenError) -> ApiError {
    let description = match error {
        TokenError::Expired => "the token has expired",
        _ => "the token is invalid",
    };
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("The bearer token was refused: {error}; log in again with POST /v1/sessions."),
    )
    .with_header(
        WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer")),
    )
}
