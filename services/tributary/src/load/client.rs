//! The HTTP calls a load run makes: the public API through the gateway for
//! everything a customer or an administrator does, and the services' own
//! query APIs for the invariant check (payments and notifications are not
//! public, and reading the others directly keeps the check off the rate
//! limiter it is not meant to measure).
//!
//! The answer types hold only the fields the run needs and ignore the rest,
//! so the services may extend their JSON without breaking the tool.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// The base URL of every API a run talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The public gateway.
    pub gateway: String,
    pub inventory: String,
    pub payments: String,
    pub orders: String,
    pub notifications: String,
}

impl Endpoints {
    /// The endpoints of `tributary up` on its default ports.
    pub fn local_defaults() -> Self {
        let local = |port: u16| format!("http://127.0.0.1:{port}");
        Endpoints {
            gateway: local(8080),
            inventory: local(8092),
            payments: local(8093),
            orders: local(8094),
            notifications: local(8095),
        }
    }
}

/// Why a call did not give the expected answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("{method} {url}: no answer: {source}")]
    Transport {
        method: Method,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url} answered {status}: {body}")]
    Status {
        method: Method,
        url: String,
        status: StatusCode,
        /// The start of the body (problem+json detail), for the message.
        body: String,
        /// Seconds from `Retry-After`, when the server sent one.
        retry_after: Option<u64>,
    },
    #[error("{method} {url}: unexpected answer: {detail}")]
    Decode {
        method: Method,
        url: String,
        detail: String,
    },
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: no answer, 429, or an
    /// upstream that failed or was too slow behind the gateway (502, 503,
    /// 504). The first attempt may still have taken effect.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Status { status, .. } => matches!(
                *status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            _ => false,
        }
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status {
                retry_after: Some(secs),
                ..
            } => Some(Duration::from_secs(*secs)),
            _ => None,
        }
    }
}

/// `POST /v1/users` and `/v1/sessions` bodies.
#[derive(Debug, Serialize)]
struct Credentials<'a> {
    email: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct Session {
    token: String,
}

#[derive(Debug, Deserialize)]
struct Registered {
    id: Uuid,
}

#[derive(Debug, Serialize)]
struct AddStock {
    quantity: i64,
    price_cents: i64,
}

/// `POST /v1/orders` body.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRequest {
    pub lines: Vec<OrderRequestLine>,
    pub payment: PaymentRequest,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderRequestLine {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentRequest {
    pub token: String,
}

#[derive(Debug, Deserialize)]
struct Accepted {
    id: Uuid,
}

/// An order's saga state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Cancelled,
    #[serde(other)]
    Unknown,
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Confirmed | OrderStatus::Cancelled)
    }
}

/// `GET /orders/{id}` (orders service).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderView {
    pub id: Uuid,
    pub status: OrderStatus,
    /// STOCK_REJECTED, PAYMENT_DECLINED, TIMEOUT, OTHER; null unless cancelled.
    pub reason: Option<String>,
    #[serde(default)]
    pub total_cents: Option<i64>,
    pub lines: Vec<OrderLineView>,
    pub customer_id: Uuid,
    pub placed_at: i64,
    /// When the orders service decided the saga (unix ms).
    pub decided_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderLineView {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
struct OrderList {
    orders: Vec<OrderView>,
}

/// One entry of `GET /orders/{id}/timeline`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimelineEntry {
    pub event_type: String,
    pub event_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct Timeline {
    entries: Vec<TimelineEntry>,
    #[serde(default)]
    truncated: bool,
}

/// Where an order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    Pending,
    Authorized,
    Declined,
    Refunded,
    Cancelled,
    #[serde(other)]
    Unknown,
}

/// `GET /payments/{order_id}` (payments service).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentView {
    pub state: PaymentState,
    pub amount_cents: Option<i64>,
}

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReservationState {
    Held,
    Committed,
    Released,
    Rejected,
    Cancelled,
    #[serde(other)]
    Unknown,
}

/// `GET /reservations/{order_id}` (inventory service).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReservationView {
    pub state: ReservationState,
}

/// One SKU's stock (inventory service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockView {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub added: i64,
    pub committed: i64,
}

#[derive(Debug, Deserialize)]
struct StockBatch {
    items: Vec<StockView>,
}

/// One notification (notifications service).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationView {
    pub id: Uuid,
    /// WELCOME, ORDER_CONFIRMED, ORDER_CANCELLED.
    pub kind: String,
    /// The order (or user) it is about.
    pub subject_id: Uuid,
}

#[derive(Debug, Deserialize)]
struct NotificationList {
    notifications: Vec<NotificationView>,
}

/// How a placement went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// 202: the order exists and its saga runs.
    Accepted(Uuid),
    /// The gateway answered with another status; nothing was placed.
    Refused(StatusCode),
    /// No answer in time: the order may or may not exist (the invariant
    /// check finds it through the customer's order list if it does).
    NoAnswer,
}

/// Largest page the list queries are asked for (their documented maximum).
pub const PAGE_LIMIT: usize = 200;

/// A cheap-to-clone client for every API of the run.
#[derive(Debug, Clone)]
pub struct LoadClient {
    http: reqwest::Client,
    endpoints: Endpoints,
}

