//! What `/health/ready` reports: the store answers, the producer reaches
//! the broker, and the consumer receives events — on Kafka: the group owns
//! partitions (or the service consumes nothing). Components update it as they learn; the probe only
//! reads, so it is cheap and never blocks on a dependency.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use serde::Serialize;

use crate::source::StatusProbe;

/// Shared readiness flags; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: AtomicBool,
    broker: AtomicBool,
    stopping: AtomicBool,
    /// `None` when the service consumes nothing.
    consumer: Option<StatusProbe>,
}

/// The body of `/health/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReadinessReport {
    pub ready: bool,
    pub store: &'static str,
    pub broker: &'static str,
    pub consumer: String,
}

impl Readiness {
    /// Store and broker were reached at build time, hence start as up.
    pub(crate) fn new(consumer: Option<StatusProbe>) -> Self {
        Readiness {
            inner: Arc::new(Inner {
                store: AtomicBool::new(true),
                broker: AtomicBool::new(true),
                stopping: AtomicBool::new(false),
                consumer,
            }),
        }
    }

    pub(crate) fn set_store(&self, up: bool) {
        self.inner.store.store(up, Ordering::Relaxed);
    }

    pub(crate) fn set_broker(&self, up: bool) {
        self.inner.broker.store(up, Ordering::Relaxed);
    }

    /// From now on the instance reports not ready, so load balancers stop
    /// sending it work while it drains.
    pub(crate) fn set_stopping(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
    }

    pub(crate) fn report(&self) -> ReadinessReport {
        let up = |flag: &AtomicBool| flag.load(Ordering::Relaxed);
        let store = up(&self.inner.store);
        let broker = up(&self.inner.broker);
        let (consumer_ok, consumer) = match &self.inner.consumer {
            None => (true, "idle (consumes nothing)".to_owned()),
            Some(probe) => {
                let status = probe.status();
                (status.ready, status.detail)
            }
        };
        let stopping = up(&self.inner.stopping);
        ReadinessReport {
            ready: store && broker && consumer_ok && !stopping,
            store: if store { "ok" } else { "failing" },
            broker: if broker { "ok" } else { "failing" },
            consumer: if stopping {
                "stopping".to_owned()
            } else {
                consumer
            },
        }
    }
}
