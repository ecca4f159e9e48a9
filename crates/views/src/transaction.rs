//! What a handler hands to [`ViewStore::apply`](crate::ViewStore::apply): the
//! view changes an event causes, the events it emits, and how far the consumer
//! got — so that all of it becomes durable together or not at all.

use std::collections::HashSet;

use uuid::Uuid;

use crate::error::ViewError;
use crate::model::TableDef;

/// The condition a write places on the row's current state. A transaction with
/// any failed expectation applies nothing and returns [`Outcome::Conflict`];
/// the handler re-reads and decides again (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// No condition: last writer wins.
    Any,
    /// The row must not exist (first reservation, unique email, ...).
    /// Only valid on puts: a delete of an absent row would do nothing.
    Absent,
    /// The row must exist with exactly this version (read-modify-write).
    Version(i64),
}

impl Expect {
    /// Whether a row whose current version is `current` (`None` = absent)
    /// meets this expectation.
    pub fn is_met_by(self, current: Option<i64>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Version(v) => current == Some(v),
        }
    }
}

/// One row change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Insert or replace the row; its version becomes previous + 1 (1 when new).
    Put {
        table: &'static str,
        partition: String,
        clustering: String,
        value: Vec<u8>,
        expect: Expect,
    },
    /// Remove the row (a no-op for an absent row under [`Expect::Any`]).
    Delete {
        table: &'static str,
        partition: String,
        clustering: String,
        expect: Expect,
    },
}

impl Write {
    pub fn table(&self) -> &'static str {
        match self {
            Write::Put { table, .. } | Write::Delete { table, .. } => table,
        }
    }

    pub fn partition(&self) -> &str {
        match self {
            Write::Put { partition, .. } | Write::Delete { partition, .. } => partition,
        }
    }

    pub fn clustering(&self) -> &str {
        match self {
            Write::Put { clustering, .. } | Write::Delete { clustering, .. } => clustering,
        }
    }

    pub fn expect(&self) -> Expect {
        match self {
            Write::Put { expect, .. } | Write::Delete { expect, .. } => *expect,
        }
    }

    /// The outcome reported when this write's expectation fails.
    pub(crate) fn conflict(&self) -> Outcome {
        Outcome::Conflict {
            table: self.table(),
            partition: self.partition().to_owned(),
            clustering: self.clustering().to_owned(),
        }
    }
}

/// An event to publish once the transaction commits (transactional outbox).
/// A relay reads [`ViewStore::outbox_pending`](crate::ViewStore::outbox_pending),
/// produces each message with Kafka idempotence, then acks it; a crash in
/// between re-sends, and consumers collapse the copy by `event_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub topic: String,
    /// Kafka record key (per-key order is preserved by the relay).
    pub key: String,
    /// The Confluent-framed Avro bytes.
    pub payload: Vec<u8>,
    /// Kafka headers (CloudEvents, trace context), in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Deterministic id of the emitted event (UUIDv5 of the cause and the step).
    pub event_id: Uuid,
}

/// A stored outbox message with its position in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Increases with every appended message; messages of one key keep their
    /// append order when read in `seq` order. Pass it back to
    /// [`ViewStore::outbox_ack`](crate::ViewStore::outbox_ack).
    pub seq: i64,
    pub message: OutboxMessage,
}

/// How far a consumer group got in one topic partition, stored with the view
/// change so a restarted consumer (or a rebuild verifier) knows exactly which
/// events the view already reflects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsumedPosition {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// The next offset to consume, Kafka's committed-offset convention
    /// (last processed offset + 1).
    pub offset: i64,
}

