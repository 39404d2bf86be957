//! Bulk import: `POST /v1/databases/{id}/import?key=<field>` with a CSV file (header row)
//! or JSON lines. The body is parsed as it arrives, on a blocking thread, and handed
//! over in batches through a channel of two: memory stays bounded whatever the size of
//! the file, and each batch is one store request (rows resolved by key in one query,
//! written with multi-row statements). A batch commits on its own, so rows before a
//! broken connection stay imported; importing the same file again changes nothing.

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use futures_util::{StreamExt, TryStreamExt};
use postbode_core::ValidationError;
use postbode_core::ids;
use postbode_core::profile::{Schema, Values, check_interests};
use postbode_core::webhook::Source;
use postbode_store::{Change, ChangeOutcome, ChangeRequest, Database};
use serde::Serialize;
use serde_json::Value;
use std::io::BufRead;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::databases::find_database;
use crate::auth::{AccountKey, DataWrite, Needs};
use crate::decode::Malformed;
use crate::extract::ApiPath;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

const ROWS_PER_BATCH: usize = 500;
/// A batch also ends at this many bytes of rows, so memory stays bounded with wide rows.
const BYTES_PER_BATCH: usize = 4 << 20;
/// A row longer than this stops the import: no single row may hold the memory.
const MAX_ROW_BYTES: usize = 1 << 20;
/// A rejection's error text is cut to this, as it may quote the row.
const MAX_ERROR_LEN: usize = 200;
/// Rejected lines listed in the answer; the rest are only counted.
const MAX_LISTED_REJECTIONS: usize = 1000;
/// The CSV column (or JSON key) that holds interests; in CSV separated by `;`.
const INTERESTS: &str = "interests";

#[derive(Debug, Serialize, Default, utoipa::ToSchema)]
pub struct ImportSummary {
    created: u64,
    updated: u64,
    unchanged: u64,
    rejected: Vec<Rejection>,
    /// All rejected rows, also those beyond the listed ones.
    rejected_count: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Rejection {
    line: u64,
    error: String,
}

#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

/// One row as read: raw values (CSV cells are strings) and its interests.
struct Row {
    line: u64,
    read: Result<(Values, Option<Vec<String>>), ValidationError>,
}

enum Parsed {
    Rows(Vec<Row>),
    /// The file cannot be read at all (a bad header): nothing has been imported.
    Refused(ApiError),
    /// The body broke off (too large, connection lost) after the rows before it.
    Broken(String),
}

#[utoipa::path(post, path = "/v1/databases/{id}/import", operation_id = "importProfiles", tag = "profiles", security(("account_key" = ["data:write"])), params(("id" = String, Path), ("key" = Option<String>, Query, description = "the field that finds existing profiles to update")), request_body(content((String = "text/csv"), (String = "application/x-ndjson"))), responses((status = 200, body = ImportSummary), crate::openapi::Errors))]
pub async fn import(
    key: AccountKey<DataWrite>,
    State(state): State<AppState>,
    ApiPath(database_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ImportSummary>> {
    let limit = state.settings.max_import_bytes;
    let (database, key_field, format) = match check(&state, &key, &database_id, query, &headers).await {
        Ok(checked) => checked,
        Err(e) => {
            // The client is still sending: read the rest so it gets this answer rather
            // than a connection closed under it.
            tokio::spawn(drain(body, limit));
            return Err(e);
        }
    };
    let mut seen = 0u64;
    let stream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len() as u64;
            let result = if seen > limit {
                Err(std::io::Error::other(format!("the body is larger than {limit} bytes")))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let (batches, mut incoming) = mpsc::channel(2);
    let schema = database.fields.clone();
    let parser = tokio::task::spawn_blocking(move || match format {
        Format::Csv => parse_csv(RowLimit::csv(reader), &schema, &batches),
        Format::JsonLines => parse_json_lines(RowLimit::lines(reader), &batches),
    });
    let mut summary = ImportSummary::default();
    let mut broken = None;
    while let Some(parsed) = incoming.recv().await {
        match parsed {
            Parsed::Refused(e) => return Err(e),
            Parsed::Broken(why) => broken = Some(why),
            Parsed::Rows(rows) => {
                commit_batch(
                    &state,
                    &key.account_id,
                    &database.id,
                    &database.fields,
                    key_field.as_deref(),
                    rows,
                    &mut summary,
                )
                .await?
            }
        }
    }
    parser.await.map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(why) = broken {
        return Err(ApiError::BadRequest {
            detail: format!(
                "the import stopped: {why}; {} rows before it were imported ({} created, {} updated, {} unchanged)",
                summary.created + summary.updated + summary.unchanged,
                summary.created,
                summary.updated,
                summary.unchanged
            ),
            errors: Vec::new(),
        });
    }
    Ok(Json(summary))
}

/// What can be refused before reading the body: the database, the query and the type.
async fn check<S: Needs>(
    state: &AppState,
    key: &AccountKey<S>,
    database_id: &str,
    query: Option<String>,
    headers: &HeaderMap,
) -> ApiResult<(Database, Option<String>, Format)> {
    let database = find_database(state, &key.account_id, database_id).await?;
    let mut key_field = None;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "key" if database.fields.get(&value).is_some() => key_field = Some(value.into_owned()),
            "key" => return Err(ApiError::field("key", "no such field in this database")),
            other => return Err(ApiError::field(other, "unknown query parameter")),
        }
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match mime.as_str() {
        "text/csv" => Format::Csv,
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => Format::JsonLines,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send text/csv (with a header row) or application/x-ndjson (one JSON object per line)".into(),
            ));
        }
    };
    Ok((database, key_field, format))
}

