//! One confirmed publish: the future resolves only once RabbitMQ confirmed
//! the message (stored, or returned as unroutable).

use lapin::{
    BasicProperties, Channel, Confirmation, message::BasicReturnMessage,
    options::BasicPublishOptions, types::ShortString,
};

use crate::error::AmqpError;

/// How a confirmed publish ended.
#[derive(Debug)]
pub enum Published {
    /// Routed to at least one queue and confirmed.
    Routed,
    /// Confirmed but returned: no queue is bound for its routing key.
    Returned(Box<BasicReturnMessage>),
}

/// Publishes on a channel in confirm mode and waits for the confirm.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: ShortString,
    routing_key: ShortString,
    mandatory: bool,
    payload: &[u8],
    properties: BasicProperties,
) -> Result<Published, AmqpError> {
    let options = BasicPublishOptions {
        mandatory,
        ..BasicPublishOptions::default()
    };
    let confirm = channel
        .basic_publish(exchange, routing_key, options, payload, properties)
        .await?
        .await?;
    match confirm {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(Published::Routed),
        Confirmation::Ack(Some(returned)) => Ok(Published::Returned(Box::new(returned))),
        Confirmation::Nack(_) => Err(AmqpError::Nacked),
    }
}