/// The unit of atomic change. See the backend docs for what "atomic" means on
/// each: all-or-nothing on the embedded backend; per-partition plus
/// replay-convergent on ScyllaDB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    /// The consumed event's id. When it was recorded before, `apply` returns
    /// [`Outcome::Duplicate`] and applies nothing; otherwise it is recorded
    /// together with the rest.
    pub event_id: Option<Uuid>,
    /// Row changes; each row at most once per transaction.
    pub writes: Vec<Write>,
    /// Events to emit, appended in this order.
    pub outbox: Vec<OutboxMessage>,
    /// Consumer position to record (upserted per group, topic and partition).
    pub position: Option<ConsumedPosition>,
    /// Logical time of the cause in microseconds since the Unix epoch (for
    /// example the event's `occurred_at`). ScyllaDB writes the unconditional
    /// part with `USING TIMESTAMP` of this value, so a late replay of an older
    /// event can never overwrite what a newer one wrote. The embedded backend
    /// serializes writers under a lock and does not need it.
    pub write_time: Option<i64>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// A transaction recording the processed event `event_id`.
    pub fn for_event(event_id: Uuid) -> Self {
        Self {
            event_id: Some(event_id),
            ..Self::default()
        }
    }

    pub fn put(
        mut self,
        table: &TableDef,
        partition: impl Into<String>,
        clustering: impl Into<String>,
        value: impl Into<Vec<u8>>,
        expect: Expect,
    ) -> Self {
        self.writes.push(Write::Put {
            table: table.name,
            partition: partition.into(),
            clustering: clustering.into(),
            value: value.into(),
            expect,
        });
        self
    }

    pub fn delete(
        mut self,
        table: &TableDef,
        partition: impl Into<String>,
        clustering: impl Into<String>,
        expect: Expect,
    ) -> Self {
        self.writes.push(Write::Delete {
            table: table.name,
            partition: partition.into(),
            clustering: clustering.into(),
            expect,
        });
        self
    }

    pub fn emit(mut self, message: OutboxMessage) -> Self {
        self.outbox.push(message);
        self
    }

    pub fn at_position(mut self, position: ConsumedPosition) -> Self {
        self.position = Some(position);
        self
    }

    pub fn with_write_time(mut self, micros: i64) -> Self {
        self.write_time = Some(micros);
        self
    }

    /// Rejects malformed transactions before any backend work, so both
    /// backends refuse exactly the same inputs.
    pub(crate) fn validate(&self, tables: &[TableDef]) -> Result<(), ViewError> {
        let mut seen = HashSet::with_capacity(self.writes.len());
        for write in &self.writes {
            if !tables.iter().any(|t| t.name == write.table()) {
                return Err(ViewError::UnknownTable {
                    table: write.table().to_owned(),
                });
            }
            if write.partition().is_empty() {
                return Err(ViewError::InvalidTransaction {
                    reason: format!(
                        "empty partition key in `{}` (ScyllaDB cannot store one; use a constant \
                         such as \"all\" for single-partition tables)",
                        write.table()
                    ),
                });
            }
            if !seen.insert((write.table(), write.partition(), write.clustering())) {
                return Err(ViewError::InvalidTransaction {
                    reason: format!(
                        "row ({:?}, {:?}) of `{}` is written twice; merge the writes",
                        write.partition(),
                        write.clustering(),
                        write.table()
                    ),
                });
            }
            match (write, write.expect()) {
                (Write::Delete { .. }, Expect::Absent) => {
                    return Err(ViewError::InvalidTransaction {
                        reason: format!(
                            "delete of ({:?}, {:?}) in `{}` expects the row to be absent, which deletes nothing",
                            write.partition(),
                            write.clustering(),
                            write.table()
                        ),
                    });
                }
                (_, Expect::Version(v)) if v < 1 => {
                    return Err(ViewError::InvalidTransaction {
                        reason: format!("expected version {v} is below 1, the first version"),
                    });
                }
                _ => {}
            }
        }
        if let Some(position) = &self.position
            && (position.partition < 0 || position.offset < 0)
        {
            return Err(ViewError::InvalidTransaction {
                reason: format!(
                    "position {}/{} offset {} must not be negative",
                    position.topic, position.partition, position.offset
                ),
            });
        }
        Ok(())
    }
}

/// What `apply` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was applied (and the event id recorded, when given).
    Applied,
    /// The event id was recorded before; nothing was applied. Commit the offset
    /// and move on.
    Duplicate,
    /// This row's expectation failed; nothing was applied (see the ScyllaDB
    /// backend docs for its per-partition scope). Re-read and decide again.
    Conflict {
        table: &'static str,
        partition: String,
        clustering: String,
    },
}

impl Outcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TableDef = TableDef {
        name: "t",
        doc: "test",
    };

    #[test]
    fn rejects_unknown_tables_and_double_writes() {
        let other = TableDef {
            name: "other",
            doc: "",
        };
        let tx = Transaction::new().put(&other, "p", "c", b"v".to_vec(), Expect::Any);
        assert!(matches!(
            tx.validate(&[T]),
            Err(ViewError::UnknownTable { .. })
        ));

        let tx = Transaction::new()
            .put(&T, "p", "c", b"v".to_vec(), Expect::Any)
            .delete(&T, "p", "c", Expect::Any);
        assert!(matches!(
            tx.validate(&[T]),
            Err(ViewError::InvalidTransaction { .. })
        ));
    }

    #[test]
    fn expectations() {
        assert!(Expect::Any.is_met_by(None));
        assert!(Expect::Any.is_met_by(Some(3)));
        assert!(Expect::Absent.is_met_by(None));
        assert!(!Expect::Absent.is_met_by(Some(1)));
        assert!(Expect::Version(2).is_met_by(Some(2)));
        assert!(!Expect::Version(2).is_met_by(Some(3)));
        assert!(!Expect::Version(2).is_met_by(None));
    }

    #[test]
    fn rejects_meaningless_expectations() {
        let tx = Transaction::new().delete(&T, "p", "c", Expect::Absent);
        assert!(tx.validate(&[T]).is_err());
        let tx = Transaction::new().put(&T, "p", "c", b"v".to_vec(), Expect::Version(0));
        assert!(tx.validate(&[T]).is_err());
        let tx = Transaction::new().put(&T, "", "c", b"v".to_vec(), Expect::Any);
        assert!(tx.validate(&[T]).is_err());
        let tx = Transaction::new()
            .put(&T, "p", "c", b"v".to_vec(), Expect::Version(1))
            .put(&T, "p", "d", b"v".to_vec(), Expect::Absent)
            .delete(&T, "q", "c", Expect::Any);
        assert!(tx.validate(&[T]).is_ok());
    }
}
