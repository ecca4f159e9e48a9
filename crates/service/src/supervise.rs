//! Running a built [`Application`]: every part as its own task, the first
//! one to end on its own decides the outcome, and shutdown is bounded.
//!
//! Shutdown order: readiness turns 503; the HTTP server stops accepting and
//! finishes in-flight requests, the consumer drains (a Kafka group finishes
//! its partitions and commits, bounded by `bus.consumer.drain_timeout`; a
//! RabbitMQ consumer leaves unacknowledged deliveries queued), background tasks see
//! their token cancelled; once those ended, the relay flushes the outbox one
//! last time (including what the drain committed). Whatever still runs at
//! `shutdown_deadline` is aborted; messages left in the outbox are published
//! by the next instance that starts.

use std::{collections::HashMap, fmt, future::Future, net::SocketAddr};

use tokio::{
    task::{Id, JoinError, JoinSet},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use crate::{Application, RunError, http::problem::ErrorChain};

/// One supervised part of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Http,
    Consumer(String),
    Task(usize),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Http => f.write_str("HTTP server"),
            Part::Consumer(group) => write!(f, "consumer group {group}"),
            Part::Task(index) => write!(f, "background task {index}"),
        }
    }
}

/// The parts, and which is which.
struct Parts {
    set: JoinSet<Result<(), RunError>>,
    names: HashMap<Id, Part>,
}

impl Parts {
    fn spawn(
        &mut self,
        part: Part,
        run: impl Future<Output = Result<(), RunError>> + Send + 'static,
    ) {
        let handle = self.set.spawn(run);
        self.names.insert(handle.id(), part);
    }

    /// The next part to end, with how it ended; a panic becomes
    /// [`RunError::Panicked`] naming the part.
    async fn next(&mut self) -> Option<(Part, Result<(), RunError>)> {
        let joined: Result<(Id, Result<(), RunError>), JoinError> =
            self.set.join_next_with_id().await?;
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(error) => (
                error.id(),
                Err(RunError::Panicked {
                    component: String::new(),
                    detail: error.to_string(),
                }),
            ),
        };
        let part = self.names.remove(&id).unwrap_or(Part::Task(usize::MAX));
        let result = result.map_err(|e| match e {
            RunError::Panicked { detail, .. } => RunError::Panicked {
                component: part.to_string(),
                detail,
            },
            e => e,
        });
        Some((part, result))
    }
}

impl Application {
    /// Runs until `shutdown` completes (then stops gracefully and returns
    /// `Ok`) or a part fails or stops on its own (then stops the rest the
    /// same way and returns that part's error). Background tasks that
    /// return `Ok` early are logged and not treated as failures.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let Application {
            name,
            context,
            listener,
            router,
            source,
            relay,
            tasks,
            readiness,
            shutdown_deadline,
            ..
        } = self;
        let stop = CancellationToken::new();
        let mut parts = Parts {
            set: JoinSet::new(),
            names: HashMap::new(),
        };

        let http_stop = stop.clone();
        parts.spawn(Part::Http, async move {
            let served = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(http_stop.clone().cancelled_owned())
            .await;
            match served {
                Ok(()) if http_stop.is_cancelled() => Ok(()),
                Ok(()) => Err(RunError::Stopped {
                    component: Part::Http.to_string(),
                }),
                Err(error) => Err(RunError::Http(error)),
            }
        });
        if let Some(source) = source {
            let part = Part::Consumer(source.group().to_owned());
            let token = stop.child_token();
            let component = part.to_string();
            tracing::info!(service = name, transport = source.transport(), "consuming");
            parts.spawn(part, async move {
                match source.run(token.clone()).await {
                    Ok(()) if token.is_cancelled() => Ok(()),
                    Ok(()) => Err(RunError::Stopped { component }),
                    Err(error) => Err(error),
                }
            });
        }
        for (index, task) in tasks.into_iter().enumerate() {
            let running = task(context.clone(), stop.child_token());
            parts.spawn(Part::Task(index), async move {
                running
                    .await
                    .map_err(|source| RunError::Task { index, source })
            });
        }
        let relay_stop = CancellationToken::new();
        let mut relay = tokio::spawn(relay.run(relay_stop.clone()));
        tracing::info!(service = name, "service running");

        let mut outcome = Ok(());
        let mut relay_ended = false;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!(service = name, "shutdown requested");
                    break;
                }
                ended = parts.next() => {
                    let Some((part, result)) = ended else { break };
                    match (&part, result) {
                        (Part::Task(_), Ok(())) => {
                            tracing::info!(service = name, part = %part, "background task finished");
                        }
                        (_, result) => {
                            let error = result.err().unwrap_or_else(|| RunError::Stopped {
                                component: part.to_string(),
                            });
                            tracing::error!(
                                service = name,
                                part = %part,
                                error = %ErrorChain(&error),
                                "a part of the service ended first; shutting down"
                            );
                            outcome = Err(error);
                            break;
                        }
                    }
                }
                joined = &mut relay => {
                    // The relay only returns after its stop token, which
                    // nobody cancelled yet: it panicked.
                    relay_ended = true;
                    let detail = joined.err().map_or_else(|| "returned early".to_owned(), |e| e.to_string());
                    tracing::error!(service = name, part = "outbox relay", %detail, "a part of the service ended first; shutting down");
                    outcome = Err(RunError::Panicked { component: "outbox relay".to_owned(), detail });
                    break;
                }
            }
        }

        readiness.set_stopping();
        stop.cancel();
        let deadline = Instant::now() + shutdown_deadline;
        let drained = tokio::time::timeout_at(deadline, async {
            while let Some((part, result)) = parts.next().await {
                match result {
                    Ok(()) => tracing::debug!(service = name, part = %part, "stopped"),
                    Err(error) => {
                        tracing::warn!(service = name, part = %part, error = %ErrorChain(&error), "failed while stopping");
                        if outcome.is_ok() {
                            outcome = Err(error);
                        }
                    }
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                service = name,
                remaining = parts.set.len(),
                "parts still running at the shutdown deadline; aborting them"
            );
            parts.set.abort_all();
        }
        relay_stop.cancel();
        if !relay_ended && tokio::time::timeout_at(deadline, &mut relay).await.is_err() {
            tracing::warn!(
                service = name,
                "outbox not flushed by the shutdown deadline; the next instance publishes what is left"
            );
            relay.abort();
        }
        tracing::info!(service = name, ok = outcome.is_ok(), "service stopped");
        outcome
    }

    /// Runs until Ctrl-C or SIGTERM; see [`Application::run_until`].
    pub async fn run(self) -> Result<(), RunError> {
        self.run_until(crate::shutdown_signal()).await
    }
}
