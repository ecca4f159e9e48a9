//! The two HTTP servers `bench gateway` compares, and what the gateway
//! needs to answer `POST /v1/orders` for real.
//!
//! - **The gateway**: `Application::build` of the gateway's definition and
//!   `run_until`, exactly as `tributary run gateway` runs it: the service
//!   runtime's HTTP stack (request ids, metrics, body limit, problem+json),
//!   authentication, the rate limiter, validation, `Idempotency-Key`, the
//!   inventory's SKU check, the commit of `OrderPlaced` to its store and
//!   outbox, and the outbox relay publishing to the broker's `orders` topic.
//!   Its JWT secret is fresh per run; the rate limit is raised far above
//!   what the benchmark sends (the limiter still runs on every request).
//! - **The inventory's query API**, which the gateway asks whether an
//!   order's SKUs exist on every order: the inventory's own routes over its
//!   own embedded store, served on port 0, with the fixture SKUs stocked
//!   through its `PUT /stock/{sku}`. Its consumer does not run (nothing
//!   downstream of the gateway does).
//! - **The trivial handler**: a bare axum router on the same HTTP stack
//!   (hyper through `axum::serve`) whose `POST /v1/orders` reads the body
//!   and answers 202 with an order id, like the gateway's answer.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use axum::{Json, Router, body::Bytes, http::StatusCode, response::IntoResponse, routing::post};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::{CancellationToken, DropGuard};
use tributary_bus::EventCodec;
use tributary_gateway::{GatewayConfig, RateLimitConfig, UpstreamConfig};
use tributary_inventory::InventoryConfig;
use tributary_service::{Application, ServiceConfig, ServiceContext};
use tributary_telemetry::Metrics;
use tributary_users::{JwtConfig, Role, TokenIssuer, token::Subject};
use tributary_views::{ViewsConfig, open_store};
use uuid::Uuid;

use crate::bench::{BenchEnv, BenchError};

/// How long the servers get to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Far above any rate one benchmark client reaches, so the limiter never
/// refuses, but it still runs.
const UNLIMITED_RATE: f64 = 1e9;
const UNLIMITED_BURST: u32 = 1_000_000_000;
/// Units stocked per fixture SKU: the inventory's query only needs them to
/// exist, nothing reserves them here.
const STOCK_UNITS: i64 = 1_000_000;

/// The running servers and what a client needs to call them.
pub(crate) struct Servers {
    pub gateway: SocketAddr,
    pub trivial: SocketAddr,
    /// One session token per client (so the limiter tracks several users).
    pub tokens: Vec<String>,
    stop: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<Result<(), String>>)>,
    /// Stops the servers when a failed benchmark drops them unstopped.
    _stop_on_drop: DropGuard,
    // Dropped last: the stores live there.
    _dirs: [tempfile::TempDir; 2],
}

impl Servers {
    /// Starts the inventory API, the gateway and the trivial handler.
    pub(crate) async fn start(
        env: &BenchEnv,
        client: &reqwest::Client,
        skus: &[&str],
        clients: usize,
    ) -> Result<Servers, BenchError> {
        let stop = CancellationToken::new();
        // Until they are handed over, a failed start stops what started.
        let stop_on_drop = stop.clone().drop_guard();
        let mut tasks = Vec::new();
        let inventory_dir = temp_dir()?;
        let gateway_dir = temp_dir()?;

        let codec = EventCodec::new(env.registry().clone());
        let mut inventory = tributary_inventory::definition(InventoryConfig::default());
        let store = open_store(
            &ViewsConfig::embedded(inventory_dir.path()),
            inventory.name,
            &inventory.tables,
        )
        .await?;
        let context = ServiceContext::new(inventory.name, store, codec, Metrics::new());
        let routes = inventory.routes.take().ok_or_else(|| BenchError::Task {
            what: "inventory service",
            detail: "its definition has no HTTP API".to_owned(),
        })?;
        let (inventory_addr, task) = serve(routes(context), stop.clone()).await?;
        tasks.push(("inventory API", task));
        for sku in skus {
            stock(client, inventory_addr, sku).await?;
        }

        let jwt = JwtConfig {
            secret: format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()),
            ..JwtConfig::default()
        };
        let inventory_url =
            reqwest::Url::parse(&format!("http://{inventory_addr}")).map_err(|e| {
                BenchError::Http {
                    what: "inventory URL".to_owned(),
                    detail: e.to_string(),
                }
            })?;
        let gateway_config = GatewayConfig {
            jwt: jwt.clone(),
            upstreams: UpstreamConfig {
                inventory: vec![inventory_url],
                ..UpstreamConfig::default()
            },
            rate_limit: RateLimitConfig {
                rate_per_second: UNLIMITED_RATE,
                burst: UNLIMITED_BURST,
                ..RateLimitConfig::default()
            },
            ..GatewayConfig::default()
        };
        gateway_config
            .validate()
            .map_err(|e| BenchError::Argument {
                arg: "gateway configuration",
                detail: e.to_string(),
            })?;
        let service = ServiceConfig {
            http_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            bus: env.bus_config(),
            views: ViewsConfig::embedded(gateway_dir.path()),
            ..ServiceConfig::default()
        };
        let app =
            Application::build(tributary_gateway::definition(gateway_config), service).await?;
        let gateway = app.local_addr();
        let gateway_stop = stop.clone();
        tasks.push((
            "gateway",
            tokio::spawn(async move {
                app.run_until(gateway_stop.cancelled_owned())
                    .await
                    .map_err(|e| e.to_string())
            }),
        ));