/// Reads and drops what is left of a refused body, up to the import limit.
async fn drain(body: Body, limit: u64) {
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > limit {
            break;
        }
    }
}

async fn commit_batch(
    state: &AppState,
    account_id: &str,
    database_id: &str,
    schema: &Schema,
    key: Option<&str>,
    rows: Vec<Row>,
    summary: &mut ImportSummary,
) -> ApiResult<()> {
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        match row
            .read
            .and_then(|(values, interests)| to_change(database_id, schema, key, values, interests))
        {
            Ok(change) => changes.push(change),
            Err(error) => reject(summary, row.line, error.to_string()),
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let outcomes = state
        .store
        .change_profiles(ChangeRequest {
            account_id: account_id.to_owned(),
            source: Source::Import,
            changes,
            now: state.clock.now(),
            require_verification: state.require_verification,
        })
        .await?;
    crate::telemetry::changes_accepted(&outcomes);
    for outcome in outcomes {
        match outcome {
            ChangeOutcome::Created(_) => summary.created += 1,
            ChangeOutcome::Updated(_) => summary.updated += 1,
            ChangeOutcome::Unchanged(_) => summary.unchanged += 1,
            _ => return Err(ApiError::NotFound("database")),
        }
    }
    Ok(())
}

fn reject(summary: &mut ImportSummary, line: u64, mut error: String) {
    summary.rejected_count += 1;
    if summary.rejected.len() < MAX_LISTED_REJECTIONS {
        if error.len() > MAX_ERROR_LEN {
            let cut = (0..=MAX_ERROR_LEN)
                .rev()
                .find(|i| error.is_char_boundary(*i))
                .unwrap_or(0);
            error.truncate(cut);
            error.push('…');
        }
        summary.rejected.push(Rejection { line, error });
    }
}

fn to_change(
    database_id: &str,
    schema: &Schema,
    key: Option<&str>,
    values: Values,
    interests: Option<Vec<String>>,
) -> Result<Change, ValidationError> {
    let values = schema.check_values("fields", &values)?;
    let interests = interests.map(|list| check_interests(INTERESTS, &list)).transpose()?;
    Ok(match key {
        Some(key) => {
            let blank = |v: &Value| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
            if values.get(key).is_none_or(blank) {
                return Err(ValidationError::single(
                    format!("fields.{key}"),
                    "the key field is empty",
                ));
            }
            Change::Upsert {
                database_id: database_id.to_owned(),
                key: key.to_owned(),
                values,
                interests,
            }
        }
        None => Change::CreateProfile {
            id: ids::new_id(ids::PROFILE),
            database_id: database_id.to_owned(),
            values,
            interests: interests.unwrap_or_default(),
        },
    })
}

/// The rows parsed since the last hand-over.
#[derive(Default)]
struct Batch {
    rows: Vec<Row>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, row: Row, bytes: usize) {
        self.rows.push(row);
        self.bytes += bytes;
    }

    fn is_full(&self) -> bool {
        self.rows.len() >= ROWS_PER_BATCH || self.bytes >= BYTES_PER_BATCH
    }

    /// Hands the rows over; false when the request is gone (nobody reads any more).
    fn send(&mut self, out: &mpsc::Sender<Parsed>) -> bool {
        self.bytes = 0;
        if self.rows.is_empty() {
            return true;
        }
        out.blocking_send(Parsed::Rows(std::mem::take(&mut self.rows))).is_ok()
    }
}

