//! Saga inspection through the orders service's query API (the only owner
//! of saga state; nobody reads its tables directly).

use std::time::Duration;

use tributary_orders::api::{StuckSagas, Timeline};

use super::OpsError;

/// Default orders API address under `tributary up` (the fourth business
/// service port after 8091).
pub const DEFAULT_ORDERS_URL: &str = "http://127.0.0.1:8094";

/// A small client for the orders query API.
#[derive(Debug, Clone)]
pub struct OrdersClient {
    base: String,
    http: reqwest::Client,
}

impl OrdersClient {
    pub fn new(base_url: &str) -> Result<Self, OpsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OpsError::Http {
                url: base_url.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(OrdersClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// `GET /orders/{id}/timeline`.
    pub async fn timeline(&self, order_id: &str) -> Result<Timeline, OpsError> {
        let id = uuid::Uuid::parse_str(order_id.trim()).map_err(|_| {
            OpsError::InvalidArgument(format!("`{order_id}` is not an order id (a UUID)"))
        })?;
        self.get(
            &format!("{}/orders/{id}/timeline", self.base),
            &format!("order {id}"),
        )
        .await
    }

    /// `GET /sagas/stuck?older_than_ms=`.
    pub async fn stuck(&self, older_than: Duration) -> Result<StuckSagas, OpsError> {
        let ms = older_than.as_millis();
        self.get(
            &format!("{}/sagas/stuck?older_than_ms={ms}", self.base),
            "stuck sagas",
        )
        .await
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, OpsError> {
        let http = |detail: String| OpsError::Http {
            url: url.to_owned(),
            detail,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(OpsError::NotFound(what.to_owned()));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(http(format!(
                "{status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        response.json().await.map_err(|e| http(e.to_string()))
    }
}
