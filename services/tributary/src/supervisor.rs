//! Supervises child processes for `tributary up`: start, restart with
//! exponential backoff when one dies, and stop everything within a deadline.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{process::Command, task::JoinSet};
use tokio_util::sync::CancellationToken;

/// What to run, and how to name it in logs.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Name in logs, e.g. `orders-2`.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// Where the child's stdout and stderr go.
    pub log_file: PathBuf,
    /// The shortest wait before restarting this child after it died, whatever
    /// the backoff says. Consumer-group members wait out the group's session
    /// timeout: then the broker has already dropped the dead member when the
    /// new one joins. On tansu 0.6, a member that joins while its killed
    /// predecessor still counts as alive can be left without partitions for
    /// good (the group settles without rebalancing); on Kafka nothing is
    /// lost, because the dead member's partitions move only after the
    /// session timeout anyway.
    pub min_restart_delay: Duration,
}

/// Restart policy: the delay doubles after each crash up to `max_backoff`,
/// and resets once a child has stayed up for `stable_after`.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub stable_after: Duration,
    /// How long a child gets between SIGTERM and SIGKILL on shutdown.
    pub stop_grace: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// A set of supervised children sharing one shutdown signal.
#[derive(Debug)]
pub struct Supervisor {
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
    policy: RestartPolicy,
    pid_dir: Option<PathBuf>,
}

impl Supervisor {
    pub fn new(policy: RestartPolicy) -> Self {
        Supervisor {
            tasks: JoinSet::new(),
            shutdown: CancellationToken::new(),
            policy,
            pid_dir: None,
        }
    }

    /// Writes `<dir>/<child>.pid` each time a child (re)starts, so operators
    /// and fault tests can find the current process; removed when the child
    /// is stopped. Stale files of an earlier run are cleared now.
    pub fn with_pid_dir(mut self, dir: PathBuf) -> Self {
        if let Err(error) = clear_pid_files(&dir) {
            tracing::warn!(dir = %dir.display(), %error, "cannot prepare the pid file directory");
        }
        self.pid_dir = Some(dir);
        self
    }

    /// Starts `spec` now and keeps it running until [`Supervisor::shutdown`].
    pub fn spawn(&mut self, spec: ChildSpec) {
        let shutdown = self.shutdown.child_token();
        let policy = self.policy;
        let pid_file = self
            .pid_dir
            .as_ref()
            .map(|dir| dir.join(format!("{}.pid", spec.name)));
        self.tasks
            .spawn(supervise(spec, policy, shutdown, pid_file));
    }

    /// Stops every child (SIGTERM, then SIGKILL after the grace period) and
    /// waits for them, bounded by the grace period plus a margin.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        let deadline = self.policy.stop_grace + Duration::from_secs(5);
        if tokio::time::timeout(deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!("children still running after the shutdown deadline; aborting");
            self.tasks.abort_all();
        }
    }
}

async fn supervise(
    spec: ChildSpec,
    policy: RestartPolicy,
    shutdown: CancellationToken,
    pid_file: Option<PathBuf>,
) {
    let mut backoff = policy.initial_backoff;
    loop {
        let started = tokio::time::Instant::now();
        let mut child = match start(&spec) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(child = %spec.name, %error, "cannot start child process");
                if wait_or_cancel(backoff, &shutdown).await {
                    return;
                }
                backoff = (backoff * 2).min(policy.max_backoff);
                continue;
            }
        };
        tracing::info!(child = %spec.name, pid = child.id(), "started");
        if let (Some(path), Some(pid)) = (&pid_file, child.id()) {
            write_pid_file(path, pid);
        }
        tokio::select! {
            status = child.wait() => {
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                if started.elapsed() >= policy.stable_after {
                    backoff = policy.initial_backoff;
                }
                let delay = backoff.max(spec.min_restart_delay);
                tracing::warn!(child = %spec.name, %status, restart_in = ?delay, "child exited; restarting");
                if wait_or_cancel(delay, &shutdown).await {
                    return;
                }
                backoff = (backoff * 2).min(policy.max_backoff);
            }
            () = shutdown.cancelled() => {
                stop(&spec.name, &mut child, policy.stop_grace).await;
                if let Some(path) = &pid_file {
                    let _ = std::fs::remove_file(path);
                }
                return;
            }
        }
    }
}

fn start(spec: &ChildSpec) -> std::io::Result<tokio::process::Child> {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&spec.log_file)?;
    let log_err = log.try_clone()?;
    Command::new(&spec.program)
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        // Its own process group: Ctrl-C in the terminal reaches only the
        // supervisor, which stops children in order (services before the
        // broker they drain into).
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
}

/// Replaces `path` atomically (write a sibling, rename), so a reader never
/// sees a half-written pid.
fn write_pid_file(path: &Path, pid: u32) {
    let temporary = path.with_extension("pid.tmp");
    let written = std::fs::write(&temporary, format!("{pid}\n"))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), %error, "cannot write the pid file");
    }
}

/// Creates `dir` and removes the `*.pid` files an earlier run left there.
fn clear_pid_files(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "pid") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Sleeps for `delay`; returns true if shutdown was requested meanwhile.
async fn wait_or_cancel(delay: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = shutdown.cancelled() => true,
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
pub async fn stop(name: &str, child: &mut tokio::process::Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // std has no portable SIGTERM and this crate forbids unsafe code;
        // `kill` is on every Unix we target.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
        if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
            tracing::info!(child = %name, status = ?status.ok(), "stopped");
            return;
        }
        tracing::warn!(child = %name, "did not stop within {grace:?}; killing");
    }
    let _ = child.kill().await;
}
