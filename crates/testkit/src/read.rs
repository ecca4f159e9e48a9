//! Reading a topic the way a test checks what was produced: every partition
//! from the beginning, with no consumer group (nothing committed, nothing
//! rebalanced), on a blocking thread so async tests keep running.

use std::{collections::HashMap, time::Duration};

use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
    message::OwnedMessage,
};

use crate::unique_name;

/// How long a read may take before the test fails, saying how far it got.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long metadata and watermark requests may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads `topic` from the beginning until `expected` messages arrived.
/// Fails the test if they do not arrive within 30 s.
pub async fn read_topic(bootstrap: &str, topic: &str, expected: usize) -> Vec<OwnedMessage> {
    read(bootstrap, topic, Until::Count(expected)).await
}

/// Reads `topic` from the beginning up to the end offsets it has now.
pub async fn read_to_end(bootstrap: &str, topic: &str) -> Vec<OwnedMessage> {
    read(bootstrap, topic, Until::End).await
}

enum Until {
    Count(usize),
    End,
}

async fn read(bootstrap: &str, topic: &str, until: Until) -> Vec<OwnedMessage> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || read_blocking(&bootstrap, &topic, until))
        .await
        .expect("the reader thread finishes")
}

fn read_blocking(bootstrap: &str, topic: &str, until: Until) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a reader for the test broker");
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .expect("topic metadata");
    // Partition -> end offset still to reach (only for `Until::End`).
    let mut ends = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        if let Until::End = until {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition.id(), REQUEST_TIMEOUT)
                .expect("watermarks");
            if high == 0 {
                continue;
            }
            ends.insert(partition.id(), high);
        }
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .expect("a valid partition");
    }
    let mut out = Vec::new();
    let done = |out: &Vec<OwnedMessage>, ends: &HashMap<i32, i64>| match until {
        Until::Count(expected) => out.len() >= expected,
        Until::End => ends.is_empty(),
    };
    if done(&out, &ends) {
        return out;
    }
    consumer.assign(&assignment).expect("assign the partitions");
    let deadline = std::time::Instant::now() + READ_TIMEOUT;
    while !done(&out, &ends) {
        assert!(
            std::time::Instant::now() < deadline,
            "read {} messages of {topic} in {READ_TIMEOUT:?} without reaching {}",
            out.len(),
            match until {
                Until::Count(expected) => format!("{expected}"),
                Until::End => "its end".to_owned(),
            }
        );
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message.expect("a readable message").detach();
            if ends
                .get(&message.partition())
                .is_some_and(|end| message.offset() + 1 >= *end)
            {
                ends.remove(&message.partition());
            }
            out.push(message);
        }
    }
    out
}
