//! The REST API: routes of the Confluent Schema Registry that clients use,
//! plus `/health/live` and `/health/ready`.

mod body;
mod errors;
mod routes;

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};
use tower_http::trace::TraceLayer;

use crate::{
    tailer::{LogProgress, SharedState},
    writer::Writer,
};

/// What every handler shares.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) state: SharedState,
    pub(crate) writer: Arc<Writer>,
    pub(crate) progress: LogProgress,
}

/// The registry's router.
pub(crate) fn router(app: AppState) -> Router {
    Router::new()
        .route("/", get(routes::root))
        .route("/health/live", get(routes::live))
        .route("/health/ready", get(routes::ready))
        .route("/subjects", get(routes::subjects))
        .route(
            "/subjects/{subject}",
            post(routes::lookup).delete(routes::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(routes::versions).post(routes::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(routes::version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(routes::version_schema),
        )
        .route("/schemas/types", get(routes::schema_types))
        .route("/schemas/ids/{id}", get(routes::schema_by_id))
        .route("/schemas/ids/{id}/schema", get(routes::schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(routes::schema_usages))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(routes::check_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(routes::check_version),
        )
        .route(
            "/config",
            get(routes::get_global_config).put(routes::put_global_config),
        )
        .route(
            "/config/{subject}",
            get(routes::get_subject_config)
                .put(routes::put_subject_config)
                .delete(routes::delete_subject_config),
        )
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}
