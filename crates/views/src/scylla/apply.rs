//! `apply` on ScyllaDB. The steps and why they are in this order are
//! documented on the [`scylla`](super) module.

use ::scylla::response::query_result::QueryResult;
use ::scylla::statement::batch::{Batch, BatchType};
use ::scylla::statement::prepared::PreparedStatement;
use ::scylla::value::{CqlValue, Row as CqlRow};
use futures::future::try_join_all;
use uuid::Uuid;

use super::ScyllaStore;
use super::error::{execution_error, shape_error};
use super::outbox::{next_seq, shard_of};
use super::schema::{now_micros, now_ms};
use crate::error::ViewError;
use crate::transaction::{Expect, Outcome, Transaction, Write};

impl ScyllaStore {
    pub(super) async fn apply_transaction(&self, tx: Transaction) -> Result<Outcome, ViewError> {
        tx.validate(&self.tables)?;

        // 1. Cheap pre-check: a redelivered event changes nothing.
        if let Some(event_id) = tx.event_id
            && self.is_processed(event_id).await?
        {
            return Ok(Outcome::Duplicate);
        }

        // 2. Decisions: one Paxos round per (table, partition), atomic and
        //    isolated within that partition.
        for group in conditional_groups(&tx.writes) {
            if !self.run_conditional_group(&group).await? {
                return self.name_conflict(&group).await;
            }
        }

        // 3. Everything unconditional as one logged batch with one timestamp.
        self.run_unconditional(&tx).await?;

        // 4. Commit point.
        if let Some(event_id) = tx.event_id {
            let result = self
                .session
                .execute_unpaged(&self.statements.processed_commit, (event_id, now_ms()))
                .await
                .map_err(|e| execution_error(&self.location, e))?;
            if !lwt_applied(result, &self.location)? {
                return Ok(Outcome::Duplicate);
            }
        }
        Ok(Outcome::Applied)
    }

    pub(super) async fn is_processed(&self, event_id: Uuid) -> Result<bool, ViewError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.processed_check, (event_id,))
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        Ok(result.rows_num() > 0)
    }

    /// Runs one partition's conditional writes; false when a condition failed.
    async fn run_conditional_group(&self, group: &[&Write]) -> Result<bool, ViewError> {
        let mut statements = Vec::with_capacity(group.len());
        let mut values = Vec::with_capacity(group.len());
        for write in group {
            let (statement, row_values) = self.conditional_statement(write)?;
            statements.push(statement);
            values.push(row_values);
        }
        let result = if let ([statement], [row_values]) = (statements.as_slice(), values.as_slice())
        {
            self.session.execute_unpaged(statement, row_values).await
        } else {
            // Same partition, so ScyllaDB accepts the conditions in one batch
            // and applies all of it or none of it.
            let mut batch = Batch::new(BatchType::Unlogged);
            for statement in statements {
                batch.append_statement(statement.clone());
            }
            self.session.batch(&batch, values).await
        };
        let result = result.map_err(|e| execution_error(&self.location, e))?;
        lwt_applied(result, &self.location)
    }

    fn conditional_statement(
        &self,
        write: &Write,
    ) -> Result<(&PreparedStatement, Vec<CqlValue>), ViewError> {
        let table = self.statements.table(write.table())?;
        let pk = CqlValue::Text(write.partition().to_owned());
        let ck = CqlValue::Text(write.clustering().to_owned());
        match (write, write.expect()) {
            (Write::Put { value, .. }, Expect::Absent) => Ok((
                &table.insert_if_absent,
                vec![pk, ck, CqlValue::Blob(value.clone())],
            )),
            (Write::Put { value, .. }, Expect::Version(v)) => Ok((
                &table.update_if_version,
                vec![
                    CqlValue::Blob(value.clone()),
                    CqlValue::BigInt(v.saturating_add(1)),
                    pk,
                    ck,
                    CqlValue::BigInt(v),
                ],
            )),
            (Write::Delete { .. }, Expect::Version(v)) => {
                Ok((&table.delete_if_version, vec![pk, ck, CqlValue::BigInt(v)]))
            }
            // `Transaction::validate` rejects deletes expecting absence, and
            // `conditional_groups` never yields `Any`.
            (_, expect) => Err(ViewError::InvalidTransaction {
                reason: format!(
                    "{expect:?} on {:?} is not a conditional write",
                    write.table()
                ),
            }),
        }
    }

    /// Finds which row of a failed group broke its expectation (linearizable
    /// reads; only on the conflict path). Falls back to the first write if the
    /// rows changed again meanwhile.
    async fn name_conflict(&self, group: &[&Write]) -> Result<Outcome, ViewError> {
        if let [only] = group {
            return Ok(only.conflict());
        }
        for write in group {
            let table = self.statements.table(write.table())?;
            let current = self
                .read_version(&table.version_serial, write.partition(), write.clustering())
                .await?;
            if !write.expect().is_met_by(current) {
                return Ok(write.conflict());
            }
        }
        match group.first() {
            Some(write) => Ok(write.conflict()),
            None => Ok(Outcome::Applied),
        }
    }

    pub(super) async fn read_version(
        &self,
        statement: &PreparedStatement,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<i64>, ViewError> {
        let result = self
            .session
            .execute_unpaged(statement, (partition, clustering))
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        let row = result
            .maybe_first_row::<(Option<i64>,)>()
            .map_err(|e| shape_error(&self.location, e))?;
        Ok(row.and_then(|(version,)| version))
    }

    /// Blind puts and deletes, outbox messages and the position, written with
    /// one explicit timestamp so a retry or replay writes identical cells.
    async fn run_unconditional(&self, tx: &Transaction) -> Result<(), ViewError> {
        let blind: Vec<&Write> = tx
            .writes
            .iter()
            .filter(|w| w.expect() == Expect::Any)
            .collect();
        // Versions of blind puts: read, then +1 (see the module docs on why this
        // is only exact without concurrent writers of the same row).
        let versions = try_join_all(blind.iter().map(|write| async move {
            match write {
                Write::Put { .. } => {
                    let table = self.statements.table(write.table())?;
                    self.read_version(&table.version, write.partition(), write.clustering())
                        .await
                }
                Write::Delete { .. } => Ok(None),
            }
        }))
        .await?;

        let mut statements: Vec<&PreparedStatement> = Vec::new();
        let mut values: Vec<Vec<CqlValue>> = Vec::new();
        for (write, current) in blind.iter().zip(versions) {
            let table = self.statements.table(write.table())?;
            let pk = CqlValue::Text(write.partition().to_owned());
            let ck = CqlValue::Text(write.clustering().to_owned());
            match write {
                Write::Put { value, .. } => {
                    statements.push(&table.put);
                    values.push(vec![
                        CqlValue::Blob(value.clone()),
                        CqlValue::BigInt(current.unwrap_or(0).saturating_add(1)),
                        pk,
                        ck,
                    ]);
                }
                Write::Delete { .. } => {
                    statements.push(&table.delete);
                    values.push(vec![pk, ck]);
                }
            }
        }
        for message in &tx.outbox {
            let shard = shard_of(&message.key);
            let headers = message
                .headers
                .iter()
                .map(|(name, value)| {
                    CqlValue::Tuple(vec![
                        Some(CqlValue::Text(name.clone())),
                        Some(CqlValue::Blob(value.clone())),
                    ])
                })
                .collect();
            statements.push(&self.statements.outbox_insert);
            values.push(vec![
                CqlValue::Int(shard),
                CqlValue::BigInt(next_seq(shard)),
                CqlValue::Uuid(message.event_id),
                CqlValue::Text(message.topic.clone()),
                CqlValue::Text(message.key.clone()),
                CqlValue::Blob(message.payload.clone()),
                CqlValue::List(headers),
            ]);
        }
        if let Some(position) = &tx.position {
            statements.push(&self.statements.position_upsert);
            values.push(vec![
                CqlValue::Text(position.group.clone()),
                CqlValue::Text(position.topic.clone()),
                CqlValue::Int(position.partition),
                CqlValue::BigInt(position.offset),
            ]);
        }

        let timestamp = tx.write_time.unwrap_or_else(now_micros);
        let result = match (statements.as_slice(), values.as_slice()) {
            ([], _) => return Ok(()),
            ([statement], [row_values]) => {
                let mut statement = (*statement).clone();
                statement.set_timestamp(Some(timestamp));
                self.session.execute_unpaged(&statement, row_values).await
            }
            _ => {
                let mut batch = Batch::new(BatchType::Logged);
                for statement in statements {
                    batch.append_statement(statement.clone());
                }
                batch.set_timestamp(Some(timestamp));
                batch.set_is_idempotent(true);
                self.session.batch(&batch, values).await
            }
        };
        result
            .map(|_| ())
            .map_err(|e| execution_error(&self.location, e))
    }
}

