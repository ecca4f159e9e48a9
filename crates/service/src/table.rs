use std::marker::PhantomData;

use serde::{Serialize, de::DeserializeOwned};
use tributary_views::{ClusteringOrder, Expect, Row, TableDef, ViewError, ViewStore, Write};

/// A row value together with the version it was read at, for
/// optimistic-concurrency writes (`Expect::Version(version)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

/// A view table whose values are JSON documents of type `T`.
///
/// The view store keeps opaque bytes; this gives services typed reads and
/// writes without each of them repeating the (de)serialization.
#[derive(Debug)]
pub struct JsonTable<T> {
    def: TableDef,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for JsonTable<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for JsonTable<T> {}

impl<T: Serialize + DeserializeOwned> JsonTable<T> {
    /// A typed handle on the table `def`.
    pub const fn new(def: TableDef) -> Self {
        JsonTable {
            def,
            _value: PhantomData,
        }
    }

    /// The table's definition, for opening stores.
    pub const fn def(&self) -> TableDef {
        self.def
    }

    /// Reads one row.
    pub async fn get(
        &self,
        store: &dyn ViewStore,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<Versioned<T>>, ViewError> {
        match store.get(self.def.name, partition, clustering).await? {
            Some(row) => self.decode(row).map(Some),
            None => Ok(None),
        }
    }

    /// Reads a partition in clustering order.
    pub async fn partition(
        &self,
        store: &dyn ViewStore,
        partition: &str,
        order: ClusteringOrder,
        limit: usize,
    ) -> Result<Vec<Versioned<T>>, ViewError> {
        store
            .partition(self.def.name, partition, order, limit)
            .await?
            .into_iter()
            .map(|row| self.decode(row))
            .collect()
    }

    /// A write that stores `value` if `expect` holds.
    ///
    /// Fails only for values JSON cannot represent (maps with non-string
    /// keys), which is a bug in the row type, not bad input.
    pub fn put(
        &self,
        partition: &str,
        clustering: &str,
        value: &T,
        expect: Expect,
    ) -> Result<Write, serde_json::Error> {
        Ok(Write::Put {
            table: self.def.name,
            partition: partition.to_owned(),
            clustering: clustering.to_owned(),
            value: serde_json::to_vec(value)?,
            expect,
        })
    }

    /// A write that deletes the row if `expect` holds.
    pub fn delete(&self, partition: &str, clustering: &str, expect: Expect) -> Write {
        Write::Delete {
            table: self.def.name,
            partition: partition.to_owned(),
            clustering: clustering.to_owned(),
            expect,
        }
    }

    fn decode(&self, row: Row) -> Result<Versioned<T>, ViewError> {
        let value = serde_json::from_slice(&row.value).map_err(|e| ViewError::Corrupted {
            location: format!("{} ({}, {})", self.def.name, row.partition, row.clustering),
            detail: format!("not a valid document: {e}"),
        })?;
        Ok(Versioned {
            value,
            version: row.version,
        })
    }
}
