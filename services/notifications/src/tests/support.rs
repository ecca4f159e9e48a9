//! The notifications service over the shared test store
//! (`tributary_service::testing`), with a channel that records what it
//! delivered.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use tributary_bus::HandlerError;
use tributary_contracts::{
    Envelope,
    events::{AnyEvent, CancellationReason, OrderCancelled, OrderConfirmed, UserRegistered},
};
use tributary_service::{SystemClock, testing::TestStore};
use tributary_views::{Namespace, OutboxEntry, Outcome};
use uuid::Uuid;

use crate::{
    channel::{Channel, ChannelError},
    domain::Notification,
    projector::NotificationsProjector,
    views::TABLES,
};

/// Records deliveries; fails them while `failing` is set.
#[derive(Debug, Default)]
pub struct RecordingChannel {
    pub delivered: Mutex<Vec<Notification>>,
    pub failing: AtomicBool,
}

impl RecordingChannel {
    pub fn delivered(&self) -> Vec<Notification> {
        self.delivered.lock().expect("lock").clone()
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl Channel for RecordingChannel {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), ChannelError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(ChannelError::Config("receiver down".into()));
        }
        self.delivered
            .lock()
            .expect("lock")
            .push(notification.clone());
        Ok(())
    }
}

#[derive(Debug)]
pub struct TestView {
    pub base: TestStore,
    pub channel: Arc<RecordingChannel>,
    pub projector: NotificationsProjector,
}

impl TestView {
    pub async fn open() -> TestView {
        Self::open_in(Namespace::Live).await
    }

    pub async fn open_in(namespace: Namespace) -> TestView {
        let base = TestStore::open_in(crate::SERVICE, &namespace, &TABLES).await;
        let channel = Arc::new(RecordingChannel::default());
        let projector = NotificationsProjector::new(channel.clone(), Arc::new(SystemClock));
        TestView {
            base,
            channel,
            projector,
        }
    }

    /// Project, then apply with the event id, re-projecting on a conflict.
    pub async fn consume(&self, event: impl Into<AnyEvent>) -> Result<Outcome, HandlerError> {
        self.base.consume(&self.projector, event).await
    }

    pub async fn outbox(&self) -> Vec<OutboxEntry> {
        self.base
            .store()
            .outbox_pending(1_000)
            .await
            .expect("outbox")
    }
}

pub fn registered(email: &str, name: &str) -> UserRegistered {
    let user_id = Uuid::new_v4();
    UserRegistered {
        envelope: Envelope::originating("users", user_id.to_string(), 1_000),
        user_id,
        email: email.into(),
        name: name.into(),
        role: "customer".into(),
    }
}

pub fn confirmed(customer_id: Uuid, at: i64) -> OrderConfirmed {
    let order_id = Uuid::new_v4();
    OrderConfirmed {
        envelope: Envelope::originating("orders", order_id.to_string(), at),
        order_id,
        customer_id,
        total_cents: 4_200,
    }
}

pub fn cancelled(customer_id: Uuid, at: i64) -> OrderCancelled {
    let order_id = Uuid::new_v4();
    OrderCancelled {
        envelope: Envelope::originating("orders", order_id.to_string(), at),
        order_id,
        customer_id,
        reason: CancellationReason::StockRejected,
        detail: Some("insufficient stock".into()),
    }
}
