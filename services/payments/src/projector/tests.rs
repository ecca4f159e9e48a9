//! The projector against a real embedded store and the simulated provider
//! (wrapped to count calls), fed `Received` values.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use tributary_bus::HandlerError;
use tributary_contracts::{
    Envelope, derived_event_id,
    events::{
        AnyEvent, CancellationReason, OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced,
        ReservedLine, StockReserved,
    },
};
use tributary_views::Outcome;

use super::*;
use crate::{
    breaker::BreakerConfig,
    config::ProviderConfig,
    domain::PaymentState,
    provider::{PaymentProvider, ProviderError, Refund, SimulatedProvider},
    testing::{ManualClock, TestStore, received, test_store},
};

const NOW: i64 = 1_700_000_000_000;

/// The simulator, counting calls.
#[derive(Debug)]
struct Counting {
    inner: SimulatedProvider,
    authorizations: AtomicU32,
    refunds: Mutex<Vec<RefundRequest>>,
}

impl Counting {
    fn new(config: ProviderConfig) -> Arc<Self> {
        Arc::new(Counting {
            inner: SimulatedProvider::new(&config),
            authorizations: AtomicU32::new(0),
            refunds: Mutex::new(Vec::new()),
        })
    }

    fn authorizations(&self) -> u32 {
        self.authorizations.load(Ordering::SeqCst)
    }

    fn refunds(&self) -> Vec<RefundRequest> {
        self.refunds.lock().expect("lock").clone()
    }
}

#[async_trait]
impl PaymentProvider for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    async fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> Result<Authorization, ProviderError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        self.inner.authorize(request).await
    }

    async fn refund(&self, request: RefundRequest) -> Result<Refund, ProviderError> {
        self.refunds.lock().expect("lock").push(request.clone());
        self.inner.refund(request).await
    }
}

struct Fixture {
    t: TestStore,
    provider: Arc<Counting>,
    projector: PaymentsProjector,
}

async fn fixture_with(config: ProviderConfig, timeout: Duration) -> Fixture {
    let provider = Counting::new(config);
    let breaker = BreakerConfig {
        failure_threshold: 2,
        open_duration: Duration::from_secs(60),
        half_open_probes: 1,
    };
    let guarded = Arc::new(GuardedProvider::new(provider.clone(), &breaker, timeout));
    Fixture {
        t: test_store().await,
        projector: PaymentsProjector::new(guarded, ManualClock::at(NOW)),
        provider,
    }
}

async fn fixture() -> Fixture {
    fixture_with(
        ProviderConfig {
            decline_above_cents: 10_000,
            ..ProviderConfig::default()
        },
        Duration::from_secs(5),
    )
    .await
}

impl Fixture {
    async fn deliver(&self, event: impl Into<AnyEvent>) -> Result<Vec<AnyEvent>, HandlerError> {
        self.t.deliver(&self.projector, event).await
    }

    async fn payment(&self, n: u128) -> Option<Payment> {
        views::payment(self.t.store(), order(n))
            .await
            .expect("reads")
            .map(|p| p.value)
    }

    async fn state(&self, n: u128) -> Option<PaymentState> {
        self.payment(n).await.map(|p| p.state)
    }
}

fn order(n: u128) -> Uuid {
    Uuid::from_u128(0xB000 + n)
}

fn customer() -> Uuid {
    Uuid::from_u128(0xC)
}

fn placed(n: u128, token: &str) -> OrderPlaced {
    OrderPlaced {
        envelope: Envelope::originating("gateway", order(n).to_string(), NOW - 10),
        order_id: order(n),
        customer_id: customer(),
        lines: vec![OrderLine {
            sku: "a".into(),
            quantity: 1,
        }],
        payment_token: token.into(),
        idempotency_key: None,
    }
}

fn reserved(n: u128, total_cents: i64) -> StockReserved {
    StockReserved {
        envelope: Envelope::originating("inventory", order(n).to_string(), NOW - 5),
        order_id: order(n),
        customer_id: customer(),
        lines: vec![ReservedLine {
            sku: "a".into(),
            quantity: 1,
            unit_price_cents: total_cents,
        }],
        total_cents,
    }
}

