//! The RabbitMQ side: durable queues (classic v2 or quorum), persistent
//! messages, a publishing channel in confirm mode; competing consumers on
//! one queue, or a fanout exchange with one queue per group.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Consumer,
    ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
        QueueDeclareOptions, QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use serde::Serialize;
use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{
    collector::Collector,
    pace::{Confirm, Publisher},
    rig::{AckPolicy, Read, RigSpec, Work},
    stamp::{HEADER, Stamp},
};
use crate::bench::{BenchError, env::unique_name};

/// How long connecting and closing may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// AMQP `delivery_mode` of a persistent message.
const PERSISTENT: u8 = 2;

/// Which kind of durable queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// A classic queue with the version 2 message store (`x-queue-version: 2`).
    ClassicV2,
    /// A replicated Raft queue (`x-queue-type: quorum`; one node here).
    Quorum,
}

impl QueueKind {
    pub fn label(self) -> &'static str {
        match self {
            QueueKind::ClassicV2 => "classic v2",
            QueueKind::Quorum => "quorum",
        }
    }

    fn arguments(self) -> FieldTable {
        let mut table = FieldTable::default();
        match self {
            QueueKind::ClassicV2 => table.insert("x-queue-version".into(), AMQPValue::LongInt(2)),
            QueueKind::Quorum => table.insert(
                "x-queue-type".into(),
                AMQPValue::LongString(LongString::from("quorum")),
            ),
        };
        table
    }
}

/// Lapin errors, named by step.
pub(crate) fn amqp(what: &'static str) -> impl FnOnce(lapin::Error) -> BenchError {
    move |error| BenchError::Task {
        what,
        detail: error.to_string(),
    }
}

fn short(text: &str) -> Result<ShortString, BenchError> {
    ShortString::try_new(text.to_owned()).map_err(|_| BenchError::Argument {
        arg: "amqp name",
        detail: format!("`{text}` is longer than 255 bytes"),
    })
}

pub(crate) async fn connect(url: &str) -> Result<Connection, BenchError> {
    tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    .map_err(|_| BenchError::Timeout {
        what: format!("connecting to RabbitMQ at {url}"),
        after: CONNECT_TIMEOUT,
    })?
    .map_err(amqp("connecting to RabbitMQ"))
}

/// Queues (and a fanout exchange for several groups) with their publisher
/// and consumers.
pub(crate) struct RabbitRig {
    publishing: Connection,
    consuming: Connection,
    publisher: Channel,
    exchange: ShortString,
    routing_key: ShortString,
    fanout: Option<String>,
    queues: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

impl RabbitRig {
    pub async fn start(
        url: &str,
        kind: QueueKind,
        spec: RigSpec,
        prefetch: u16,
        collector: &Arc<Collector>,
    ) -> Result<RabbitRig, BenchError> {
        let publishing = connect(url).await?;
        let consuming = connect(url).await?;
        let publisher = publishing
            .create_channel()
            .await
            .map_err(amqp("opening a channel"))?;
        let mut rig = RabbitRig {
            publishing,
            consuming,
            publisher,
            exchange: short("")?,
            routing_key: short("")?,
            fanout: None,
            queues: Vec::new(),
            tasks: Vec::new(),
            stop: CancellationToken::new(),
        };
        match rig.declare(kind, spec, prefetch, collector).await {
            Ok(()) => Ok(rig),
            Err(error) => {
                rig.stop().await;
                Err(error)
            }
        }
    }

