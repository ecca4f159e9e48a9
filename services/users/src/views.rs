//! The users service's tables (ARCHITECTURE section 7) and their row types.

use serde::{Deserialize, Serialize};
use tributary_service::JsonTable;
use tributary_views::TableDef;
use uuid::Uuid;

use crate::token::Role;

/// One row per account.
pub const USERS_BY_ID: TableDef = TableDef {
    name: "users_by_id",
    doc: "partition = user id, clustering = \"\", value = UserRecord JSON (profile, role, password hash)",
};

/// One row per e-mail key; its `Expect::Absent` insert is what makes
/// addresses unique, across replicas too.
pub const USERS_BY_EMAIL: TableDef = TableDef {
    name: "users_by_email",
    doc: "partition = lower-cased e-mail, clustering = \"\", value = EmailRecord JSON (user id)",
};

/// Every table, for opening the store.
pub const TABLES: [TableDef; 2] = [USERS_BY_ID, USERS_BY_EMAIL];

/// Typed handle on [`USERS_BY_ID`].
pub const USERS: JsonTable<UserRecord> = JsonTable::new(USERS_BY_ID);
/// Typed handle on [`USERS_BY_EMAIL`].
pub const EMAILS: JsonTable<EmailRecord> = JsonTable::new(USERS_BY_EMAIL);

/// An account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: Uuid,
    /// As given at registration (trimmed).
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Unix ms.
    pub created_at: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The e-mail index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRecord {
    pub user_id: Uuid,
}

/// The partition key of a user row.
pub fn user_key(id: Uuid) -> String {
    id.to_string()
}