fn cancelled(n: u128, reason: CancellationReason) -> OrderCancelled {
    OrderCancelled {
        envelope: Envelope::originating("orders", order(n).to_string(), NOW - 1),
        order_id: order(n),
        customer_id: customer(),
        reason,
        detail: None,
    }
}

fn fresh_id<E: Clone>(event: &E, set: impl FnOnce(&mut E)) -> E {
    let mut copy = event.clone();
    set(&mut copy);
    copy
}

fn only(events: Vec<AnyEvent>) -> AnyEvent {
    assert_eq!(events.len(), 1, "expected exactly one event: {events:?}");
    events.into_iter().next().expect("one event")
}

fn is_retryable(result: &Result<Vec<AnyEvent>, HandlerError>) -> bool {
    matches!(result, Err(HandlerError::Retryable(_)))
}

#[tokio::test]
async fn authorizes_the_reserved_total_once_with_a_deterministic_payment_id() {
    let f = fixture().await;
    assert!(f.deliver(placed(1, "tok_ok")).await.expect("ok").is_empty());
    assert_eq!(f.state(1).await, Some(PaymentState::Pending));
    assert_eq!(
        f.payment(1).await.and_then(|p| p.token).as_deref(),
        Some("tok_ok")
    );

    let event = reserved(1, 4_200);
    let AnyEvent::PaymentAuthorized(authorized) = only(f.deliver(event.clone()).await.expect("ok"))
    else {
        panic!("expected PaymentAuthorized");
    };
    assert_eq!(authorized.amount_cents, 4_200);
    assert_eq!(authorized.payment_id, payment_id(order(1)));
    assert!(authorized.provider_reference.starts_with("sim_auth_"));
    assert_eq!(
        authorized.envelope.event_id,
        derived_event_id(event.envelope.event_id, STEP_AUTHORIZE)
    );
    assert_eq!(
        authorized.envelope.causation_id,
        Some(event.envelope.event_id)
    );
    assert_eq!(authorized.envelope.producer, "payments");

    let row = f.payment(1).await.expect("row");
    assert_eq!(row.state, PaymentState::Authorized);
    assert_eq!(row.token, None, "the token is forgotten once used");

    // Redelivered (same id: runtime dedup) and duplicated (fresh id: state machine).
    assert!(f.deliver(event.clone()).await.expect("ok").is_empty());
    let copy = fresh_id(&event, |e| e.envelope.event_id = Uuid::from_u128(99));
    assert!(f.deliver(copy).await.expect("ok").is_empty());
    assert_eq!(f.provider.authorizations(), 1);
}

#[tokio::test]
async fn declines_by_rule() {
    let f = fixture().await;
    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    f.deliver(placed(2, "tok_decline")).await.expect("ok");

    let AnyEvent::PaymentDeclined(over_limit) =
        only(f.deliver(reserved(1, 10_001)).await.expect("ok"))
    else {
        panic!("expected PaymentDeclined");
    };
    assert_eq!(over_limit.reason, "amount_limit_exceeded");
    assert_eq!(over_limit.amount_cents, 10_001);
    let AnyEvent::PaymentDeclined(card) = only(f.deliver(reserved(2, 5)).await.expect("ok")) else {
        panic!("expected PaymentDeclined");
    };
    assert_eq!(card.reason, "card_declined");
    assert_eq!(f.state(1).await, Some(PaymentState::Declined));

    // The orders service then cancels: nothing was charged, nothing to refund.
    let follow_up = cancelled(1, CancellationReason::PaymentDeclined);
    assert!(f.deliver(follow_up).await.expect("ok").is_empty());
    assert!(f.provider.refunds().is_empty());
    assert_eq!(f.state(1).await, Some(PaymentState::Declined));
}

