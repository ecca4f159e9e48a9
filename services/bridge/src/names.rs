//! Every exchange and queue name the bridge uses, derived from the contract
//! topic and the configured prefix, in one place.

use lapin::types::ShortString;

use crate::error::AmqpError;

/// Names of the bridge's RabbitMQ objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
    kafka_prefix: String,
}

impl Names {
    pub fn new(amqp_prefix: &str, kafka_prefix: &str) -> Self {
        Names {
            prefix: amqp_prefix.to_owned(),
            kafka_prefix: kafka_prefix.to_owned(),
        }
    }

    /// The durable topic exchange carrying the events of `topic`
    /// (named after the topic: `orders`).
    pub fn egress_exchange(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// Where returned (unroutable) egress messages are dead-lettered.
    pub fn unroutable_exchange(&self) -> String {
        format!("{}tributary.bridge.unroutable", self.prefix)
    }

    /// The durable queue bound to [`Names::unroutable_exchange`].
    pub fn unroutable_queue(&self) -> String {
        self.unroutable_exchange()
    }

    /// The ingress exchange AMQP-only producers publish `topic`'s events to.
    pub fn ingress_exchange(&self, topic: &str) -> String {
        format!("{}tributary.ingress.{topic}", self.prefix)
    }

    /// The durable queue the ingress consumes for `topic`.
    pub fn ingress_queue(&self, topic: &str) -> String {
        self.ingress_exchange(topic)
    }

    /// The dead-letter exchange of the ingress.
    pub fn ingress_dlx(&self) -> String {
        format!("{}tributary.ingress.dlx", self.prefix)
    }

    /// The durable queue holding dead-lettered ingress messages.
    pub fn ingress_dead_queue(&self) -> String {
        format!("{}tributary.ingress.dead", self.prefix)
    }

    /// The contract topic an egress exchange carries, if it is one of ours.
    pub fn contract_topic_of_exchange<'a>(&self, exchange: &'a str) -> Option<&'a str> {
        exchange.strip_prefix(self.prefix.as_str())
    }

    /// Every queue and exchange the bridge declares for `topics` with both
    /// directions on (see [`crate::topology::Topology::declare`]).
    pub fn declared<'a>(&self, topics: impl IntoIterator<Item = &'a str>) -> Declared {
        let mut queues = vec![self.unroutable_queue(), self.ingress_dead_queue()];
        let mut exchanges = vec![self.unroutable_exchange(), self.ingress_dlx()];
        for topic in topics {
            queues.push(self.ingress_queue(topic));
            exchanges.push(self.ingress_exchange(topic));
            exchanges.push(self.egress_exchange(topic));
        }
        Declared { queues, exchanges }
    }

    /// The Kafka topic of contract topic `topic`.
    pub fn kafka_topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.kafka_prefix)
    }

    /// The contract topic of Kafka topic `kafka_topic`, if it is one of ours.
    pub fn contract_topic<'a>(&self, kafka_topic: &'a str) -> Option<&'a str> {
        kafka_topic.strip_prefix(self.kafka_prefix.as_str())
    }
}

/// The names of what the bridge declares, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub queues: Vec<String>,
    pub exchanges: Vec<String>,
}

/// A checked AMQP short string (names, routing keys, ids).
pub fn short(text: impl Into<String>) -> Result<ShortString, AmqpError> {
    let text = text.into();
    let len = text.len();
    ShortString::try_new(text).map_err(|_| AmqpError::NameTooLong(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_architecture_without_a_prefix() {
        let n = Names::new("", "");
        assert_eq!(n.egress_exchange("orders"), "orders");
        assert_eq!(n.ingress_exchange("orders"), "tributary.ingress.orders");
        assert_eq!(n.ingress_dlx(), "tributary.ingress.dlx");
        assert_eq!(n.ingress_dead_queue(), "tributary.ingress.dead");
        assert_eq!(n.unroutable_exchange(), "tributary.bridge.unroutable");
        let p = Names::new("t1.", "k1.");
        assert_eq!(p.egress_exchange("orders"), "t1.orders");
        assert_eq!(p.kafka_topic("orders"), "k1.orders");
        assert_eq!(p.contract_topic("k1.orders"), Some("orders"));
        assert_eq!(p.contract_topic("orders"), None);
        assert!(short("x".repeat(256)).is_err());
        let declared = p.declared(["orders"]);
        assert_eq!(
            declared.queues,
            [
                "t1.tributary.bridge.unroutable",
                "t1.tributary.ingress.dead",
                "t1.tributary.ingress.orders"
            ]
        );
        assert_eq!(
            declared.exchanges,
            [
                "t1.tributary.bridge.unroutable",
                "t1.tributary.ingress.dlx",
                "t1.tributary.ingress.orders",
                "t1.orders"
            ]
        );
    }
}