        let trivial_router = Router::new().route("/v1/orders", post(accept));
        let (trivial, task) = serve(trivial_router, stop.clone()).await?;
        tasks.push(("trivial handler", task));

        let tokens = tokens(&jwt, clients)?;
        Ok(Servers {
            gateway,
            trivial,
            tokens,
            stop,
            tasks,
            _stop_on_drop: stop_on_drop,
            _dirs: [inventory_dir, gateway_dir],
        })
    }

    /// Stops every server (the gateway flushes its outbox first) and
    /// reports the first that failed.
    pub(crate) async fn stop(self) -> Result<(), BenchError> {
        self.stop.cancel();
        let mut failure = None;
        for (what, task) in self.tasks {
            let abort = task.abort_handle();
            let outcome = match tokio::time::timeout(STOP_TIMEOUT, task).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(joined)) => Err(joined.to_string()),
                Err(_) => {
                    abort.abort();
                    Err(format!("did not stop within {STOP_TIMEOUT:?}"))
                }
            };
            if let Err(detail) = outcome {
                failure.get_or_insert(BenchError::Task { what, detail });
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// The trivial side: reads the body, answers like the gateway does.
async fn accept(body: Bytes) -> impl IntoResponse {
    std::hint::black_box(&body);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "id": Uuid::new_v4(), "status": "PENDING" })),
    )
}

/// Serves `router` on a free local port until `stop`.
async fn serve(
    router: Router,
    stop: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<Result<(), String>>), BenchError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(BenchError::io("binding a local port"))?;
    let addr = listener
        .local_addr()
        .map_err(BenchError::io("reading the bound address"))?;
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
            .map_err(|e| e.to_string())
    });
    Ok((addr, task))
}

/// Stocks `sku` through the inventory's own API.
async fn stock(
    client: &reqwest::Client,
    inventory: SocketAddr,
    sku: &str,
) -> Result<(), BenchError> {
    let response = client
        .put(format!("http://{inventory}/stock/{sku}"))
        .json(&serde_json::json!({ "quantity": STOCK_UNITS, "price_cents": 1_250 }))
        .send()
        .await
        .map_err(|e| BenchError::Http {
            what: format!("PUT /stock/{sku}"),
            detail: e.to_string(),
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(BenchError::Http {
            what: format!("PUT /stock/{sku}"),
            detail: format!("{status}: {body}"),
        })
    }
}

/// Session tokens for `clients` customers, signed as the users service
/// signs them.
fn tokens(jwt: &JwtConfig, clients: usize) -> Result<Vec<String>, BenchError> {
    let issuer = TokenIssuer::new(jwt).map_err(|e| BenchError::Argument {
        arg: "jwt",
        detail: e.to_string(),
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    (0..clients)
        .map(|i| {
            let subject = Subject {
                user_id: Uuid::new_v4(),
                email: format!("bench-client-{i}@example.com"),
                role: Role::Customer,
            };
            issuer
                .issue(&subject, now)
                .map(|issued| issued.token)
                .map_err(|e| BenchError::Argument {
                    arg: "jwt",
                    detail: e.to_string(),
                })
        })
        .collect()
}

fn temp_dir() -> Result<tempfile::TempDir, BenchError> {
    tempfile::tempdir().map_err(BenchError::io("creating a view directory"))
}
