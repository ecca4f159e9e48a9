//! [`Link`]: one AMQP connection, re-established with backoff whenever it
//! fails, with the bridge's topology declared on every (re)connect.
//!
//! Users ask for the current [`Session`] (waiting while there is none) and
//! report failures with [`Link::mark_broken`]; the link then drops the
//! session, reconnects and publishes a new one. Work in flight on the old
//! session (unconfirmed publishes, unacknowledged deliveries) is retried by
//! its owner on the new session — RabbitMQ redelivers unacknowledged
//! deliveries by itself.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use lapin::{Channel, Connection, ConnectionProperties, Event, options::ConfirmSelectOptions};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{BridgeConfig, error::AmqpError, topology::Topology};

/// How long closing a connection may take before it is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pending failure reports; more are redundant (one reconnect serves all).
const BROKEN_REPORTS: usize = 16;

/// Opens and closes one connection to `url`: whether RabbitMQ is there and
/// takes these credentials. `tributary up` asks before it starts the bridge.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), AmqpError> {
    let connection = tokio::time::timeout(
        timeout,
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    .map_err(|_| AmqpError::TimedOut(timeout))??;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, "probed".into())).await;
    Ok(())
}

/// One established connection with a publishing channel in confirm mode.
#[derive(Clone)]
pub struct Session {
    /// Increases with every reconnect, so a stale failure report is ignored.
    pub generation: u64,
    pub connection: Arc<Connection>,
    /// Shared by every publisher: confirms are tracked per publish.
    pub publisher: Channel,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// A self-healing AMQP connection. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Link {
    state: watch::Sender<Option<Session>>,
    broken: mpsc::Sender<u64>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    url: String,
    initial_backoff: Duration,
    max_backoff: Duration,
}

/// The half of a [`Link`] that runs the connection loop.
#[derive(Debug)]
pub struct LinkDriver {
    link: Link,
    broken: mpsc::Receiver<u64>,
    topology: Topology,
}

impl Link {
    pub fn new(config: &BridgeConfig, topology: Topology) -> (Link, LinkDriver) {
        let (tx, rx) = mpsc::channel(BROKEN_REPORTS);
        let link = Link {
            state: watch::Sender::new(None),
            broken: tx,
            shared: Arc::new(Shared {
                url: config.amqp_url.clone(),
                initial_backoff: config.reconnect_initial_backoff,
                max_backoff: config.reconnect_max_backoff,
            }),
        };
        let driver = LinkDriver {
            link: link.clone(),
            broken: rx,
            topology,
        };
        (link, driver)
    }

    /// The current session, waiting for one while disconnected.
    pub async fn session(&self, stop: &CancellationToken) -> Result<Session, AmqpError> {
        let mut state = self.state.subscribe();
        tokio::select! {
            biased;
            _ = stop.cancelled() => Err(AmqpError::Stopped),
            session = state.wait_for(Option::is_some) => {
                session.ok().and_then(|s| s.clone()).ok_or(AmqpError::Stopped)
            }
        }
    }

    /// Whether a session is up now (for readiness).
    pub fn is_connected(&self) -> bool {
        self.state.borrow().is_some()
    }

    /// Reports that `generation`'s session failed; the driver reconnects.
    pub fn mark_broken(&self, generation: u64) {
        // A full queue already holds a report that forces the reconnect.
        let _ = self.broken.try_send(generation);
    }

    /// The first reconnect pause (also the pause before retrying a failed
    /// operation).
    pub fn initial_backoff(&self) -> Duration {
        self.shared.initial_backoff
    }
}

impl LinkDriver {
    /// Connects, declares, serves the session until it fails, and again,
    /// with exponential backoff between failed attempts, until `stop`.
    pub async fn run(mut self, stop: CancellationToken) {
        let shared = self.link.shared.clone();
        let mut backoff = shared.initial_backoff;
        let mut generation = 0u64;
        while !stop.is_cancelled() {
            generation += 1;
            match self.connect(generation).await {
                Ok(session) => {
                    backoff = shared.initial_backoff;
                    tracing::info!(generation, "connected to rabbitmq");
                    let connection = session.connection.clone();
                    self.link.state.send_replace(Some(session));
                    self.serve(&connection, generation, &stop).await;
                    self.link.state.send_replace(None);
                    let _ = tokio::time::timeout(
                        CLOSE_TIMEOUT,
                        connection.close(200, "tributary bridge reconnecting".into()),
                    )
                    .await;
                    if stop.is_cancelled() {
                        break;
                    }
                    tracing::warn!(generation, "rabbitmq connection lost, reconnecting");
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot connect to rabbitmq");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(shared.max_backoff);
        }
        self.link.state.send_replace(None);
    }

    async fn connect(&self, generation: u64) -> Result<Session, AmqpError> {
        let connection =
            Connection::connect(&self.link.shared.url, ConnectionProperties::default()).await?;
        let declare = connection.create_channel().await?;
        self.topology.declare(&declare).await?;
        let _ = declare.close(200, "declared".into()).await;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Session {
            generation,
            connection: Arc::new(connection),
            publisher,
        })
    }

    /// Returns when the connection fails, a user reports this generation
    /// broken, or `stop`.
    async fn serve(&mut self, connection: &Connection, generation: u64, stop: &CancellationToken) {
        let mut events = connection.events_listener();
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                report = self.broken.recv() => match report {
                    Some(g) if g == generation => return,
                    Some(_) => {}
                    None => return,
                },
                event = events.next() => match event {
                    None => return,
                    Some(Event::Error(error)) => {
                        tracing::warn!(%error, "rabbitmq connection error");
                        return;
                    }
                    Some(other) => tracing::debug!(event = ?other, "rabbitmq connection event"),
                },
            }
        }
    }
}
