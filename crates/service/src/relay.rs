//! The outbox relay: publishes the events that committed transactions left
//! in the store's outbox, then acknowledges them.
//!
//! - **At least once.** A message is acknowledged only after its delivery
//!   report; a crash between publish and ack publishes it again, and so may
//!   two replicas sharing one store that read the outbox at the same moment.
//!   Copies carry the same event id and consumers deduplicate on it.
//! - **Never dropped.** Failures (store or broker) pause the relay with a
//!   doubling backoff up to `outbox.max_backoff` and try again; nothing is
//!   skipped.
//! - **Order.** Messages are enqueued to the producer in outbox sequence
//!   order (per-key commit order), and the idempotent producer keeps that
//!   order per partition. After a failed delivery the failed messages are
//!   re-sent in a later round, possibly after later ones of the same key.
//! - **Latency.** A local commit wakes the relay at once; otherwise it polls
//!   every `outbox.poll_interval`, which also picks up messages a crashed
//!   replica left behind.

use std::{future::Future, pin::Pin, sync::Arc, task::Poll, time::Duration};

use thiserror::Error;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tributary_bus::{Delivery, ProduceError, RawProducer, headers::MessageHeaders};
use tributary_telemetry::{InternalEvent as _, Metrics, labels::ServiceLabels};
use tributary_views::{OutboxEntry, ViewError, ViewStore};

use crate::{
    config::OutboxSettings,
    internal_events::{OutboxBacklog, OutboxRelayFailed},
    readiness::Readiness,
};

/// First pause after a failure; doubles up to `max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Debug, Error)]
enum RelayError {
    #[error("reading or acknowledging the outbox failed: {0}")]
    Store(#[from] ViewError),
    #[error("publishing from the outbox failed: {0}")]
    Publish(#[from] ProduceError),
}

impl RelayError {
    fn stage(&self) -> &'static str {
        match self {
            RelayError::Store(_) => "store",
            RelayError::Publish(_) => "publish",
        }
    }
}

/// What one round did.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// The batch was full: more may be pending, go again at once.
    Full,
    /// The outbox is drained (as far as this round saw).
    Drained,
}

pub(crate) struct OutboxRelay {
    pub service: &'static str,
    pub store: Arc<dyn ViewStore>,
    pub producer: RawProducer,
    pub settings: OutboxSettings,
    pub wake: Arc<Notify>,
    pub metrics: Metrics,
    pub readiness: Readiness,
}

impl OutboxRelay {
    /// Relays until `stop` is cancelled, then flushes until the outbox is
    /// empty. The final flush keeps retrying failures: the caller bounds it
    /// with the shutdown deadline.
    pub(crate) async fn run(self, stop: CancellationToken) {
        let labels = ServiceLabels {
            service: self.service.to_owned(),
        };
        let mut pause = FIRST_BACKOFF;
        while !stop.is_cancelled() {
            match self.round(&labels).await {
                Ok(Round::Full) => {
                    pause = FIRST_BACKOFF;
                    continue;
                }
                Ok(Round::Drained) => pause = FIRST_BACKOFF,
                Err(error) => {
                    self.report(&error, pause);
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(self.settings.max_backoff);
                    continue;
                }
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
        self.final_flush(&labels).await;
    }

    async fn final_flush(&self, labels: &ServiceLabels) {
        let mut pause = FIRST_BACKOFF;
        loop {
            match self.round(labels).await {
                Ok(Round::Full) => pause = FIRST_BACKOFF,
                Ok(Round::Drained) => {
                    tracing::debug!(service = self.service, "outbox flushed");
                    return;
                }
                Err(error) => {
                    self.report(&error, pause);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    fn report(&self, error: &RelayError, pause: Duration) {
        OutboxRelayFailed {
            service: self.service,
            stage: error.stage(),
            error,
            pause,
        }
        .emit(&self.metrics);
    }

    /// Reads one batch, publishes it, acknowledges what was delivered.
    async fn round(&self, labels: &ServiceLabels) -> Result<Round, RelayError> {
        let batch = self.settings.batch_size;
        let pending = match self.store.outbox_pending(batch).await {
            Ok(pending) => {
                self.readiness.set_store(true);
                pending
            }
            Err(error) => {
                self.readiness.set_store(false);
                return Err(error.into());
            }
        };
        OutboxBacklog {
            labels,
            pending: pending.len(),
        }
        .emit(&self.metrics);
        if pending.is_empty() {
            return Ok(Round::Drained);
        }
        let results = self.publish(&pending).await;
        let mut delivered = Vec::with_capacity(pending.len());
        let mut first_error = None;
        for (entry, result) in pending.iter().zip(results) {
            match result {
                Ok(_) => delivered.push(entry.seq),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        self.readiness.set_broker(first_error.is_none());
        if !delivered.is_empty() {
            self.store.outbox_ack(&delivered).await?;
        }
        match first_error {
            Some(error) => Err(error.into()),
            None if pending.len() >= batch => Ok(Round::Full),
            None => Ok(Round::Drained),
        }
    }

    /// Sends every entry, enqueueing them in `seq` order, and waits for all
    /// delivery reports (pipelined: one round trip for the whole batch).
    async fn publish(&self, entries: &[OutboxEntry]) -> Vec<Result<Delivery, ProduceError>> {
        let headers: Vec<MessageHeaders> = entries
            .iter()
            .map(|e| e.message.headers.iter().cloned().collect())
            .collect();
        let sends = entries.iter().zip(&headers).map(|(entry, headers)| {
            let m = &entry.message;
            self.producer
                .send_relayed(&m.topic, Some(m.key.as_bytes()), &m.payload, headers)
        });
        join_in_order(sends).await
    }
}

/// Awaits all `futures`, polling them in list order on every wake-up, so
/// each is first polled (and hence enqueued to the producer) in list order.
/// `futures::future::join_all` gives no such promise for long lists.
async fn join_in_order<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn join_in_order_starts_futures_in_list_order_and_keeps_outputs_aligned() {
        let started = Arc::new(Mutex::new(Vec::new()));
        let futures = (0..50u64).map(|i| {
            let started = started.clone();
            async move {
                started.lock().expect("lock").push(i);
                tokio::time::sleep(Duration::from_millis(50 - i)).await;
                i * 2
            }
        });
        let outputs = join_in_order(futures).await;
        assert_eq!(outputs, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(*started.lock().expect("lock"), (0..50).collect::<Vec<_>>());
    }
}