/// Conditional writes grouped by (table, partition), in first-appearance order.
fn conditional_groups(writes: &[Write]) -> Vec<Vec<&Write>> {
    let mut groups: Vec<Vec<&Write>> = Vec::new();
    for write in writes.iter().filter(|w| w.expect() != Expect::Any) {
        let same_partition = groups.iter_mut().find(|group| {
            group
                .first()
                .is_some_and(|g| g.table() == write.table() && g.partition() == write.partition())
        });
        match same_partition {
            Some(group) => group.push(write),
            None => groups.push(vec![write]),
        }
    }
    groups
}

/// Reads the `[applied]` column of an LWT response.
fn lwt_applied(result: QueryResult, location: &str) -> Result<bool, ViewError> {
    let rows = result
        .into_rows_result()
        .map_err(|e| shape_error(location, e))?;
    let first = rows
        .maybe_first_row::<CqlRow>()
        .map_err(|e| shape_error(location, e))?;
    match first.and_then(|row| row.columns.into_iter().next().flatten()) {
        Some(CqlValue::Boolean(applied)) => Ok(applied),
        other => Err(shape_error(
            location,
            format!("conditional write answered without an [applied] column: {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableDef;

    const A: TableDef = TableDef { name: "a", doc: "" };
    const B: TableDef = TableDef { name: "b", doc: "" };

    #[test]
    fn groups_conditional_writes_by_table_and_partition() {
        let tx = Transaction::new()
            .put(&A, "p1", "x", b"1".to_vec(), Expect::Absent)
            .put(&A, "p2", "x", b"2".to_vec(), Expect::Version(1))
            .put(&A, "p1", "y", b"3".to_vec(), Expect::Version(2))
            .put(&B, "p1", "x", b"4".to_vec(), Expect::Absent)
            .put(&A, "p3", "x", b"5".to_vec(), Expect::Any)
            .delete(&A, "p2", "z", Expect::Version(4));
        let groups = conditional_groups(&tx.writes);
        let shape: Vec<Vec<(&str, &str, &str)>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|w| (w.table(), w.partition(), w.clustering()))
                    .collect()
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![("a", "p1", "x"), ("a", "p1", "y")],
                vec![("a", "p2", "x"), ("a", "p2", "z")],
                vec![("b", "p1", "x")],
            ]
        );
    }
}