    async fn declare(
        &mut self,
        kind: QueueKind,
        spec: RigSpec,
        prefetch: u16,
        collector: &Arc<Collector>,
    ) -> Result<(), BenchError> {
        let channel = &self.publisher;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(amqp("confirm.select"))?;
        let groups = spec.groups.max(1);
        if groups > 1 {
            let exchange = unique_name("bench-compare-fanout");
            channel
                .exchange_declare(
                    short(&exchange)?,
                    ExchangeKind::Fanout,
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .map_err(amqp("exchange.declare"))?;
            self.exchange = short(&exchange)?;
            self.fanout = Some(exchange);
        }
        for _ in 0..groups {
            let queue = unique_name("bench-compare-queue");
            channel
                .queue_declare(
                    short(&queue)?,
                    QueueDeclareOptions::durable(),
                    kind.arguments(),
                )
                .await
                .map_err(amqp("queue.declare"))?;
            self.queues.push(queue.clone());
            match &self.fanout {
                Some(exchange) => channel
                    .queue_bind(
                        short(&queue)?,
                        short(exchange)?,
                        short("")?,
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(amqp("queue.bind"))?,
                None => self.routing_key = short(&queue)?,
            }
        }
        for queue in &self.queues {
            for _ in 0..spec.consumers {
                let (channel, deliveries) = subscribe(&self.consuming, queue, prefetch).await?;
                self.tasks.push(tokio::spawn(consume(
                    channel,
                    deliveries,
                    spec.work,
                    collector.clone(),
                    self.stop.clone(),
                )));
            }
        }
        Ok(())
    }

    pub fn publishing(&self) -> &Connection {
        &self.publishing
    }

    /// The first (with one group, the only) queue.
    pub fn queue(&self) -> &str {
        self.queues.first().map_or("", String::as_str)
    }

    /// Stops the consumers; the queues stay (their unacknowledged
    /// deliveries go back to them).
    pub async fn stop_consumers(&mut self) {
        self.stop.cancel();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Stops the consumers, deletes the queues and the exchange, closes.
    pub async fn stop(mut self) {
        self.stop_consumers().await;
        for queue in &self.queues {
            if let Ok(name) = short(queue)
                && let Err(error) = self
                    .publisher
                    .queue_delete(name, QueueDeleteOptions::default())
                    .await
            {
                tracing::warn!(%queue, %error, "deleting a benchmark queue failed");
            }
        }
        if let Some(exchange) = &self.fanout
            && let Ok(name) = short(exchange)
            && let Err(error) = self
                .publisher
                .exchange_delete(name, ExchangeDeleteOptions::default())
                .await
        {
            tracing::warn!(%exchange, %error, "deleting a benchmark exchange failed");
        }
        for connection in [&self.publishing, &self.consuming] {
            let _ = tokio::time::timeout(
                CONNECT_TIMEOUT,
                connection.close(200, "benchmark done".into()),
            )
            .await;
        }
    }
}

impl Publisher for RabbitRig {
    async fn enqueue(
        &self,
        stamp: &Stamp,
        _key: &[u8],
        payload: &[u8],
    ) -> Result<Confirm, BenchError> {
        let mut headers = FieldTable::default();
        headers.insert(
            HEADER.into(),
            AMQPValue::LongString(LongString::from(stamp.encode().to_vec())),
        );
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_headers(headers);
        let confirm = self
            .publisher
            .basic_publish(
                self.exchange.clone(),
                self.routing_key.clone(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .map_err(amqp("basic.publish"))?;
        Ok(Box::pin(async move {
            match confirm.await.map_err(amqp("publisher confirm"))? {
                Confirmation::Nack(_) => Err(BenchError::Task {
                    what: "publisher confirm",
                    detail: "RabbitMQ nacked a message".to_owned(),
                }),
                _ => Ok(()),
            }
        }))
    }
}

async fn subscribe(
    connection: &Connection,
    queue: &str,
    prefetch: u16,
) -> Result<(Channel, Consumer), BenchError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(amqp("opening a channel"))?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(amqp("basic.qos"))?;
    let deliveries = channel
        .basic_consume(
            short(queue)?,
            short("")?,
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(amqp("basic.consume"))?;
    Ok((channel, deliveries))
}

fn stamp_of(delivery: &Delivery) -> Option<Stamp> {
    match delivery
        .properties
        .headers()
        .as_ref()?
        .inner()
        .get(HEADER)?
    {
        AMQPValue::LongString(bytes) => Stamp::decode(bytes.as_bytes()),
        _ => None,
    }
}

/// A rig consumer: process, report, ack.
async fn consume(
    channel: Channel,
    mut deliveries: Consumer,
    work: Work,
    collector: Arc<Collector>,
    stop: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            next = deliveries.next() => next,
        };
        match next {
            None => break,
            Some(Err(error)) => {
                tracing::warn!(%error, "rabbitmq consumer error");
                break;
            }
            Some(Ok(delivery)) => {
                if let Some(stamp) = stamp_of(&delivery) {
                    work.apply(&stamp).await;
                    collector.record(stamp);
                }
                if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
                    tracing::warn!(%error, "ack failed");
                }
            }
        }
    }
    let _ = channel.close(200, "benchmark done".into()).await;
}

/// Messages ready in `queue` (a passive declare).
pub(crate) async fn ready_messages(
    connection: &Connection,
    queue: &str,
) -> Result<u32, BenchError> {
    let channel = connection
        .create_channel()
        .await
        .map_err(amqp("opening a channel"))?;
    let declared = channel
        .queue_declare(
            short(queue)?,
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(amqp("queue.declare (passive)"))?;
    let _ = channel.close(200, "counted".into()).await;
    Ok(declared.message_count())
}

/// One consumer on its own connection reading `queue` until it has `want`
/// messages of `point`, no message came for `idle`, or the policy makes it
/// die (its connection closed with deliveries unacknowledged).
pub(crate) async fn read_queue(
    url: &str,
    queue: &str,
    point: u32,
    want: u64,
    policy: AckPolicy,
    prefetch: u16,
    idle: Duration,
) -> Result<Vec<Read>, BenchError> {
    let connection = connect(url).await?;
    let outcome = read_from(&connection, queue, point, want, policy, prefetch, idle).await;
    let _ =
        tokio::time::timeout(CONNECT_TIMEOUT, connection.close(200, "reader done".into())).await;
    outcome
}

async fn read_from(
    connection: &Connection,
    queue: &str,
    point: u32,
    want: u64,
    policy: AckPolicy,
    prefetch: u16,
    idle: Duration,
) -> Result<Vec<Read>, BenchError> {
    let (channel, mut deliveries) = subscribe(connection, queue, prefetch).await?;
    let mut reads = Vec::new();
    while (reads.len() as u64) < want {
        let delivery = match tokio::time::timeout(idle, deliveries.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(delivery)) => delivery.map_err(amqp("consume"))?,
        };
        let Some(stamp) = stamp_of(&delivery).filter(|s| s.point == point) else {
            delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map_err(amqp("basic.ack"))?;
            continue;
        };
        reads.push(Read {
            stamp,
            redelivered: delivery.redelivered,
            position: None,
        });
        match policy {
            AckPolicy::Each => {
                delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(amqp("basic.ack"))?;
            }
            AckPolicy::BatchThenDie { every, die_after } => {
                let n = reads.len() as u64;
                if n >= die_after {
                    // Dies: the channel goes away with everything since the
                    // last ack unacknowledged, and RabbitMQ requeues it.
                    let _ = channel.close(200, "consumer crashed".into()).await;
                    return Ok(reads);
                }
                if every > 0 && n.is_multiple_of(every) {
                    delivery
                        .acker
                        .ack(BasicAckOptions { multiple: true })
                        .await
                        .map_err(amqp("basic.ack multiple"))?;
                }
            }
        }
    }
    let _ = channel.close(200, "reader done".into()).await;
    Ok(reads)
}

/// The server's `version` from the `connection.start` server properties:
/// lapin does not expose them, so this opens a bare socket, sends the
/// protocol header and reads the first frame. `None` when anything fails.
pub(crate) async fn server_version(url: &str) -> Option<String> {
    let uri: lapin::uri::AMQPUri = url.parse().ok()?;
    let address = format!("{}:{}", uri.authority.host, uri.authority.port);
    let read = async {
        let mut socket = tokio::net::TcpStream::connect(address).await.ok()?;
        socket.write_all(b"AMQP\x00\x00\x09\x01").await.ok()?;
        let mut frame = Vec::new();
        let mut buffer = [0u8; 4096];
        // Frame header: type (1), channel (2), size (4); then size + 1 bytes.
        loop {
            let n = socket.read(&mut buffer).await.ok()?;
            if n == 0 {
                return None;
            }
            frame.extend_from_slice(&buffer[..n]);
            if frame.len() >= 7 {
                let size = u32::from_be_bytes([frame[3], frame[4], frame[5], frame[6]]) as usize;
                if frame.len() > 7 + size || frame.len() > 1 << 20 {
                    break;
                }
            }
        }
        version_in(&frame)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

/// Finds the `version` long string in a `connection.start` frame's server
/// properties table.
fn version_in(frame: &[u8]) -> Option<String> {
    let marker = b"\x07versionS";
    let at = frame.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let len_bytes: [u8; 4] = frame.get(at..at + 4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let text = frame.get(at + 4..at + 4 + len)?;
    String::from_utf8(text.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_from_server_properties() {
        let mut frame = b"\x01\x00\x00\x00\x00\x00\x40\x00\x0a\x00\x0a\x00\x09".to_vec();
        frame.extend_from_slice(b"\x07productS\x00\x00\x00\x08RabbitMQ");
        frame.extend_from_slice(b"\x07versionS\x00\x00\x00\x063.10.8");
        assert_eq!(version_in(&frame).as_deref(), Some("3.10.8"));
        assert_eq!(version_in(b"\x07versionS\x00\x00\x00\x09short"), None);
        assert_eq!(version_in(b"nothing here"), None);
    }

    #[test]
    fn queue_kinds_carry_their_arguments() {
        let classic = QueueKind::ClassicV2.arguments();
        assert_eq!(
            classic.inner().get("x-queue-version"),
            Some(&AMQPValue::LongInt(2))
        );
        let quorum = QueueKind::Quorum.arguments();
        assert!(quorum.inner().contains_key("x-queue-type"));
    }
}
