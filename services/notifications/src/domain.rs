//! What to notify whom about, free of I/O.
//!
//! Three events trigger a notification: `UserRegistered` (WELCOME),
//! `OrderConfirmed` (ORDER_CONFIRMED) and `OrderCancelled`
//! (ORDER_CANCELLED). Each (subject, kind) is notified once (invariant 5);
//! the projector enforces that with a dedup row. Everything here is a pure
//! function of the triggering event and the known recipient, so a rebuilt
//! view holds the same rows as the live one.

use serde::{Deserialize, Serialize};
use tributary_contracts::{
    Envelope, derived_event_id,
    events::{AnyEvent, NotificationKind, NotificationSent},
};
use uuid::Uuid;

/// `producer` of the events this service emits.
pub const PRODUCER: &str = "notifications";
/// Step from which a notification's id is derived (from the cause's id).
pub const STEP_NOTIFICATION: &str = "notifications.notification";
/// Reaction step of `NotificationSent`.
pub const STEP_SENT: &str = "notifications.sent";

/// A consumed event that calls for a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub kind: NotificationKind,
    /// The order id or user id the notification is about.
    pub subject_id: Uuid,
    /// The user to notify.
    pub user_id: Uuid,
    /// The address, when the event itself carries it (registrations).
    pub email: Option<String>,
    /// The user's name, when the event carries it.
    pub name: Option<String>,
    /// Human-readable detail (the cancellation reason; the total).
    pub detail: String,
    /// The causing event's envelope.
    pub cause: Envelope,
}

impl Trigger {
    /// The trigger in `event`, if it is one of the three notified events.
    pub fn from_event(event: &AnyEvent) -> Option<Trigger> {
        match event {
            AnyEvent::UserRegistered(e) => Some(Trigger {
                kind: NotificationKind::Welcome,
                subject_id: e.user_id,
                user_id: e.user_id,
                email: Some(e.email.clone()),
                name: Some(e.name.clone()),
                detail: String::new(),
                cause: e.envelope.clone(),
            }),
            AnyEvent::OrderConfirmed(e) => Some(Trigger {
                kind: NotificationKind::OrderConfirmed,
                subject_id: e.order_id,
                user_id: e.customer_id,
                email: None,
                name: None,
                detail: format_cents(e.total_cents),
                cause: e.envelope.clone(),
            }),
            AnyEvent::OrderCancelled(e) => Some(Trigger {
                kind: NotificationKind::OrderCancelled,
                subject_id: e.order_id,
                user_id: e.customer_id,
                email: None,
                name: None,
                detail: match &e.detail {
                    Some(detail) => format!("{} ({detail})", reason_text(e.reason.as_str())),
                    None => reason_text(e.reason.as_str()).to_owned(),
                },
                cause: e.envelope.clone(),
            }),
            _ => None,
        }
    }
}

/// What the service knows about a user, from `UserRegistered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub email: String,
    pub name: String,
}

/// One notification: the `notifications_by_recipient` row and what the
/// channels deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Derived from the causing event's id: a redelivered cause yields the
    /// same id, so receivers deduplicate repeated deliveries on it.
    pub id: Uuid,
    /// E-mail address when the user is known, else the user id.
    pub recipient: String,
    pub kind: NotificationKind,
    /// The order id or user id it is about.
    pub subject_id: Uuid,
    /// The user notified.
    pub user_id: Uuid,
    /// Short title.
    pub title: String,
    /// The message text.
    pub body: String,
    /// The channel it goes through (`log`, `webhook`).
    pub channel: String,
    /// The causing event's time, unix ms.
    pub created_at: i64,
    /// The causing event's id.
    pub cause_event_id: Uuid,
}

/// The notification `trigger` calls for, to `recipient` if known.
pub fn compose(trigger: &Trigger, known: Option<&Recipient>, channel: &str) -> Notification {
    let email = trigger
        .email
        .as_deref()
        .or(known.map(|r| r.email.as_str()))
        .filter(|email| !email.trim().is_empty());
    let name = trigger.name.as_deref().or(known.map(|r| r.name.as_str()));
    let recipient = email.map_or_else(|| trigger.user_id.to_string(), str::to_owned);
    let greeting = name.map_or_else(|| "Hello".to_owned(), |name| format!("Hello {name}"));
    let subject = trigger.subject_id;
    let (title, body) = match trigger.kind {
        NotificationKind::Welcome => (
            "Welcome to Tributary".to_owned(),
            format!("{greeting}, your account is ready."),
        ),
        NotificationKind::OrderConfirmed => (
            "Your order is confirmed".to_owned(),
            format!(
                "{greeting}, order {subject} is confirmed; {} was charged.",
                trigger.detail
            ),
        ),
        NotificationKind::OrderCancelled => (
            "Your order was cancelled".to_owned(),
            format!(
                "{greeting}, order {subject} was cancelled: {}.",
                trigger.detail
            ),
        ),
        NotificationKind::Other => ("Tributary".to_owned(), greeting),
    };
    Notification {
        id: derived_event_id(trigger.cause.event_id, STEP_NOTIFICATION),
        recipient,
        kind: trigger.kind,
        subject_id: subject,
        user_id: trigger.user_id,
        title,
        body,
        channel: channel.to_owned(),
        created_at: trigger.cause.occurred_at,
        cause_event_id: trigger.cause.event_id,
    }
}

