use std::{future::Future, sync::Once, time::Duration};

use tokio::time::Instant;

/// A name no other test uses: `prefix` plus a random suffix, valid as a
/// Kafka topic, consumer group or RabbitMQ queue name.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Polls `condition` until it holds, panicking with `what` after `timeout`.
///
/// Tests wait on conditions, never on fixed sleeps: the poll interval only
/// bounds how late we notice, not whether the test is correct.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Installs a test-friendly tracing subscriber once per test binary
/// (`RUST_LOG` controls it; silent by default).
pub fn init_test_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
