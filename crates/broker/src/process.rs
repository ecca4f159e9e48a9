use std::{
    fs::{self, File},
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{net::TcpStream, process::Child, time::Instant};

use crate::{BrokerError, locate_tansu};

/// Where the broker keeps its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// Nothing survives the process: for tests.
    Memory,
    /// A SQLite database, `tansu.db` in the broker's working directory: the
    /// durable local default of `tributary up`.
    Sqlite,
}

/// The SQLite file name inside the working directory.
pub const SQLITE_FILE: &str = "tansu.db";

impl Storage {
    fn engine_url(&self) -> String {
        match self {
            Storage::Memory => "memory://tansu/".to_owned(),
            // tansu resolves the URL's path against its working directory,
            // which is the broker's work_dir.
            Storage::Sqlite => format!("sqlite://{SQLITE_FILE}"),
        }
    }
}

/// How to start the embedded broker.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// The tansu binary; `None` finds it with [`locate_tansu`].
    pub binary: Option<PathBuf>,
    /// Address the broker listens on and advertises to clients.
    pub listen: SocketAddr,
    /// Memory or SQLite storage.
    pub storage: Storage,
    /// Directory for the broker's log file and working directory.
    pub work_dir: PathBuf,
    /// How long to wait for the broker to accept connections.
    pub ready_timeout: Duration,
    /// `RUST_LOG` for the broker process.
    pub log_filter: String,
}

impl BrokerOptions {
    /// Options for a broker on `listen` with its files under `work_dir`.
    pub fn new(listen: SocketAddr, storage: Storage, work_dir: impl Into<PathBuf>) -> Self {
        BrokerOptions {
            binary: None,
            listen,
            storage,
            work_dir: work_dir.into(),
            ready_timeout: Duration::from_secs(30),
            log_filter: "warn".to_owned(),
        }
    }
}

/// A running tansu broker. Dropping it kills the process.
#[derive(Debug)]
pub struct BrokerProcess {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

/// Environment variables tansu reads as defaults for its flags. They are
/// removed from the child's environment so a stray variable in the user's
/// shell cannot change what we asked for.
const TANSU_ENV: [&str; 6] = [
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

impl BrokerProcess {
    /// Starts the broker and waits until it accepts TCP connections.
    pub async fn spawn(options: BrokerOptions) -> Result<BrokerProcess, BrokerError> {
        let binary = match &options.binary {
            Some(path) => path.clone(),
            None => locate_tansu()?,
        };
        fs::create_dir_all(&options.work_dir).map_err(|source| BrokerError::Io {
            path: options.work_dir.clone(),
            source,
        })?;
        let log = options.work_dir.join("broker.log");
        let log_file = open_log(&log)?;
        let log_err = log_file.try_clone().map_err(|source| BrokerError::Io {
            path: log.clone(),
            source,
        })?;
        let url = format!("tcp://{}", options.listen);
        let mut command = tokio::process::Command::new(&binary);
        command
            .arg("broker")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .arg("--storage-engine")
            .arg(options.storage.engine_url())
            // tansu loads a `.env` file from its working directory; give it
            // one of ours so nothing else is picked up.
            .current_dir(&options.work_dir)
            .env("RUST_LOG", &options.log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file))
            .stderr(Stdio::from(log_err))
            // Its own process group: a Ctrl-C in the terminal reaches only
            // the supervisor, which stops the broker after the services that
            // still need it to drain.
            .process_group(0)
            .kill_on_drop(true);
        for var in TANSU_ENV {
            command.env_remove(var);
        }
        let child = command.spawn().map_err(|source| BrokerError::Spawn {
            binary: binary.clone(),
            source,
        })?;
        let mut process = BrokerProcess {
            child,
            addr: options.listen,
            log,
        };
        process.wait_ready(options.ready_timeout).await?;
        tracing::info!(addr = %process.addr, binary = %binary.display(), "embedded broker ready");
        Ok(process)
    }

    /// The address clients use as `bootstrap.servers`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `bootstrap.servers` string for this broker.
    pub fn bootstrap_servers(&self) -> String {
        self.addr.to_string()
    }

    /// The broker's log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The process id, for fault tests that kill the broker from outside.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Returns the exit status if the process has ended.
    pub fn try_exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// Waits for the process to end (for supervisors).
    pub async fn wait(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => format!("unknown ({e})"),
        }
    }

    /// Stops the broker: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        if let Some(pid) = self.child.id() {
            // std has no portable SIGTERM; `kill` is on every Unix we target.
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
            if tokio::time::timeout(grace, self.child.wait()).await.is_ok() {
                return;
            }
        }
        let _ = self.child.kill().await;
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), BrokerError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                return Err(BrokerError::ExitedEarly {
                    status,
                    log: self.log.display().to_string(),
                });
            }
            if TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(BrokerError::NotReady {
                    addr: self.addr,
                    timeout,
                    log: self.log.display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn open_log(path: &Path) -> Result<File, BrokerError> {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| BrokerError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Asks the kernel for a free port on 127.0.0.1.
///
/// The port is released before the broker binds it, so another process could
/// take it in between; callers that start brokers retry on
/// [`BrokerError::ExitedEarly`].
pub fn free_local_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
