//! Request and response bodies in Confluent's media type.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};

use super::errors::ApiError;
use crate::CONTENT_TYPE;

/// Content types a request body may declare; Confluent accepts these too.
const ACCEPTED_CONTENT_TYPES: [&str; 4] = [
    CONTENT_TYPE,
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

/// A JSON answer sent as `application/vnd.schemaregistry.v1+json`.
#[derive(Debug)]
pub(crate) struct Vnd<T>(pub T);

impl<T: Serialize> IntoResponse for Vnd<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => raw_json(bytes),
            Err(e) => {
                tracing::error!(error = %e, "cannot serialize answer");
                ApiError::Store.into_response()
            }
        }
    }
}

/// Bytes that already are JSON (a schema text), in Confluent's media type.
pub(crate) fn raw_json(bytes: impl Into<axum::body::Body>) -> Response {
    let mut response = Response::new(bytes.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// A JSON request body whose rejections are Confluent-shaped errors: 415 for
/// a foreign content type, 400 for text that is not JSON, 422 for JSON of
/// the wrong shape. Never a 5xx.
#[derive(Debug)]
pub(crate) struct ApiBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(value) = request.headers().get(header::CONTENT_TYPE) {
            let essence = value
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .trim();
            if !ACCEPTED_CONTENT_TYPES
                .iter()
                .any(|accepted| accepted.eq_ignore_ascii_case(essence))
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "HTTP 415 Unsupported Media Type: expected {CONTENT_TYPE} or application/json"
                )));
            }
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::UnprocessableBody(rejection.body_text()))?;
        parse(&bytes).map(ApiBody)
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::UnprocessableBody(format!("Unprocessable request body: {e}"))
        } else {
            ApiError::MalformedBody(format!("Malformed JSON request body: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[allow(dead_code)]
        schema: String,
    }

    #[test]
    fn tells_syntax_errors_from_shape_errors() {
        assert!(matches!(
            parse::<Body>(b"{\"schema\":"),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse::<Body>(b"not json"),
            Err(ApiError::MalformedBody(_))
        ));
        assert!(matches!(
            parse::<Body>(br#"{"schema": 5}"#),
            Err(ApiError::UnprocessableBody(_))
        ));
        assert!(matches!(
            parse::<Body>(br#"{}"#),
            Err(ApiError::UnprocessableBody(_))
        ));
        assert!(parse::<Body>(br#"{"schema": "\"int\"", "schemaType": "AVRO"}"#).is_ok());
    }
}
