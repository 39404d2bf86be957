//! The records of the PostgreSQL backend: the shared statements (`records_sql`) on the
//! pool, with PostgreSQL's way of reading JSON fields and passing lists.

use postbode_core::page::{Page, PageRequest};
use postbode_core::webhook::Webhook;

use super::PgStore;
use crate::Result;
use crate::model::*;
use crate::records_sql::sql_records;
use crate::rows::{self, Columns, ms};

pub(super) mod dialect {
    use crate::Result;

    /// A top-level field of a JSON text column, as text.
    pub fn json_text(column: &str, key: &str) -> String {
        format!("({column}::jsonb ->> '{key}')")
    }

    /// A top-level field of a JSON text column equals the JSON value in parameter `n`.
    pub fn json_equals(column: &str, key: &str, n: usize) -> String {
        format!("({column}::jsonb -> '{key}') = ${n}::jsonb")
    }

    /// `column` is one of the ids in parameter `n` (bound with [`id_list`]).
    pub fn id_in(column: &str, n: usize) -> String {
        format!("{column} = ANY(${n})")
    }

    pub fn id_list(ids: &[&str]) -> Result<Vec<String>> {
        Ok(ids.iter().map(|id| (*id).to_owned()).collect())
    }
}

sql_records!(PgStore, dialect);