impl LoadClient {
    pub fn new(endpoints: Endpoints, timeout: Duration) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(1_024)
            .tcp_nodelay(true)
            .build()
            .map_err(ClientError::Build)?;
        let endpoints = Endpoints {
            gateway: trim(&endpoints.gateway),
            inventory: trim(&endpoints.inventory),
            payments: trim(&endpoints.payments),
            orders: trim(&endpoints.orders),
            notifications: trim(&endpoints.notifications),
        };
        Ok(LoadClient { http, endpoints })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// `POST /v1/sessions`: a bearer token.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, ClientError> {
        let body = Credentials {
            email,
            password,
            name: None,
        };
        let session: Session = self
            .call(
                Method::POST,
                &self.gateway("/v1/sessions"),
                None,
                Some(&body),
            )
            .await?;
        Ok(session.token)
    }

    /// `POST /v1/users`: the new user's id.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<Uuid, ClientError> {
        let body = Credentials {
            email,
            password,
            name: Some(name),
        };
        let user: Registered = self
            .call(Method::POST, &self.gateway("/v1/users"), None, Some(&body))
            .await?;
        Ok(user.id)
    }

    /// `PUT /v1/stock/{sku}` as an administrator.
    pub async fn add_stock(
        &self,
        token: &str,
        sku: &str,
        quantity: i64,
        price_cents: i64,
    ) -> Result<(), ClientError> {
        let url = self.gateway(&format!("/v1/stock/{sku}"));
        let body = AddStock {
            quantity,
            price_cents,
        };
        let _: serde_json::Value = self
            .call(Method::PUT, &url, Some(token), Some(&body))
            .await?;
        Ok(())
    }

    /// `POST /v1/orders` as a customer.
    pub async fn place_order(&self, token: &str, order: &OrderRequest) -> Placement {
        let url = self.gateway("/v1/orders");
        match self
            .call::<Accepted, _>(Method::POST, &url, Some(token), Some(order))
            .await
        {
            Ok(accepted) => Placement::Accepted(accepted.id),
            Err(ClientError::Status { status, .. }) => Placement::Refused(status),
            Err(_) => Placement::NoAnswer,
        }
    }

    /// The order, or `None` while the orders service has not seen it.
    pub async fn order(&self, id: Uuid) -> Result<Option<OrderView>, ClientError> {
        self.optional(&format!("{}/orders/{id}", self.endpoints.orders))
            .await
    }

    /// A customer's orders, newest first (one page of [`PAGE_LIMIT`]).
    pub async fn customer_orders(&self, customer: Uuid) -> Result<Vec<OrderView>, ClientError> {
        let url = format!(
            "{}/orders?customer={customer}&limit={PAGE_LIMIT}",
            self.endpoints.orders
        );
        let list: OrderList = self.call(Method::GET, &url, None, None::<&()>).await?;
        Ok(list.orders)
    }

    /// The saga timeline of an order (empty if unknown). `truncated` is
    /// returned so a caller can tell an incomplete answer.
    pub async fn timeline(&self, id: Uuid) -> Result<(Vec<TimelineEntry>, bool), ClientError> {
        let url = format!("{}/orders/{id}/timeline", self.endpoints.orders);
        Ok(self
            .optional::<Timeline>(&url)
            .await?
            .map(|t| (t.entries, t.truncated))
            .unwrap_or_default())
    }

    pub async fn payment(&self, order: Uuid) -> Result<Option<PaymentView>, ClientError> {
        self.optional(&format!("{}/payments/{order}", self.endpoints.payments))
            .await
    }

    pub async fn reservation(&self, order: Uuid) -> Result<Option<ReservationView>, ClientError> {
        self.optional(&format!(
            "{}/reservations/{order}",
            self.endpoints.inventory
        ))
        .await
    }

    /// The stock of `skus` (at most the inventory's batch limit, 100 by
    /// default); SKUs never stocked are left out.
    pub async fn stock(&self, skus: &[String]) -> Result<Vec<StockView>, ClientError> {
        let url = format!("{}/stock?skus={}", self.endpoints.inventory, skus.join(","));
        let batch: StockBatch = self.call(Method::GET, &url, None, None::<&()>).await?;
        Ok(batch.items)
    }

    /// A recipient's notifications, newest first (one page of [`PAGE_LIMIT`]).
    pub async fn notifications(
        &self,
        recipient: &str,
    ) -> Result<Vec<NotificationView>, ClientError> {
        let mut url =
            reqwest::Url::parse(&format!("{}/notifications", self.endpoints.notifications))
                .map_err(|e| ClientError::Decode {
                    method: Method::GET,
                    url: self.endpoints.notifications.clone(),
                    detail: e.to_string(),
                })?;
        url.query_pairs_mut()
            .append_pair("recipient", recipient)
            .append_pair("limit", &PAGE_LIMIT.to_string());
        let list: NotificationList = self
            .call(Method::GET, url.as_str(), None, None::<&()>)
            .await?;
        Ok(list.notifications)
    }

    fn gateway(&self, path: &str) -> String {
        format!("{}{path}", self.endpoints.gateway)
    }

    /// GET that maps 404 to `None`.
    async fn optional<T: DeserializeOwned>(&self, url: &str) -> Result<Option<T>, ClientError> {
        match self.call(Method::GET, url, None, None::<&()>).await {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn call<T, B>(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ClientError>
    where
        T: DeserializeOwned,
        B: Serialize + ?Sized,
    {
        let mut request = self.http.request(method.clone(), url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |source| ClientError::Transport {
            method: method.clone(),
            url: url.to_owned(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let text = response.text().await.unwrap_or_default();
            return Err(ClientError::Status {
                method,
                url: url.to_owned(),
                status,
                body: text.chars().take(300).collect(),
                retry_after,
            });
        }
        let bytes = response.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            method,
            url: url.to_owned(),
            detail: e.to_string(),
        })
    }
}

fn trim(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}
