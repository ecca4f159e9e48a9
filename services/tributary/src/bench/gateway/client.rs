//! The load `bench gateway` puts on either server: `requests` POSTs of the
//! same order body by `concurrency` clients, each waiting for its answer
//! before sending the next (a closed loop), every request with its client's
//! bearer token and a fresh `Idempotency-Key`, as a well-behaved API client
//! sends them.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::body::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use tokio::task::JoinSet;
use tributary_gateway::IDEMPOTENCY_KEY;
use uuid::Uuid;

use crate::bench::{BenchError, error::bounded};

/// Upper bound on one side of one round.
const SIDE_TIMEOUT: Duration = Duration::from_secs(600);

/// One side of one round.
#[derive(Debug, Clone)]
pub(crate) struct Timed {
    /// From the first request sent to the last answer read.
    pub elapsed: Duration,
    /// Every request's latency (send to whole answer read), milliseconds.
    pub latencies_ms: Vec<f64>,
}

/// Sends `requests` POSTs to `/v1/orders` on `server`, `tokens.len()`
/// clients at a time; every answer must be a 202.
pub(crate) async fn drive(
    client: &reqwest::Client,
    server: SocketAddr,
    tokens: &[String],
    body: &str,
    requests: u64,
) -> Result<Timed, BenchError> {
    let url = Arc::new(format!("http://{server}/v1/orders"));
    let body = Bytes::copy_from_slice(body.as_bytes());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for token in tokens {
        let client = client.clone();
        let url = url.clone();
        let body = body.clone();
        let next = next.clone();
        let bearer = format!("Bearer {token}");
        clients.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let sent = Instant::now();
                post(&client, &url, &bearer, body.clone()).await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, BenchError>(latencies)
        });
    }
    let latencies_ms = bounded("the HTTP clients", SIDE_TIMEOUT, async {
        let mut all = Vec::with_capacity(usize::try_from(requests).unwrap_or(0));
        while let Some(joined) = clients.join_next().await {
            let latencies = joined.map_err(|e| BenchError::Task {
                what: "HTTP client",
                detail: e.to_string(),
            })??;
            all.extend(latencies);
        }
        Ok(all)
    })
    .await?;
    Ok(Timed {
        elapsed: started.elapsed(),
        latencies_ms,
    })
}

/// One order; anything but a 202 fails the run, naming what came back.
async fn post(
    client: &reqwest::Client,
    url: &str,
    bearer: &str,
    body: Bytes,
) -> Result<(), BenchError> {
    let failed = |detail: String| BenchError::Http {
        what: format!("POST {url}"),
        detail,
    };
    let response = client
        .post(url)
        .header(AUTHORIZATION, bearer)
        .header(CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_KEY, Uuid::new_v4().to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let answer = response.bytes().await.map_err(|e| failed(e.to_string()))?;
    if status == reqwest::StatusCode::ACCEPTED {
        Ok(())
    } else {
        Err(failed(format!(
            "{status}: {}",
            String::from_utf8_lossy(&answer[..answer.len().min(500)])
        )))
    }
}
