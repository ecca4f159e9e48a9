//! Turning [`Effects`] into a view-store [`Transaction`]: the emitted events
//! are encoded now, at commit time, exactly as the bus producer would put
//! them on the wire (framed Avro, key, CloudEvents and trace headers), so the
//! relay only copies bytes and a crash between commit and publish loses
//! nothing that could not be re-sent unchanged.

use tracing::Span;
use tributary_bus::{EncodeError, EventCodec, headers::event_headers};
use tributary_contracts::{events::AnyEvent, frame};
use tributary_views::{OutboxMessage, Transaction};
use uuid::Uuid;

use crate::Effects;

/// How emitted events become framed bytes.
#[derive(Clone, Debug)]
pub(crate) enum Encoder {
    /// Through the schema registry (every running service).
    Registry(EventCodec),
    /// Framed with schema id 0, which no registry issues, without asking
    /// anyone: for tests of request handlers that commit but never relay.
    Unregistered,
}

impl Encoder {
    pub(crate) fn codec(&self) -> Option<&EventCodec> {
        match self {
            Encoder::Registry(codec) => Some(codec),
            Encoder::Unregistered => None,
        }
    }

    /// The outbox message for `event`: payload, key and the headers of the
    /// current span's trace, so the saga's trace continues downstream.
    pub(crate) async fn outbox_message(
        &self,
        event: &AnyEvent,
    ) -> Result<OutboxMessage, EncodeError> {
        let payload = match self {
            Encoder::Registry(codec) => codec.encode_any(event).await?,
            Encoder::Unregistered => frame(0, &event.encode_body()?),
        };
        let trace = tributary_telemetry::inject(&Span::current());
        let headers = event_headers(event.envelope(), event.event_type(), trace);
        Ok(OutboxMessage {
            topic: event.topic().to_owned(),
            key: event.key().into_owned(),
            payload,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_vec()))
                .collect(),
            event_id: event.envelope().event_id,
        })
    }

    /// A transaction applying `effects`, recording `event_id` when given.
    pub(crate) async fn transaction(
        &self,
        event_id: Option<Uuid>,
        effects: Effects,
    ) -> Result<Transaction, EncodeError> {
        let mut tx = match event_id {
            Some(id) => Transaction::for_event(id),
            None => Transaction::new(),
        };
        tx.outbox.reserve(effects.emit.len());
        for event in &effects.emit {
            tx.outbox.push(self.outbox_message(event).await?);
        }
        tx.writes = effects.writes;
        Ok(tx)
    }
}
