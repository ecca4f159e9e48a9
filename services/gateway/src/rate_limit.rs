//! Per-client rate limiting with token buckets.
//!
//! Each client has a bucket of `burst` tokens refilled at `rate_per_second`;
//! a request takes one token or is refused with 429 and a `Retry-After`
//! saying when the next token arrives. Clients are user ids when the request
//! carries a valid token, otherwise addresses. The map of buckets is bounded:
//! when it is full, buckets that have refilled completely (indistinguishable
//! from a new client) are dropped first, then the least recently used one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;
use tributary_service::ApiError;
use uuid::Uuid;

use crate::auth::Authentication;
use crate::config::RateLimitConfig;
use crate::state::Gateway;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientId {
    User(Uuid),
    Address(IpAddr),
    /// No token and no known address (only in tests without a socket).
    Unknown,
}

/// The limiter's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Allowed,
    /// Refused; a token will be available after this long.
    Limited {
        retry_after: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets for every recently seen client.
#[derive(Debug)]
pub struct RateLimiter {
    enabled: bool,
    rate: f64,
    burst: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<ClientId, Bucket>>,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        RateLimiter {
            enabled: config.enabled,
            rate: config.rate_per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(config.burst.max(1)),
            max_clients: config.max_clients.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token from `client`'s bucket if there is one.
    pub fn check(&self, client: &ClientId) -> Decision {
        if !self.enabled {
            return Decision::Allowed;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(client) && buckets.len() >= self.max_clients {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(client.clone()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        bucket.tokens = self.refilled(bucket, now);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision::Allowed
        } else {
            Decision::Limited {
                retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate),
            }
        }
    }

    /// Clients currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    fn evict(&self, buckets: &mut HashMap<ClientId, Bucket>, now: Instant) {
        buckets.retain(|_, bucket| self.refilled(bucket, now) < self.burst);
        if buckets.len() >= self.max_clients
            && let Some(oldest) = buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.updated)
                .map(|(client, _)| client.clone())
        {
            buckets.remove(&oldest);
        }
    }
}

/// The client a request counts against: the token's subject when the
/// token is valid, else the address (from the trusted proxy header when
/// configured, else the TCP peer).
pub fn client_id(request: &Request, ip_header: &str) -> ClientId {
    if let Some(Authentication::Valid(claims)) = request.extensions().get::<Authentication>() {
        return ClientId::User(claims.sub);
    }
    if !ip_header.is_empty()
        && let Some(ip) = forwarded_ip(request.headers(), ip_header)
    {
        return ClientId::Address(ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(ClientId::Unknown, |info| ClientId::Address(info.0.ip()))
}

fn forwarded_ip(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Middleware: refuses requests over the client's rate with 429.
pub async fn limit(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    let client = client_id(&request, &gateway.config().client_ip_header);
    match gateway.limiter().check(&client) {
        Decision::Allowed => next.run(request).await,
        Decision::Limited { retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            tracing::debug!(?client, seconds, "rate limited");
            ApiError::too_many_requests(
                format!("Too many requests; retry in {seconds} s."),
                seconds.max(1),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64, burst: u32, max_clients: usize) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            enabled: true,
            rate_per_second: rate,
            burst,
            max_clients,
        })
    }

    fn user(n: u128) -> ClientId {
        ClientId::User(Uuid::from_u128(n))
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_sustained_rate() {
        let l = limiter(2.0, 3, 10);
        for _ in 0..3 {
            assert_eq!(l.check(&user(1)), Decision::Allowed);
        }
        let Decision::Limited { retry_after } = l.check(&user(1)) else {
            panic!("the fourth request in a burst of three must be limited");
        };
        assert_eq!(retry_after, Duration::from_millis(500));
        // Other clients are unaffected.
        assert_eq!(l.check(&user(2)), Decision::Allowed);

        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(l.check(&user(1)), Decision::Allowed);
        assert!(matches!(l.check(&user(1)), Decision::Limited { .. }));

        // A long pause refills to the burst, never beyond.
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert_eq!(l.check(&user(1)), Decision::Allowed);
        }
        assert!(matches!(l.check(&user(1)), Decision::Limited { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_is_bounded_and_keeps_active_clients() {
        let l = limiter(1.0, 2, 3);
        // Three clients that used part of their burst.
        for n in 0..3 {
            l.check(&user(n));
            tokio::time::advance(Duration::from_millis(10)).await;
        }
        assert_eq!(l.tracked(), 3);
        // A fourth evicts the least recently seen (client 0).
        l.check(&user(3));
        assert_eq!(l.tracked(), 3);
        // Client 2 is still tracked: its bucket keeps its debt.
        l.check(&user(2));
        assert!(matches!(l.check(&user(2)), Decision::Limited { .. }));

        // After everyone has refilled, idle buckets go first.
        tokio::time::advance(Duration::from_secs(10)).await;
        for n in 10..13 {
            l.check(&user(n));
        }
        assert_eq!(l.tracked(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn disabled_limiters_allow_everything() {
        let l = RateLimiter::new(&RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        });
        for _ in 0..10_000 {
            assert_eq!(l.check(&ClientId::Unknown), Decision::Allowed);
        }
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn forwarded_addresses_use_the_first_entry() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.7, 10.0.0.1".parse().expect("header"),
        );
        assert_eq!(
            forwarded_ip(&headers, "x-forwarded-for"),
            Some("203.0.113.7".parse().expect("ip"))
        );
        headers.insert("x-forwarded-for", "garbage".parse().expect("header"));
        assert_eq!(forwarded_ip(&headers, "x-forwarded-for"), None);
    }
}