#[tokio::test]
async fn provider_failures_are_retryable_and_change_nothing() {
    let f = fixture().await;
    f.deliver(placed(1, "tok_fail")).await.expect("ok");
    let result = f.deliver(reserved(1, 100)).await;
    assert!(is_retryable(&result), "{result:?}");
    assert_eq!(f.state(1).await, Some(PaymentState::Pending));
}

#[tokio::test]
async fn an_open_breaker_refuses_without_calling_the_provider() {
    let f = fixture().await;
    for n in 1..=2 {
        f.deliver(placed(n, "tok_fail")).await.expect("ok");
        assert!(is_retryable(&f.deliver(reserved(n, 100)).await));
    }
    assert_eq!(f.provider.authorizations(), 2);
    f.deliver(placed(3, "tok_ok")).await.expect("ok");
    let result = f.deliver(reserved(3, 100)).await;
    assert!(is_retryable(&result), "{result:?}");
    assert_eq!(f.provider.authorizations(), 2, "the open breaker answered");
    assert_eq!(f.state(3).await, Some(PaymentState::Pending));
}

#[tokio::test]
async fn a_slow_provider_times_out_as_retryable() {
    let config = ProviderConfig {
        latency: Duration::from_millis(500),
        ..ProviderConfig::default()
    };
    let f = fixture_with(config, Duration::from_millis(20)).await;
    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    let started = std::time::Instant::now();
    let result = f.deliver(reserved(1, 100)).await;
    assert!(is_retryable(&result), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "did not wait for the provider"
    );
    assert_eq!(f.state(1).await, Some(PaymentState::Pending));
}

#[tokio::test]
async fn stock_reserved_before_the_token_is_known_is_retried() {
    let f = fixture().await;
    let early = received(reserved(1, 100));
    let result = f.t.deliver_received(&f.projector, early.clone()).await;
    assert!(is_retryable(&result), "{result:?}");
    assert_eq!(f.state(1).await, None);
    assert_eq!(f.provider.authorizations(), 0);

    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    let retry = tributary_bus::Received {
        attempt: 2,
        ..early
    };
    let events = f.t.deliver_received(&f.projector, retry).await.expect("ok");
    assert!(matches!(only(events), AnyEvent::PaymentAuthorized(_)));
}

#[tokio::test]
async fn a_cancellation_after_the_authorization_refunds_once() {
    let f = fixture().await;
    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    f.deliver(reserved(1, 700)).await.expect("ok");

    let cancel = cancelled(1, CancellationReason::Timeout);
    let AnyEvent::PaymentRefunded(refunded) = only(f.deliver(cancel.clone()).await.expect("ok"))
    else {
        panic!("expected PaymentRefunded");
    };
    assert_eq!(refunded.amount_cents, 700);
    assert_eq!(refunded.payment_id, payment_id(order(1)));
    assert_eq!(refunded.reason, "timeout");
    assert_eq!(
        refunded.envelope.event_id,
        derived_event_id(cancel.envelope.event_id, STEP_REFUND)
    );
    let refunds = f.provider.refunds();
    assert_eq!(refunds.len(), 1);
    assert!(refunds[0].authorization_reference.is_some());
    assert_eq!(f.state(1).await, Some(PaymentState::Refunded));

    let copy = fresh_id(&cancel, |e| e.envelope.event_id = Uuid::from_u128(98));
    assert!(f.deliver(copy).await.expect("ok").is_empty());
    assert_eq!(f.provider.refunds().len(), 1);
}

#[tokio::test]
async fn a_cancellation_before_the_authorization_prevents_it() {
    let f = fixture().await;
    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    assert!(
        f.deliver(cancelled(1, CancellationReason::Timeout))
            .await
            .expect("ok")
            .is_empty()
    );
    let row = f.payment(1).await.expect("row");
    assert_eq!((row.state, row.token), (PaymentState::Cancelled, None));

    assert!(f.deliver(reserved(1, 100)).await.expect("ok").is_empty());
    assert_eq!(f.provider.authorizations(), 0, "never authorized");
    assert_eq!(f.provider.refunds().len(), 1, "voided once, just in case");
    let again = fresh_id(&reserved(1, 100), |e| {
        e.envelope.event_id = Uuid::from_u128(97)
    });
    assert!(f.deliver(again).await.expect("ok").is_empty());
    assert_eq!(f.provider.refunds().len(), 1);
}

