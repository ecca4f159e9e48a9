//! The notifications service's tables, row types and key layouts.

use serde::{Deserialize, Serialize};
use tributary_service::JsonTable;
use tributary_views::TableDef;
use uuid::Uuid;

use crate::domain::{Notification, Recipient};

/// partition = recipient, clustering = [`time_key`] of the notification,
/// value = [`Notification`]; read descending for newest first.
pub const NOTIFICATIONS_BY_RECIPIENT: TableDef = TableDef {
    name: "notifications_by_recipient",
    doc: "partition = recipient (e-mail or user id), clustering = zero-padded created_at/notification id, value = notification (JSON); GET /notifications?recipient= newest first",
};

/// partition = subject id, clustering = kind, value = [`DedupRecord`]. Its
/// existence means the (subject, kind) was notified; written with
/// `Expect::Absent`, so only one notification per pair can ever commit.
pub const NOTIFICATION_DEDUP: TableDef = TableDef {
    name: "notification_dedup",
    doc: "partition = subject id (order or user), clustering = notification kind, value = the notification sent (JSON); one notification per (subject, kind)",
};

/// partition = user id, clustering = "", value = [`Recipient`].
pub const RECIPIENTS: TableDef = TableDef {
    name: "recipients",
    doc: "partition = user id, clustering = \"\", value = e-mail and name from UserRegistered (JSON)",
};

/// Every table of the service.
pub const TABLES: [TableDef; 3] = [NOTIFICATIONS_BY_RECIPIENT, NOTIFICATION_DEDUP, RECIPIENTS];

pub const NOTIFICATIONS: JsonTable<Notification> = JsonTable::new(NOTIFICATIONS_BY_RECIPIENT);
pub const DEDUP: JsonTable<DedupRecord> = JsonTable::new(NOTIFICATION_DEDUP);
pub const KNOWN_RECIPIENTS: JsonTable<Recipient> = JsonTable::new(RECIPIENTS);

/// Which notification settled a (subject, kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupRecord {
    pub notification_id: Uuid,
    pub recipient: String,
    pub cause_event_id: Uuid,
}

/// `<unix ms, 20 digits>/<id>`: sorts by time, then id, as bytes.
pub fn time_key(unix_ms: i64, id: Uuid) -> String {
    format!("{:020}/{id}", unix_ms.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_valid() {
        for table in TABLES {
            table.validate().expect("valid");
        }
    }

    #[test]
    fn time_keys_sort_chronologically() {
        let id = Uuid::nil();
        assert!(time_key(9, id) < time_key(10, id));
        assert!(time_key(-1, id) < time_key(1, id));
    }
}
