//! Reads and outbox/position bookkeeping on ScyllaDB.

use ::scylla::statement::prepared::PreparedStatement;
use futures::StreamExt;
use futures::future::try_join_all;
use uuid::Uuid;

use super::ScyllaStore;
use super::error::{execution_error, shape_error};
use super::outbox::{OUTBOX_SHARDS, shard_of_seq};
use crate::digest::{DigestBuilder, TableDigest};
use crate::error::ViewError;
use crate::model::{ClusteringOrder, Row, RowKey};
use crate::transaction::{ConsumedPosition, OutboxEntry, OutboxMessage};

/// CQL `LIMIT` takes an int.
fn cql_limit(limit: usize) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

type OutboxRow = (
    i64,
    Uuid,
    String,
    String,
    Vec<u8>,
    Option<Vec<(String, Vec<u8>)>>,
);

impl ScyllaStore {
    pub(super) async fn get_row(
        &self,
        table: &str,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<Row>, ViewError> {
        let statements = self.statements.table(table)?;
        let result = self
            .session
            .execute_unpaged(&statements.get, (partition, clustering))
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        let row = result
            .maybe_first_row::<(Vec<u8>, i64)>()
            .map_err(|e| shape_error(&self.location, e))?;
        Ok(row.map(|(value, version)| Row {
            partition: partition.to_owned(),
            clustering: clustering.to_owned(),
            value,
            version,
        }))
    }

    pub(super) async fn partition_rows(
        &self,
        table: &str,
        partition: &str,
        order: ClusteringOrder,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError> {
        let statements = self.statements.table(table)?;
        let statement = match order {
            ClusteringOrder::Ascending => &statements.partition_asc,
            ClusteringOrder::Descending => &statements.partition_desc,
        };
        let result = self
            .session
            .execute_unpaged(statement, (partition, cql_limit(limit)))
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        result
            .rows::<(String, Vec<u8>, i64)>()
            .map_err(|e| shape_error(&self.location, e))?
            .map(|row| {
                row.map(|(clustering, value, version)| Row {
                    partition: partition.to_owned(),
                    clustering,
                    value,
                    version,
                })
                .map_err(|e| shape_error(&self.location, e))
            })
            .collect()
    }

    /// Token-ordered paging: the rest of `after`'s partition first, then the
    /// partitions whose token is greater.
    pub(super) async fn scan_rows(
        &self,
        table: &str,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError> {
        let statements = self.statements.table(table)?;
        let Some(after) = after else {
            return self
                .full_rows(&statements.scan_first, (cql_limit(limit),))
                .await;
        };
        let mut rows = self
            .full_rows(
                &statements.scan_partition_rest,
                (&after.partition, &after.clustering, cql_limit(limit)),
            )
            .await?;
        if rows.len() < limit {
            let rest = limit - rows.len();
            rows.extend(
                self.full_rows(
                    &statements.scan_after_token,
                    (&after.partition, cql_limit(rest)),
                )
                .await?,
            );
        }
        Ok(rows)
    }

    async fn full_rows(
        &self,
        statement: &PreparedStatement,
        values: impl ::scylla::serialize::row::SerializeRow,
    ) -> Result<Vec<Row>, ViewError> {
        let result = self
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        result
            .rows::<(String, String, Vec<u8>, i64)>()
            .map_err(|e| shape_error(&self.location, e))?
            .map(|row| {
                row.map(|(partition, clustering, value, version)| Row {
                    partition,
                    clustering,
                    value,
                    version,
                })
                .map_err(|e| shape_error(&self.location, e))
            })
            .collect()
    }

    /// Reads every shard, completes the last `seq` of a full shard page (so a
    /// `seq` shared by two messages is never split across pages), merges by
    /// `seq` and cuts at `limit` without splitting a `seq` either.
    pub(super) async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, ViewError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let shards =
            try_join_all((0..OUTBOX_SHARDS).map(|shard| self.outbox_shard(shard, limit))).await?;
        let mut entries: Vec<OutboxEntry> = shards.into_iter().flatten().collect();
        entries.sort_by_key(|e| (e.seq, e.message.event_id));
        if entries.len() > limit {
            let boundary = entries[limit - 1].seq;
            let keep = entries
                .iter()
                .position(|e| e.seq > boundary)
                .unwrap_or(entries.len());
            entries.truncate(keep);
        }
        Ok(entries)
    }

    async fn outbox_shard(&self, shard: i32, limit: usize) -> Result<Vec<OutboxEntry>, ViewError> {
        let mut entries = self
            .outbox_rows(
                &self.statements.outbox_shard_page,
                (shard, cql_limit(limit)),
            )
            .await?;
        if entries.len() >= limit
            && let Some(last) = entries.last().map(|e| e.seq)
        {
            entries.retain(|e| e.seq != last);
            entries.extend(
                self.outbox_rows(&self.statements.outbox_seq_group, (shard, last))
                    .await?,
            );
        }
        Ok(entries)
    }

    async fn outbox_rows(
        &self,
        statement: &PreparedStatement,
        values: impl ::scylla::serialize::row::SerializeRow,
    ) -> Result<Vec<OutboxEntry>, ViewError> {
        let result = self
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        result
            .rows::<OutboxRow>()
            .map_err(|e| shape_error(&self.location, e))?
            .map(|row| {
                row.map(
                    |(seq, event_id, topic, key, payload, headers)| OutboxEntry {
                        seq,
                        message: OutboxMessage {
                            topic,
                            key,
                            payload,
                            // An empty CQL list is stored as null.
                            headers: headers.unwrap_or_default(),
                            event_id,
                        },
                    },
                )
                .map_err(|e| shape_error(&self.location, e))
            })
            .collect()
    }

    pub(super) async fn ack_outbox(&self, seqs: &[i64]) -> Result<(), ViewError> {
        // Bounded concurrency: at most 16 deletes in flight.
        let mut deletes = futures::stream::iter(seqs.iter().copied())
            .map(|seq| async move {
                self.session
                    .execute_unpaged(&self.statements.outbox_delete, (shard_of_seq(seq), seq))
                    .await
                    .map_err(|e| execution_error(&self.location, e))
            })
            .buffer_unordered(16);
        while let Some(result) = deletes.next().await {
            result?;
        }
        Ok(())
    }

    pub(super) async fn group_positions(
        &self,
        group: &str,
    ) -> Result<Vec<ConsumedPosition>, ViewError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.positions_of_group, (group,))
            .await
            .map_err(|e| execution_error(&self.location, e))?
            .into_rows_result()
            .map_err(|e| shape_error(&self.location, e))?;
        result
            .rows::<(String, i32, i64)>()
            .map_err(|e| shape_error(&self.location, e))?
            .map(|row| {
                row.map(|(topic, partition, offset)| ConsumedPosition {
                    group: group.to_owned(),
                    topic,
                    partition,
                    offset,
                })
                .map_err(|e| shape_error(&self.location, e))
            })
            .collect()
    }

    /// Streams the table page by page; memory stays constant.
    pub(super) async fn table_digest(&self, table: &str) -> Result<TableDigest, ViewError> {
        let statements = self.statements.table(table)?;
        let pager = self
            .session
            .execute_iter(statements.all_rows.clone(), ())
            .await
            .map_err(|e| ViewError::Storage {
                location: self.location.clone(),
                source: Box::new(e),
            })?;
        let mut rows = pager
            .rows_stream::<(String, String, Vec<u8>)>()
            .map_err(|e| shape_error(&self.location, e))?;
        let mut builder = DigestBuilder::new();
        while let Some(row) = rows.next().await {
            let (partition, clustering, value) = row.map_err(|e| ViewError::Storage {
                location: self.location.clone(),
                source: Box::new(e),
            })?;
            builder.add(&partition, &clustering, &value);
        }
        Ok(builder.finish())
    }
}
