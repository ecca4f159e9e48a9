//! Start-up failures are bounded and say what is wrong.

use std::time::{Duration, Instant};

use tributary_registry::{Registry, RegistryConfig, ServerError, StoreError};

#[tokio::test]
async fn unreachable_broker_fails_start_up_in_bounded_time_naming_the_servers() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let bootstrap = format!("127.0.0.1:{port}");
    let config = RegistryConfig {
        listen: "127.0.0.1:0".to_owned(),
        bootstrap_servers: bootstrap.clone(),
        startup_timeout: Duration::from_secs(3),
        ..RegistryConfig::default()
    };
    let started = Instant::now();
    let error = Registry::build(config).await.expect_err("no broker there");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up after {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&error, ServerError::Store(StoreError::Unreachable { bootstrap_servers, .. }) if *bootstrap_servers == bootstrap),
        "{error}"
    );
    assert!(error.to_string().contains(&bootstrap), "{error}");
}

#[tokio::test]
async fn invalid_configuration_names_the_key() {
    let config = RegistryConfig {
        topic: "no spaces allowed".to_owned(),
        ..RegistryConfig::default()
    };
    let error = Registry::build(config).await.expect_err("invalid topic");
    assert!(
        matches!(error, ServerError::Config { key: "topic", .. }),
        "{error}"
    );
}