#[tokio::test]
async fn a_cancellation_before_the_placement_leaves_a_tombstone() {
    let f = fixture().await;
    f.deliver(cancelled(1, CancellationReason::Timeout))
        .await
        .expect("ok");
    assert_eq!(f.state(1).await, Some(PaymentState::Cancelled));
    assert!(f.deliver(placed(1, "tok_ok")).await.expect("ok").is_empty());
    assert_eq!(f.state(1).await, Some(PaymentState::Cancelled));
    assert!(f.deliver(reserved(1, 100)).await.expect("ok").is_empty());
    assert_eq!(f.provider.authorizations(), 0);
}

#[tokio::test]
async fn a_cancellation_committed_during_an_authorization_voids_it() {
    let f = fixture().await;
    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    let reserve = received(reserved(1, 300));
    let cancel = received(cancelled(1, CancellationReason::Timeout));
    let id = |r: &tributary_bus::Received| Some(r.event.envelope().event_id);

    // Both read PENDING; the authorization reaches the provider...
    let authorization = f
        .projector
        .project(f.t.store(), &reserve)
        .await
        .expect("ok");
    let cancellation = f.projector.project(f.t.store(), &cancel).await.expect("ok");
    // ...but the cancellation commits first.
    let committed =
        f.t.context
            .commit(id(&cancel), cancellation)
            .await
            .expect("commit");
    assert_eq!(committed, Outcome::Applied);
    let lost =
        f.t.context
            .commit(id(&reserve), authorization)
            .await
            .expect("commit");
    assert!(matches!(lost, Outcome::Conflict { .. }));

    // The runtime re-projects the reservation on the fresh row.
    let events =
        f.t.deliver_received(&f.projector, reserve)
            .await
            .expect("ok");
    assert!(
        events.is_empty(),
        "no PaymentAuthorized for a cancelled order: {events:?}"
    );
    let refunds = f.provider.refunds();
    assert_eq!(refunds.len(), 1, "the lost authorization is voided");
    assert_eq!(refunds[0].authorization_reference, None);
    let row = f.payment(1).await.expect("row");
    assert_eq!((row.state, row.voided), (PaymentState::Cancelled, true));
}

#[tokio::test]
async fn an_authorization_committed_during_a_cancellation_is_refunded() {
    let f = fixture().await;
    f.deliver(placed(1, "tok_ok")).await.expect("ok");
    let reserve = received(reserved(1, 300));
    let cancel = received(cancelled(1, CancellationReason::Timeout));
    let id = |r: &tributary_bus::Received| Some(r.event.envelope().event_id);

    let cancellation = f.projector.project(f.t.store(), &cancel).await.expect("ok");
    let authorization = f
        .projector
        .project(f.t.store(), &reserve)
        .await
        .expect("ok");
    assert_eq!(
        f.t.context
            .commit(id(&reserve), authorization)
            .await
            .expect("commit"),
        Outcome::Applied
    );
    assert!(matches!(
        f.t.context
            .commit(id(&cancel), cancellation)
            .await
            .expect("commit"),
        Outcome::Conflict { .. }
    ));
    let events =
        f.t.deliver_received(&f.projector, cancel)
            .await
            .expect("ok");
    assert!(matches!(only(events), AnyEvent::PaymentRefunded(_)));
    assert_eq!(f.state(1).await, Some(PaymentState::Refunded));
    assert_eq!(f.provider.authorizations(), 1);
}

#[tokio::test]
async fn other_events_are_ignored() {
    let f = fixture().await;
    let confirmed = OrderConfirmed {
        envelope: Envelope::originating("orders", order(1).to_string(), NOW),
        order_id: order(1),
        customer_id: customer(),
        total_cents: 1,
    };
    assert!(f.deliver(confirmed).await.expect("ok").is_empty());
    assert_eq!(f.state(1).await, None);
}
