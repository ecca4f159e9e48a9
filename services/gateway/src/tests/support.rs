//! The test gateway and its stub upstreams.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tributary_contracts::events::OrderPlaced;
use tributary_contracts::{decode_body, unframe};
use tributary_service::ServiceContext;
use tributary_service::http::api_router;
use tributary_service::testing::{TestStore, send};
use tributary_telemetry::Metrics;
use tributary_users::token::Subject;
use tributary_users::{JwtConfig, Role, TokenIssuer};
use url::Url;
use uuid::Uuid;

use crate::{GatewayConfig, Parts, router, views};

/// SKUs the stub inventory knows.
pub const KNOWN_SKUS: [&str; 2] = ["sku-1", "sku-2"];
/// The body limit the runtime applies by default.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A gateway over a temporary store with stub upstreams.
pub struct TestGateway {
    _base: TestStore,
    pub ctx: ServiceContext,
    pub router: Router,
    /// Requests the stub inventory got.
    pub inventory_hits: Arc<AtomicUsize>,
    /// The order the stub orders service knows, and its owner.
    pub known_order: Uuid,
    pub known_order_owner: Uuid,
}

/// One answer, read completely.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with `status`.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    /// The field names of a problem's `errors`.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A request to send.
pub struct Call {
    method: &'static str,
    uri: String,
    token: Option<String>,
    body: Option<Vec<u8>>,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    peer: SocketAddr,
}

impl Call {
    pub fn new(method: &'static str, uri: impl Into<String>) -> Self {
        Call {
            method,
            uri: uri.into(),
            token: None,
            body: None,
            content_type: None,
            headers: Vec::new(),
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string().into_bytes());
        self.content_type = Some("application/json");
        self
    }

    pub fn raw(mut self, body: impl Into<Vec<u8>>, content_type: Option<&'static str>) -> Self {
        self.body = Some(body.into());
        self.content_type = content_type;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }
}

impl TestGateway {
    pub async fn new() -> Self {
        Self::with_config(GatewayConfig::default()).await
    }

    /// A gateway with `config`, its upstream lists replaced by stubs.
    pub async fn with_config(mut config: GatewayConfig) -> Self {
        let inventory_hits = Arc::new(AtomicUsize::new(0));
        let known_order = Uuid::new_v4();
        let known_order_owner = Uuid::new_v4();
        if config.upstreams.inventory.is_empty() {
            config.upstreams.inventory = vec![serve(inventory_stub(inventory_hits.clone())).await];
        }
        if config.upstreams.orders.is_empty() {
            config.upstreams.orders =
                vec![serve(orders_stub(known_order, known_order_owner)).await];
        }
        if config.upstreams.users.is_empty() {
            config.upstreams.users = vec![serve(users_stub()).await];
        }
        let base = TestStore::open("gateway", &views::TABLES).await;
        let ctx = base.context.clone();
        let gateway = Parts::new(config)
            .expect("valid config")
            .with_context(ctx.clone());
        let router = api_router(router(gateway), Metrics::new(), BODY_LIMIT);
        TestGateway {
            _base: base,
            ctx,
            router,
            inventory_hits,
            known_order,
            known_order_owner,
        }
    }

