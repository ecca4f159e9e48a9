//! The registry application: built once (topic ensured, log read to its end,
//! listener bound), then run until a shutdown future completes.

use std::{
    future::{Future, IntoFuture},
    io,
    net::SocketAddr,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use axum::Router;
use thiserror::Error;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    config::RegistryConfig,
    server::{self, AppState},
    state::RegistryState,
    store::{self, LogWriter, StoreError},
    tailer,
    writer::Writer,
};

/// How long in-flight requests may take to finish after shutdown is asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long the log reader may take to stop.
const READER_STOP_GRACE: Duration = Duration::from_secs(5);

/// Why the registry could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A configuration value is unusable.
    #[error("invalid registry configuration `{key}`: {detail}")]
    Config { key: &'static str, detail: String },
    /// The broker or the schemas topic failed us.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("cannot listen on `{address}`: {source}")]
    Bind { address: String, source: io::Error },
    /// The HTTP server failed while running.
    #[error("registry HTTP server failed: {0}")]
    Serve(io::Error),
}

/// A started registry: its state is loaded and its listener bound, so
/// [`Registry::local_addr`] is known (tests bind port 0) before it serves.
pub struct Registry {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    /// Stops the log reader.
    cancel: CancellationToken,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Ensures the schemas topic exists, reads it up to the end offset seen
    /// at start, then binds the listener. Retries an unreachable broker until
    /// `config.startup_timeout`, then fails naming the bootstrap servers.
    pub async fn build(config: RegistryConfig) -> Result<Registry, ServerError> {
        config
            .validate()
            .map_err(|(key, detail)| ServerError::Config { key, detail })?;
        let started = Instant::now();
        store::ensure_topic(&config).await?;

        let state = Arc::new(RwLock::new(RegistryState::new(
            config.default_compatibility,
        )));
        let log = LogWriter::new(&config)?;
        let cancel = CancellationToken::new();
        // Stops the reader again if anything below fails.
        let guard = cancel.clone().drop_guard();
        let (progress, reader) = tailer::start(&config, Arc::clone(&state), cancel.clone())?;
        let end = end_offset_at_start(&log, &config, started).await?;
        let remaining = config
            .startup_timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_secs(1));
        progress.wait_applied(end, remaining).await?;
        tracing::info!(topic = %config.topic, records_up_to = end, "schemas topic loaded");

        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    address: config.listen.clone(),
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            address: config.listen.clone(),
            source,
        })?;
        let writer = Arc::new(Writer::new(
            log,
            progress.clone(),
            Arc::clone(&state),
            config.write_timeout,
        ));
        let router = server::router(AppState {
            state,
            writer,
            progress,
        });
        guard.disarm();
        Ok(Registry {
            listener,
            local_addr,
            router,
            cancel,
            reader,
        })
    }

    /// The address the API listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish
    /// (at most 10 s) and stops the log reader.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Registry {
            listener,
            local_addr,
            router,
            cancel,
            reader,
        } = self;
        tracing::info!(%local_addr, "schema registry listening");
        let stopping = CancellationToken::new();
        let signal = {
            let stopping = stopping.clone();
            async move {
                shutdown.await;
                stopping.cancel();
            }
        };
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .into_future();
        let deadline = async {
            stopping.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let result = tokio::select! {
            result = serve => result.map_err(ServerError::Serve),
            () = deadline => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still open at the shutdown deadline; dropping them");
                Ok(())
            }
        };
        cancel.cancel();
        let abort = reader.abort_handle();
        if tokio::time::timeout(READER_STOP_GRACE, reader)
            .await
            .is_err()
        {
            abort.abort();
        }
        tracing::info!(%local_addr, "schema registry stopped");
        result
    }
}

/// The end offset of the schemas topic, retried until the start-up deadline:
/// a topic created a moment ago may not be in the broker's metadata yet.
async fn end_offset_at_start(
    log: &LogWriter,
    config: &RegistryConfig,
    started: Instant,
) -> Result<i64, StoreError> {
    let mut pause = Duration::from_millis(100);
    loop {
        match log.end_offset().await {
            Ok(end) => return Ok(end),
            Err(e) if started.elapsed() + pause < config.startup_timeout => {
                tracing::debug!(error = %e, "schemas topic end offset not available yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(e) => return Err(e),
        }
    }
}
