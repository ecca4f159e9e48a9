//! A whole platform per test: the built `tributary up` as a child process on
//! a temporary data directory and a block of free ports, stopped (SIGTERM,
//! then SIGKILL of everything it started) when the test ends.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tokio::sync::{Semaphore, SemaphorePermit};
use tributary::load::{Endpoints, LoadOptions, ProgressMode};
use tributary_testkit::wait_until;

/// Platforms running at once in this test binary. Each is a broker and
/// eight processes; on two cores more than one at a time only makes every
/// test slower. `TRIBUTARY_E2E_PARALLEL` raises it on bigger machines.
static SLOTS: Semaphore = Semaphore::const_new(0);
static SLOTS_INIT: std::sync::Once = std::sync::Once::new();

/// How long `up` may take to report every process ready.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `up` gets to stop its children after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// Service ports are `first_service_port + offset`, replica `n` adds `100 * (n - 1)`.
const SERVICE_OFFSETS: [(&str, u16); 6] = [
    ("users", 0),
    ("inventory", 1),
    ("payments", 2),
    ("orders", 3),
    ("notifications", 4),
    ("analytics", 5),
];

/// The bridge's port offset, after the last business service.
const BRIDGE_OFFSET: u16 = 6;

/// How to start a platform.
#[derive(Debug, Default, Clone)]
pub struct Start {
    /// `--replicas` values, e.g. `("orders", 3)`.
    pub replicas: Vec<(&'static str, u16)>,
    /// Extra `TRIBUTARY__…` settings for every process.
    pub env: Vec<(&'static str, String)>,
    /// A TOML configuration file's text, passed as `up --config`.
    pub config: Option<&'static str>,
    /// Run the RabbitMQ bridge too (`up.bridge = "always"`); off otherwise,
    /// so tests that do not look at RabbitMQ do not pay for it.
    pub bridge: bool,
}

/// A running platform.
#[derive(Debug)]
pub struct Platform {
    up: Child,
    dir: Option<tempfile::TempDir>,
    data: PathBuf,
    base: u16,
    replicas: Vec<(&'static str, u16)>,
    bridge: bool,
    started: Instant,
    _slot: SemaphorePermit<'static>,
}

impl Platform {
    pub async fn start(start: Start) -> Platform {
        SLOTS_INIT.call_once(|| {
            let parallel = std::env::var("TRIBUTARY_E2E_PARALLEL")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1usize);
            SLOTS.add_permits(parallel.max(1));
        });
        let slot = SLOTS.acquire().await.expect("semaphore never closes");
        let dir = tempfile::Builder::new()
            .prefix("tributary-e2e-")
            .tempdir()
            .expect("temporary directory");
        let data = dir.path().join("data");
        let base = free_port_block();
        let log = std::fs::File::create(dir.path().join("up.log")).expect("up log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tributary"));
        command
            .arg("up")
            .arg("--data-dir")
            .arg(&data)
            .env("TRIBUTARY__UP__BROKER_LISTEN", format!("127.0.0.1:{base}"))
            .env(
                "TRIBUTARY__UP__REGISTRY_LISTEN",
                format!("127.0.0.1:{}", base + 1),
            )
            .env("TRIBUTARY__UP__GATEWAY_PORT", (base + 2).to_string())
            .env("TRIBUTARY__UP__FIRST_SERVICE_PORT", (base + 10).to_string())
            .env(
                "TRIBUTARY__UP__BRIDGE",
                if start.bridge { "always" } else { "never" },
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log));
        for (service, count) in &start.replicas {
            command.arg("--replicas").arg(format!("{service}={count}"));
        }
        for (key, value) in &start.env {
            command.env(key, value);
        }
        if let Some(text) = start.config {
            let file = dir.path().join("tributary.toml");
            std::fs::write(&file, text).expect("configuration file");
            command.arg("--config").arg(file);
        }
        let up = command.spawn().expect("starting tributary up");
        let mut platform = Platform {
            up,
            dir: Some(dir),
            data,
            base,
            replicas: start.replicas,
            bridge: start.bridge,
            started: Instant::now(),
            _slot: slot,
        };
        platform.wait_ready().await;
        platform
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        let mut urls = vec![self.gateway()];
        if self.bridge {
            urls.push(self.bridge_url());
        }
        for (service, _) in SERVICE_OFFSETS {
            for replica in 1..=self.replica_count(service) {
                urls.push(self.service_url(service, replica));
            }
        }
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.up.try_wait() {
                panic!("`tributary up` exited with {status}:\n{}", self.log_tail());
            }
            let mut ready = true;
            for url in &urls {
                let ok = client
                    .get(format!("{url}/health/ready"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    ready = false;
                    break;
                }
            }
            if ready {
                eprintln!("platform ready in {:.1}s", started.elapsed().as_secs_f64());
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "platform not ready within {START_TIMEOUT:?}:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn replica_count(&self, service: &str) -> u16 {
        self.replicas
            .iter()
            .find(|(name, _)| *name == service)
            .map_or(1, |(_, n)| *n)
    }

    pub fn gateway(&self) -> String {
        format!("http://127.0.0.1:{}", self.base + 2)
    }

    pub fn registry_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.base + 1)
    }

