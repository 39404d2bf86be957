//! The records of the SQLite backend: the shared statements (`records_sql`) on the
//! pool, with SQLite's way of reading JSON fields and passing lists.

use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;

use super::SqliteStore;
use crate::Result;
use crate::model::*;
use crate::records_sql::sql_records;
use crate::rows::{self, Columns, ms};

pub(super) mod dialect {
    use crate::Result;

    /// A top-level field of a JSON text column, as SQL text (or number).
    pub fn json_text(column: &str, key: &str) -> String {
        format!("({column} ->> '$.{key}')")
    }

    /// A top-level field of a JSON text column equals the JSON value in parameter `n`.
    pub fn json_equals(column: &str, key: &str, n: usize) -> String {
        format!("({column} -> '$.{key}') = json(${n})")
    }

    /// `column` is one of the ids in parameter `n` (bound with [`id_list`]).
    pub fn id_in(column: &str, n: usize) -> String {
        format!("{column} IN (SELECT value FROM json_each(${n}))")
    }

    pub fn id_list(ids: &[&str]) -> Result<String> {
        Ok(serde_json::to_string(ids)?)
    }
}

impl SqliteStore {
    async fn announce_work(&self) {
        self.work.notify_one();
    }
}

sql_records!(SqliteStore, dialect);