    pub async fn send(&self, call: Call) -> Answer {
        let mut request = Request::builder().method(call.method).uri(&call.uri);
        if let Some(token) = &call.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = call.content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let mut request = request
            .body(call.body.map_or_else(Body::empty, Body::from))
            .expect("request");
        request.extensions_mut().insert(ConnectInfo(call.peer));
        let (status, headers, body) = send(self.router.clone(), request).await;
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The `OrderPlaced` events waiting in the outbox.
    pub async fn placed(&self) -> Vec<OrderPlaced> {
        self.ctx
            .store()
            .outbox_pending(1000)
            .await
            .expect("outbox")
            .into_iter()
            .map(|entry| {
                assert_eq!(entry.message.topic, "orders");
                let (_, body) = unframe(&entry.message.payload).expect("framed");
                let event: OrderPlaced = decode_body(body, None).expect("OrderPlaced");
                assert_eq!(entry.message.key, event.order_id.to_string());
                event
            })
            .collect()
    }
}

/// A valid token for a new user of `role`, and that user's id.
pub fn token(role: Role) -> (String, Uuid) {
    let user = Uuid::new_v4();
    (token_for(user, role, now_secs()), user)
}

pub fn token_for(user: Uuid, role: Role, issued_at: i64) -> String {
    issuer(&JwtConfig::default())
        .issue(
            &Subject {
                user_id: user,
                email: format!("{user}@example.com"),
                role,
            },
            issued_at,
        )
        .expect("issue")
        .token
}

pub fn issuer(config: &JwtConfig) -> TokenIssuer {
    TokenIssuer::new(config).expect("issuer")
}

pub fn now_secs() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

/// A valid order body.
pub fn order(lines: &[(&str, i64)]) -> Value {
    json!({
        "lines": lines.iter().map(|(sku, q)| json!({"sku": sku, "quantity": q})).collect::<Vec<_>>(),
        "payment": {"token": "tok_visa"},
    })
}

pub async fn serve(router: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    Url::parse(&format!("http://{addr}")).expect("url")
}

/// An address nothing listens on.
pub async fn dead_url() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    Url::parse(&format!("http://{addr}")).expect("url")
}

fn problem(status: StatusCode, detail: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({"type": "about:blank", "title": "stub", "status": status.as_u16(), "detail": detail})
            .to_string(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct SkusQuery {
    skus: String,
}

fn inventory_stub(hits: Arc<AtomicUsize>) -> Router {
    let batch = move |Query(q): Query<SkusQuery>| {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            let (known, unknown): (Vec<&str>, Vec<&str>) =
                q.skus.split(',').partition(|s| KNOWN_SKUS.contains(s));
            Json(json!({
                "items": known.iter().map(|s| json!({"sku": s, "available": 5, "reserved": 0, "price_cents": 100})).collect::<Vec<_>>(),
                "unknown": unknown,
            }))
        }
    };
    Router::new().route("/stock", get(batch)).route(
        "/stock/{sku}",
        get(|Path(sku): Path<String>| async move {
            if KNOWN_SKUS.contains(&sku.as_str()) {
                Json(json!({"sku": sku, "available": 5, "reserved": 0, "price_cents": 100}))
                    .into_response()
            } else {
                problem(StatusCode::NOT_FOUND, "never stocked")
            }
        })
        .put(|Path(sku): Path<String>, Json(body): Json<Value>| async move {
            Json(json!({"sku": sku, "available": body["quantity"], "reserved": 0, "price_cents": body["price_cents"]}))
        }),
    )
}

fn orders_stub(known: Uuid, owner: Uuid) -> Router {
    let order = move || {
        json!({"id": known, "status": "CONFIRMED", "reason": null, "total_cents": 300,
               "lines": [{"sku": "sku-1", "quantity": 3}], "customer_id": owner})
    };
    Router::new()
        .route(
            "/orders/{id}",
            get(move |Path(id): Path<Uuid>| async move {
                if id == known {
                    Json(order()).into_response()
                } else {
                    problem(StatusCode::NOT_FOUND, "no such order")
                }
            }),
        )
        .route(
            "/orders/{id}/timeline",
            get(move |Path(id): Path<Uuid>| async move {
                Json(json!({"order_id": id, "status": "CONFIRMED", "entries": []}))
            }),
        )
        .route(
            "/orders",
            get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Json(json!({"customer_id": q.get("customer"), "orders": []}))
                },
            ),
        )
}

fn users_stub() -> Router {
    Router::new()
        .route(
            "/users",
            post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                let request_id = headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if body["email"] == "taken@example.com" {
                    problem(StatusCode::CONFLICT, "An account with this e-mail address already exists.")
                } else {
                    (
                        StatusCode::CREATED,
                        Json(json!({"id": Uuid::new_v4(), "email": body["email"], "name": body["name"],
                                   "seen_request_id": request_id})),
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/sessions",
            post(|| async { problem(StatusCode::UNAUTHORIZED, "Wrong e-mail or password.") }),
        )
}
