//! Waiting for started processes to report ready.

use std::time::Duration;

use tokio::time::Instant;

/// Polls `GET {url}/health/ready` for every `(name, url)` until all answer
/// 200 or `timeout` passes; returns the names still not ready.
pub async fn wait_all_ready(targets: &[(String, String)], timeout: Duration) -> Vec<String> {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build an HTTP client for readiness checks");
            return targets.iter().map(|(name, _)| name.clone()).collect();
        }
    };
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(String, String)> = targets.to_vec();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for (name, url) in pending {
            let ready = client
                .get(format!("{url}/health/ready"))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if !ready {
                still.push((name, url));
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    pending.into_iter().map(|(name, _)| name).collect()
}
