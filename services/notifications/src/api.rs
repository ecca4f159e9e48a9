//! `GET /notifications?recipient=&limit=`: a recipient's notifications,
//! newest first.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    routing::get,
};
use serde::{Deserialize, Serialize};
use tributary_service::{ApiError, ServiceContext};
use tributary_views::ClusteringOrder;

use crate::{NotificationsConfig, domain::Notification, views::NOTIFICATIONS};

#[derive(Debug, Clone, Copy)]
struct Limits {
    default_page: usize,
    max_page: usize,
}

#[derive(Debug, Clone)]
struct ApiState {
    context: ServiceContext,
    limits: Arc<Limits>,
}

/// The service's routes, over `context`'s store.
pub fn router(context: ServiceContext, config: &NotificationsConfig) -> Router {
    let max_page = config.max_page_size.max(1);
    let limits = Limits {
        default_page: config.default_page_size.clamp(1, max_page),
        max_page,
    };
    Router::new()
        .route("/notifications", get(list))
        .with_state(ApiState {
            context,
            limits: Arc::new(limits),
        })
}

/// `GET /notifications` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationList {
    pub recipient: String,
    /// Newest first.
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    recipient: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<NotificationList>, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::bad_request(format!("Invalid query string: {}", rejection.body_text()))
    })?;
    let recipient = query
        .recipient
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "The query parameter `recipient` (an e-mail address or user id) is required.",
            )
        })?;
    let limit = match query.limit {
        None => state.limits.default_page,
        Some(n) if (1..=state.limits.max_page).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "`limit` must be between 1 and {}.",
                state.limits.max_page
            )));
        }
    };
    let rows = NOTIFICATIONS
        .partition(
            state.context.store(),
            &recipient,
            ClusteringOrder::Descending,
            limit,
        )
        .await?;
    Ok(Json(NotificationList {
        recipient,
        notifications: rows.into_iter().map(|row| row.value).collect(),
    }))
}