/// Fails the read once a row (up to a line end outside quotes, for CSV) grows past
/// [`MAX_ROW_BYTES`], so one endless row cannot hold the memory.
struct RowLimit<R> {
    inner: R,
    /// Bytes since the last row end.
    row: usize,
    /// For CSV: inside a quoted cell, where a line end does not end the row.
    quoted: Option<bool>,
}

impl<R> RowLimit<R> {
    fn csv(inner: R) -> Self {
        Self {
            inner,
            row: 0,
            quoted: Some(false),
        }
    }

    fn lines(inner: R) -> Self {
        Self {
            inner,
            row: 0,
            quoted: None,
        }
    }
}

impl<R: std::io::Read> std::io::Read for RowLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            match (byte, &mut self.quoted) {
                (b'"', Some(quoted)) => *quoted = !*quoted,
                (b'\n', Some(false) | None) => self.row = 0,
                _ => {}
            }
            self.row += 1;
            if self.row > MAX_ROW_BYTES {
                return Err(std::io::Error::other(format!(
                    "a row is longer than {MAX_ROW_BYTES} bytes"
                )));
            }
        }
        Ok(n)
    }
}

fn parse_csv(reader: impl std::io::Read, schema: &Schema, out: &mpsc::Sender<Parsed>) {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let columns: Vec<String> = match csv.headers() {
        Ok(header) => header.iter().map(|c| c.trim().to_owned()).collect(),
        Err(e) => {
            let _ = out.blocking_send(Parsed::Refused(ApiError::BadRequest {
                detail: format!("the header row cannot be read: {e}"),
                errors: Vec::new(),
            }));
            return;
        }
    };
    let unknown: Vec<&str> = columns
        .iter()
        .map(String::as_str)
        .filter(|c| *c != INTERESTS && schema.get(c).is_none())
        .collect();
    // As in a JSON body, a name given twice is refused rather than one of its values
    // silently winning.
    let mut twice: Vec<&str> = columns
        .iter()
        .enumerate()
        .filter(|(n, c)| columns[..*n].contains(c))
        .map(|(_, c)| c.as_str())
        .collect();
    twice.dedup();
    let refusal = match (unknown.is_empty(), twice.is_empty()) {
        (true, true) => None,
        (false, _) => Some(format!(
            "columns that are not fields of this database: {}",
            unknown.join(", ")
        )),
        (true, false) => Some(format!("columns given more than once: {}", twice.join(", "))),
    };
    if let Some(refusal) = refusal {
        let _ = out.blocking_send(Parsed::Refused(ApiError::field("header", refusal)));
        // As for a refusal before the body: let the client finish sending and get the answer.
        let _ = std::io::copy(csv.get_mut(), &mut std::io::sink());
        return;
    }
    let mut batch = Batch::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                let mut values = Values::new();
                let mut interests = None;
                for (column, cell) in columns.iter().zip(record.iter()) {
                    if column == INTERESTS {
                        interests = Some(
                            cell.split(';')
                                .map(str::trim)
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned)
                                .collect(),
                        );
                    } else {
                        values.insert(column.clone(), Value::String(cell.to_owned()));
                    }
                }
                let row = Row {
                    line,
                    read: Ok((values, interests)),
                };
                batch.push(row, record.as_slice().len());
            }
            Err(e) if e.is_io_error() => {
                let _ = batch.send(out);
                let _ = out.blocking_send(Parsed::Broken(e.to_string()));
                return;
            }
            Err(e) => {
                let line = e.position().map_or(line + 1, |p| p.line());
                let row = Row {
                    line,
                    read: Err(ValidationError::single(
                        "row",
                        format!("not a CSV row: {}", csv_error_kind(&e)),
                    )),
                };
                batch.push(row, 0);
            }
        }
        if batch.is_full() && !batch.send(out) {
            return;
        }
    }
    let _ = batch.send(out);
}

