//! Creating the contract topics on a broker.

use std::time::Duration;

use anyhow::Context;
use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    types::RDKafkaErrorCode,
};

/// Creates every topic of the contract catalogue that does not exist yet.
pub async fn ensure_contract_topics(bootstrap: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .context("creating a Kafka admin client")?;
    let topics: Vec<NewTopic<'_>> = tributary_contracts::TOPICS
        .iter()
        .map(|t| NewTopic::new(t.name, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = tokio::time::timeout(
        Duration::from_secs(60),
        admin.create_topics(&topics, &options),
    )
    .await
    .context("the broker did not answer CreateTopics within 60s")?
    .context("sending CreateTopics")?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("creating topic {topic} failed: {code}"),
        }
    }
    Ok(())
}
