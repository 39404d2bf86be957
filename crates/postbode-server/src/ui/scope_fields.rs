//! The part of the webhook form that depends on the chosen database or collection: the
//! fields an `update` may be limited to (`fields_changed`) and the condition editor's
//! rows. It loads again when another scope is picked (htmx, `GET
//! /ui/webhooks/scope-fields`), keeping what was ticked and typed; ticked fields the new
//! scope does not have stay visible, with what that means and a button to clear them.

use askama::Template;
use axum::extract::{RawQuery, State};
use postbode_core::profile::Schema;

use super::condition::{COMPARISONS, Row};
use super::form::{Errors, FormData};
use super::page::{UiResult, render};
use super::session::AccountSession;
use super::webhooks::Scopes;
use crate::state::AppState;

/// A condition row as shown, with its error.
pub struct RowView {
    pub field: String,
    pub comparison: String,
    pub value: String,
    pub error: String,
}

pub struct ScopePart {
    /// A database or collection is chosen.
    pub scoped: bool,
    /// The scope's fields, and whether each is ticked for `fields_changed`.
    pub changed: Vec<(String, bool)>,
    /// Ticked names the scope does not have.
    pub stale: Vec<String>,
    pub changed_error: String,
    pub field_names: Vec<String>,
    pub rows: Vec<RowView>,
    pub rows_error: String,
    pub any: bool,
    pub comparisons: [(&'static str, &'static str); 11],
}

impl ScopePart {
    pub fn new(fields: &Schema, scoped: bool, ticked: &[String], rows: &[Row], any: bool, errors: &Errors) -> Self {
        let field_names: Vec<String> = fields.0.iter().map(|f| f.name.clone()).collect();
        Self {
            scoped,
            changed: field_names
                .iter()
                .map(|name| (name.clone(), ticked.contains(name)))
                .collect(),
            stale: ticked
                .iter()
                .filter(|name| !field_names.contains(name))
                .cloned()
                .collect(),
            changed_error: errors.on("fields_changed"),
            rows: rows
                .iter()
                .enumerate()
                .map(|(index, row)| RowView {
                    field: row.field.clone(),
                    comparison: row.comparison.clone(),
                    value: row.value.clone(),
                    error: errors.own(&super::condition::row_field(index)),
                })
                .collect(),
            rows_error: errors.own("condition_rows"),
            field_names,
            any,
            comparisons: COMPARISONS,
        }
    }
}

#[derive(Template)]
#[template(path = "scope_fields.html")]
struct Fragment {
    part: ScopePart,
}

/// The scope part for the scope and values in the query (the form's own inputs).
pub async fn fragment(session: AccountSession, State(state): State<AppState>, RawQuery(query): RawQuery) -> UiResult {
    let form = FormData::parse(query.unwrap_or_default().as_bytes());
    let scopes = Scopes::load(&state, &session.account_id).await?;
    let values = super::webhook_form::FormValues::posted(&form);
    let (database_id, collection_id) = values.scope_ids();
    let scoped = database_id.is_some() || collection_id.is_some();
    let fields = scopes.fields(database_id.unwrap_or_default(), collection_id.unwrap_or_default());
    let part = ScopePart::new(
        &fields,
        scoped,
        &values.fields_changed,
        &values.rows,
        values.any,
        &Errors::default(),
    );
    Ok(render(&Fragment { part }))
}