fn csv_error_kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} cells where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".into(),
        _ => e.to_string(),
    }
}

fn parse_json_lines(reader: impl std::io::Read, out: &mpsc::Sender<Parsed>) {
    let mut lines = std::io::BufReader::new(reader);
    let mut batch = Batch::default();
    let mut buffer = Vec::new();
    let mut line = 0u64;
    loop {
        buffer.clear();
        match lines.read_until(b'\n', &mut buffer) {
            Ok(0) => break,
            Ok(_) => line += 1,
            Err(e) => {
                let _ = batch.send(out);
                let _ = out.blocking_send(Parsed::Broken(e.to_string()));
                return;
            }
        }
        if buffer.trim_ascii().is_empty() {
            continue;
        }
        let row = Row {
            line,
            read: json_row(&buffer),
        };
        batch.push(row, buffer.len());
        if batch.is_full() && !batch.send(out) {
            return;
        }
    }
    let _ = batch.send(out);
}

/// A line is an object of field values, with `interests` as a list of strings, read as
/// strictly as a JSON body: a key given twice is refused.
fn json_row(line: &[u8]) -> Result<(Values, Option<Vec<String>>), ValidationError> {
    let mut values: Values = match crate::decode::parse_strict(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ValidationError::single("row", "not a JSON object")),
        Err(Malformed::Duplicates(duplicates)) => return Err(duplicates),
        Err(Malformed::Syntax(e)) => return Err(ValidationError::single("row", format!("not JSON: {e}"))),
    };
    let interests = match values.remove(INTERESTS) {
        None | Some(Value::Null) => None,
        Some(list) => {
            Some(serde_json::from_value(list).map_err(|_| ValidationError::single(INTERESTS, "a list of strings"))?)
        }
    };
    Ok((values, interests))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read_all(mut reader: impl Read) -> std::io::Result<usize> {
        let mut sink = Vec::new();
        reader.read_to_end(&mut sink)
    }

    #[test]
    fn a_row_may_not_outgrow_the_limit_but_a_file_may() {
        let row = format!("{}\n", "x".repeat(MAX_ROW_BYTES - 1));
        let many = row.repeat(3);
        assert!(read_all(RowLimit::lines(many.as_bytes())).is_ok());
        assert!(read_all(RowLimit::csv(many.as_bytes())).is_ok());
        let long = "x".repeat(MAX_ROW_BYTES + 1);
        assert!(read_all(RowLimit::lines(long.as_bytes())).is_err());
        // In CSV a line end inside quotes is part of the row.
        let quoted = format!(
            "\"{}\n{}\"\n",
            "x".repeat(MAX_ROW_BYTES / 2),
            "x".repeat(MAX_ROW_BYTES / 2)
        );
        assert!(read_all(RowLimit::csv(quoted.as_bytes())).is_err());
        assert!(read_all(RowLimit::lines(quoted.as_bytes())).is_ok());
    }
}
