//! `Application::build` refuses to start with an error naming the culprit.

use std::time::Duration;

use tributary_registry::{ClientConfig, RegistryClient};
use tributary_service::{Application, ServiceDefinition, StartError};

use crate::helpers::{TestEnv, counting_service, service_name, start_registry};

/// One broker for the three start-up failures: none of them joins a group,
/// so they are quick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_failures_name_the_culprit() {
    let env = TestEnv::start().await;

    // An unreachable broker names the bootstrap servers.
    let mut config = env.config();
    config.bus.bootstrap_servers = "127.0.0.1:1".into();
    config.bus.connect_timeout = Duration::from_secs(2);
    let error = Application::build(counting_service(service_name(), Duration::ZERO), config)
        .await
        .expect_err("no broker there");
    assert!(matches!(error, StartError::Producer(_)), "{error:?}");
    assert!(error.to_string().contains("127.0.0.1:1"), "{error}");

    // A consumed topic that does not exist is named.
    let definition = ServiceDefinition {
        consumes: vec!["orders"],
        ..counting_service(service_name(), Duration::ZERO)
    };
    let error = Application::build(definition, env.config())
        .await
        .expect_err("orders does not exist");
    assert!(matches!(error, StartError::Topics { .. }), "{error:?}");
    assert!(error.to_string().contains("orders"), "{error}");

    // A registry holding an incompatible schema makes the build fail naming
    // the subject.
    let (url, _stop) = start_registry(&env.broker).await;
    let subject = "users-tributary.users.UserRegistered";
    let incompatible = r#"{"type":"record","name":"UserRegistered","namespace":"tributary.users",
        "fields":[{"name":"name","type":"int"}]}"#;
    RegistryClient::new(&url, ClientConfig::default())
        .expect("client")
        .register(subject, incompatible)
        .await
        .expect("first version registers");
    let mut config = env.config();
    config.bus.registry_url = url;
    let error = Application::build(counting_service(service_name(), Duration::ZERO), config)
        .await
        .expect_err("schema rejected");
    assert!(matches!(error, StartError::Schemas(_)), "{error:?}");
    assert!(error.to_string().contains(subject), "{error}");
}
