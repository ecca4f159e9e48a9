//! The notifications service on either transport: the same projector, the
//! same deduplication and the same dead-lettering whether its events come
//! from Kafka or from RabbitMQ (the bridge's topic exchanges). One scenario
//! ([`scenario::one_notification_per_order`]) runs against both, with a
//! real tansu broker, an in-process registry and the machine's RabbitMQ
//! (`TRIBUTARY_AMQP_URL` overrides the address). Every test uses its own
//! broker, view store and AMQP name prefix.

mod gate;
mod helpers;
mod kafka;
mod rabbitmq;
mod scenario;