/// The `NotificationSent` event for a delivered `notification`.
pub fn sent_event(notification: &Notification, cause: &Envelope, now_ms: i64) -> NotificationSent {
    NotificationSent {
        envelope: Envelope::caused_by(cause, STEP_SENT, PRODUCER, now_ms.max(cause.occurred_at)),
        notification_id: notification.id,
        recipient: notification.recipient.clone(),
        channel: notification.channel.clone(),
        kind: notification.kind,
        subject_id: notification.subject_id.to_string(),
    }
}

/// `1234` → `$12.34`.
fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}${}.{:02}", abs / 100, abs % 100)
}

fn reason_text(reason: &str) -> &'static str {
    match reason {
        "STOCK_REJECTED" => "some items are out of stock",
        "PAYMENT_DECLINED" => "the payment was declined",
        "TIMEOUT" => "it could not be completed in time",
        _ => "it could not be completed",
    }
}

#[cfg(test)]
mod tests {
    use tributary_contracts::events::{
        CancellationReason, OrderCancelled, OrderConfirmed, OrderPlaced, UserRegistered,
    };

    use super::*;

    fn envelope(at: i64) -> Envelope {
        Envelope::originating("test", "c", at)
    }

    fn registered() -> UserRegistered {
        UserRegistered {
            envelope: envelope(10),
            user_id: Uuid::new_v4(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            role: "customer".into(),
        }
    }

    #[test]
    fn a_registration_welcomes_the_new_user_by_email() {
        let user = registered();
        let trigger = Trigger::from_event(&user.clone().into()).expect("trigger");
        let n = compose(&trigger, None, "log");
        assert_eq!(n.kind, NotificationKind::Welcome);
        assert_eq!(n.recipient, "ada@example.com");
        assert_eq!(n.subject_id, user.user_id);
        assert_eq!(n.body, "Hello Ada, your account is ready.");
        assert_eq!(
            n.id,
            derived_event_id(user.envelope.event_id, STEP_NOTIFICATION)
        );
        assert_eq!(n.created_at, 10);
    }

    #[test]
    fn order_outcomes_go_to_the_known_email_or_the_customer_id() {
        let customer = Uuid::new_v4();
        let order = Uuid::new_v4();
        let confirmed = AnyEvent::OrderConfirmed(OrderConfirmed {
            envelope: envelope(20),
            order_id: order,
            customer_id: customer,
            total_cents: 12_345,
        });
        let trigger = Trigger::from_event(&confirmed).expect("trigger");
        let unknown = compose(&trigger, None, "webhook");
        assert_eq!(unknown.recipient, customer.to_string());
        assert_eq!(unknown.kind, NotificationKind::OrderConfirmed);
        assert!(unknown.body.contains("$123.45"), "{}", unknown.body);
        let known = Recipient {
            email: "bob@example.com".into(),
            name: "Bob".into(),
        };
        let n = compose(&trigger, Some(&known), "webhook");
        assert_eq!(n.recipient, "bob@example.com");
        assert!(n.body.starts_with("Hello Bob,"));
        assert_eq!(n.id, unknown.id, "the id depends on the cause only");

        let cancelled = AnyEvent::OrderCancelled(OrderCancelled {
            envelope: envelope(30),
            order_id: order,
            customer_id: customer,
            reason: CancellationReason::PaymentDeclined,
            detail: Some("card declined".into()),
        });
        let n = compose(
            &Trigger::from_event(&cancelled).expect("trigger"),
            None,
            "log",
        );
        assert_eq!(n.kind, NotificationKind::OrderCancelled);
        assert!(
            n.body.contains("the payment was declined (card declined)"),
            "{}",
            n.body
        );
    }

    #[test]
    fn other_events_trigger_nothing() {
        let placed = AnyEvent::OrderPlaced(OrderPlaced {
            envelope: envelope(1),
            order_id: Uuid::new_v4(),
            customer_id: Uuid::new_v4(),
            lines: vec![],
            payment_token: "t".into(),
            idempotency_key: None,
        });
        assert!(Trigger::from_event(&placed).is_none());
    }

    #[test]
    fn the_sent_event_is_derived_from_the_cause() {
        let user = registered();
        let trigger = Trigger::from_event(&user.clone().into()).expect("trigger");
        let n = compose(&trigger, None, "log");
        let sent = sent_event(&n, &user.envelope, 99);
        assert_eq!(
            sent.envelope.event_id,
            derived_event_id(user.envelope.event_id, STEP_SENT)
        );
        assert_eq!(sent.envelope.causation_id, Some(user.envelope.event_id));
        assert_eq!(sent.envelope.producer, "notifications");
        assert_eq!(sent.envelope.occurred_at, 99);
        assert_eq!(sent.notification_id, n.id);
        assert_eq!(sent.recipient, "ada@example.com");
        assert_eq!(sent.subject_id, user.user_id.to_string());
        assert_eq!(sent_event(&n, &user.envelope, 1).envelope.occurred_at, 10);
    }

    #[test]
    fn cents_are_formatted_as_dollars() {
        assert_eq!(format_cents(0), "$0.00");
        assert_eq!(format_cents(5), "$0.05");
        assert_eq!(format_cents(100_000), "$1000.00");
        assert_eq!(format_cents(-250), "-$2.50");
    }
}
