//! The gateway's route table.
//!
//! Routes are added through [`Routes`], which records each (method, path)
//! it registers, so a test can compare the router with the OpenAPI document
//! in both directions and an undocumented route cannot slip in.

use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};

use crate::state::Gateway;
use crate::{auth, handlers, openapi, rate_limit};

/// A router under construction plus the list of what it serves.
pub(crate) struct Routes {
    router: Router<Gateway>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Routes {
            router: Router::new(),
            served: Vec::new(),
        }
    }

    fn get<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Gateway>,
        T: 'static,
    {
        self.router = self.router.route(path, get(handler));
        self.served.push((Method::GET, path));
        self
    }

    fn post<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Gateway>,
        T: 'static,
    {
        self.router = self.router.route(path, post(handler));
        self.served.push((Method::POST, path));
        self
    }

    fn put<H, T>(mut self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, Gateway>,
        T: 'static,
    {
        self.router = self.router.route(path, put(handler));
        self.served.push((Method::PUT, path));
        self
    }

    /// What the router serves, as (method, path template).
    #[cfg(test)]
    pub(crate) fn served(&self) -> &[(Method, &'static str)] {
        &self.served
    }
}

/// Every public route.
pub(crate) fn routes() -> Routes {
    Routes::new()
        .post("/v1/users", handlers::register)
        .post("/v1/sessions", handlers::login)
        .post("/v1/orders", handlers::place_order)
        .get("/v1/orders", handlers::list_orders)
        .get("/v1/orders/{id}", handlers::get_order)
        .get("/v1/orders/{id}/timeline", handlers::order_timeline)
        .put("/v1/stock/{sku}", handlers::put_stock)
        .get("/v1/stock/{sku}", handlers::get_stock)
        .get("/v1/analytics/windows", handlers::analytics_windows)
        .get("/v1/analytics/summary", handlers::analytics_summary)
        .get("/openapi.json", serve_openapi)
}

/// The gateway's router: authentication first (so the limiter knows the
/// user), then the rate limit, then the handler. `/health/*`, `/metrics`,
/// request ids, HTTP metrics, the body limit and problem+json 404/405 come
/// from the service runtime around it.
pub fn router(gateway: Gateway) -> Router {
    routes()
        .router
        .layer(from_fn_with_state(gateway.clone(), rate_limit::limit))
        .layer(from_fn_with_state(gateway.clone(), auth::authenticate))
        .with_state(gateway)
}

async fn serve_openapi() -> impl IntoResponse {
    Json(openapi::document())
}
