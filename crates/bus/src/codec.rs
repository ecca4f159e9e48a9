//! Events to Confluent-framed bytes and back, through a schema registry.
//!
//! Schema ids are resolved once per event type and per id and cached; the
//! hot path of encode and decode touches the registry only on the first
//! message of each type or writer schema.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use apache_avro::Schema;
use tributary_contracts::{
    CATALOG, ContractError, Event, EventDescriptor, encode_body, events::AnyEvent, frame,
    parse_schema, unframe,
};
use tributary_registry::{RegistryClient, RegistryError};

use crate::error::{DecodeError, EncodeError};

/// Encodes and decodes events in the Confluent wire format, registering and
/// fetching schemas through a [`RegistryClient`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventCodec {
    registry: RegistryClient,
    caches: Arc<Caches>,
}

#[derive(Debug, Default)]
struct Caches {
    /// Schema id per (topic, record full name), i.e. per subject.
    ids: RwLock<HashMap<(&'static str, &'static str), u32>>,
    /// How to decode each writer schema id seen so far.
    readers: RwLock<HashMap<u32, Arc<Reader>>>,
}

/// Decoding instructions for one writer schema id.
#[derive(Debug)]
struct Reader {
    full_name: String,
    /// `None` when the writer schema is ours (same canonical form), so
    /// decoding skips schema resolution.
    writer: Option<Arc<Schema>>,
}

impl EventCodec {
    pub fn new(registry: RegistryClient) -> Self {
        EventCodec {
            registry,
            caches: Arc::new(Caches::default()),
        }
    }

    /// The registry this codec talks to.
    pub fn registry(&self) -> &RegistryClient {
        &self.registry
    }

    /// Registers every schema a service will produce, at start-up, so a
    /// schema the registry rejects stops the service before it takes traffic,
    /// with an error naming the subject.
    pub async fn register_all(&self, descriptors: &[EventDescriptor]) -> Result<(), EncodeError> {
        for d in descriptors {
            self.schema_id(d.topic, d.full_name, d.schema_json).await?;
        }
        Ok(())
    }

    /// Registers every schema of the contract catalogue.
    pub async fn register_catalog(&self) -> Result<(), EncodeError> {
        self.register_all(CATALOG).await
    }

    /// Encodes `event` with its own schema and frames it with the schema id.
    /// The body is validated before anything is registered or written.
    pub async fn encode<E: Event>(&self, event: &E) -> Result<Vec<u8>, EncodeError> {
        let body = encode_body(event)?;
        let id = self
            .schema_id(E::TOPIC, E::FULL_NAME, E::SCHEMA_JSON)
            .await?;
        Ok(frame(id, &body))
    }

    /// Like [`EventCodec::encode`], for an event of any type.
    pub async fn encode_any(&self, event: &AnyEvent) -> Result<Vec<u8>, EncodeError> {
        let body = event.encode_body()?;
        let d = event.descriptor();
        let id = self.schema_id(d.topic, d.full_name, d.schema_json).await?;
        Ok(frame(id, &body))
    }

    /// Decodes a framed payload into the event type its writer schema names.
    pub async fn decode(&self, payload: &[u8]) -> Result<AnyEvent, DecodeError> {
        let (id, body) = unframe(payload)?;
        let reader = self.reader(id).await?;
        Ok(AnyEvent::decode(
            &reader.full_name,
            body,
            reader.writer.as_deref(),
        )?)
    }

    async fn schema_id(
        &self,
        topic: &'static str,
        full_name: &'static str,
        schema_json: &'static str,
    ) -> Result<u32, EncodeError> {
        if let Some(id) = read(&self.caches.ids).get(&(topic, full_name)) {
            return Ok(*id);
        }
        let subject = tributary_contracts::subject_name(topic, full_name);
        let id = self
            .registry
            .register(&subject, schema_json)
            .await
            .map_err(|source| EncodeError::Registry { subject, source })?;
        write(&self.caches.ids).insert((topic, full_name), id);
        Ok(id)
    }

    async fn reader(&self, id: u32) -> Result<Arc<Reader>, DecodeError> {
        if let Some(reader) = read(&self.caches.readers).get(&id) {
            return Ok(reader.clone());
        }
        let writer = self.registry.schema_by_id(id).await.map_err(|e| match e {
            RegistryError::NotFound { .. } => DecodeError::UnknownSchemaId { id },
            source => DecodeError::Registry { id, source },
        })?;
        let Schema::Record(record) = writer.as_ref() else {
            return Err(DecodeError::NotARecord { id });
        };
        let full_name = record.name.fullname(None);
        let ours = CATALOG
            .iter()
            .find(|d| d.full_name == full_name)
            .ok_or_else(|| ContractError::UnknownRecord {
                full_name: full_name.clone(),
            })?;
        let our_schema = parse_schema(ours.schema_json)?;
        let same = our_schema.canonical_form() == writer.canonical_form();
        let reader = Arc::new(Reader {
            full_name,
            writer: (!same).then_some(writer),
        });
        write(&self.caches.readers).insert(id, reader.clone());
        Ok(reader)
    }
}

/// Locks are only held for a map lookup or insert, never across `.await`; a
/// poisoned lock still holds a consistent map (inserts are single calls), so
/// recover it instead of panicking.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
