//! Test support: the shared helpers of `tributary_service::testing`, on
//! this service's view tables.

pub use tributary_service::testing::{ManualClock, TestStore, received};

use crate::{SERVICE, views};

/// A fresh embedded store with the inventory tables, in a temporary directory.
pub async fn test_store() -> TestStore {
    TestStore::open(SERVICE, &views::TABLES).await
}