    /// The bridge's HTTP address: the port after the business services'.
    pub fn bridge_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.base + 10 + BRIDGE_OFFSET)
    }

    pub fn bootstrap_servers(&self) -> String {
        format!("127.0.0.1:{}", self.base)
    }

    /// Base URL of replica `replica` (1-based) of `service`.
    pub fn service_url(&self, service: &str, replica: u16) -> String {
        let offset = SERVICE_OFFSETS
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, offset)| *offset)
            .unwrap_or_else(|| panic!("unknown service {service}"));
        let port = self.base + 10 + offset + 100 * (replica - 1);
        format!("http://127.0.0.1:{port}")
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            gateway: self.gateway(),
            inventory: self.service_url("inventory", 1),
            payments: self.service_url("payments", 1),
            orders: self.service_url("orders", 1),
            notifications: self.service_url("notifications", 1),
        }
    }

    /// Load options for this platform: `orders` at `rate` per second.
    pub fn load_options(&self, orders: usize, rate: f64) -> LoadOptions {
        LoadOptions {
            endpoints: self.endpoints(),
            rate,
            duration: Duration::from_secs_f64(orders as f64 / rate),
            progress: ProgressMode::Quiet,
            ..LoadOptions::default()
        }
    }

    /// The pid in `<data>/run/<child>.pid`, if the file exists.
    pub fn pid_of(&self, child: &str) -> Option<u32> {
        std::fs::read_to_string(self.data.join("run").join(format!("{child}.pid")))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    }

    /// SIGKILLs the current process of `child` (e.g. `inventory-1`) and
    /// returns its pid.
    pub fn kill(&self, child: &str) -> u32 {
        let pid = self
            .pid_of(child)
            .unwrap_or_else(|| panic!("no pid file for {child}"));
        signal(pid, "KILL");
        pid
    }

    /// Waits until the supervisor has restarted `child` (a new pid) and the
    /// new process reports ready at `url`.
    pub async fn wait_restarted(&self, child: &str, old_pid: u32, url: &str) {
        wait_until(
            Duration::from_secs(60),
            &format!("{child} restarted by the supervisor"),
            || async { self.pid_of(child).is_some_and(|pid| pid != old_pid) },
        )
        .await;
        // Ready again means its consumer has partitions again; the last
        // answer says what it is waiting for if it never gets there.
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(response) = client
                .get(format!("{url}/health/ready"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                let ready = response.status().is_success();
                last = response.text().await.unwrap_or_default();
                if ready {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{child} was restarted but is not ready after 60s; last readiness answer: {last}");
    }

    /// The text of `url`'s Prometheus endpoint.
    pub async fn metrics(&self, url: &str) -> String {
        reqwest::get(format!("{url}/metrics"))
            .await
            .expect("metrics reachable")
            .text()
            .await
            .expect("metrics text")
    }

    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let text = std::fs::read_to_string(dir.path().join("up.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        // Everything `up` started, in case it has to be killed: its direct
        // children (the broker and the supervised processes; they run in
        // their own process groups, so nothing else reaches them).
        let children = direct_children(self.up.id());
        signal(self.up.id(), "TERM");
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut stopped = false;
        while Instant::now() < deadline {
            if matches!(self.up.try_wait(), Ok(Some(_))) {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !stopped {
            eprintln!("`tributary up` did not stop within {STOP_TIMEOUT:?}; killing everything");
            let _ = self.up.kill();
            let _ = self.up.wait();
        }
        // Anything still alive (children `up` failed to stop, or restarted
        // ones whose pids are in the pid files) is killed for good.
        let run = self.data_dir().join("run");
        let pid_files = std::fs::read_dir(&run)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .filter_map(|text| text.trim().parse::<u32>().ok());
        for pid in children.into_iter().chain(pid_files) {
            signal(pid, "KILL");
        }
        eprintln!(
            "platform stopped after {:.1}s",
            self.started.elapsed().as_secs_f64()
        );
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "test failed: keeping the platform's data and logs in {}",
                dir.keep().display()
            );
        }
    }
}

/// Sends `SIGname` to `pid` (std has no portable signals and unsafe code is
/// forbidden; `kill` is on every Unix).
fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The direct children of `pid` (Linux `/proc`; empty elsewhere).
fn direct_children(pid: u32) -> Vec<u32> {
    let tasks = format!("/proc/{pid}/task");
    std::fs::read_dir(tasks)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A base port whose whole block is free: base (broker), +1 (registry),
/// +2 (gateway), +10..+15 (services) and the replica ports +110.., +210...
fn free_port_block() -> u16 {
    for _ in 0..200 {
        let base = 20_000 + 10 * (rand_u16() % 3_000);
        let mut ports = vec![base, base + 1, base + 2];
        for replica in 0..3 {
            ports.extend((10..16).map(|o| base + o + 100 * replica));
        }
        let free = ports
            .iter()
            .all(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free block of ports found");
}

fn rand_u16() -> u16 {
    let bytes = uuid::Uuid::new_v4();
    u16::from_le_bytes([bytes.as_bytes()[0], bytes.as_bytes()[1]])
}
