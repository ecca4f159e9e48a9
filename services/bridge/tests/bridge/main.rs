//! Integration tests of the bridge against the machine's real RabbitMQ
//! (`scripts/ensure-rabbitmq`; `TRIBUTARY_AMQP_URL` overrides the address),
//! a real tansu broker and an in-process schema registry. Every test uses
//! its own Kafka topic prefix and AMQP name prefix, and deletes its AMQP
//! objects at the end.

mod egress;
mod faults;
mod helpers;
mod ingress;
mod interop;
mod models;
mod proxy;
mod restart;
mod service;
