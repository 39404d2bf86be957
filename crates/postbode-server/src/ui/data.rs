//! Profile data: databases and collections with their fields, unsubscribe behaviour and
//! the webhooks limited to each; a profile browser with search by field; and profile
//! edits, committed like the API's (`routes::profiles::edit_profile`) but with source
//! `dashboard`, which a webhook's `ignore_sources` can name.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use postbode_core::page::PageRequest;
use postbode_core::profile::{Edit, FieldType, Schema, UnsubscribeBehaviour};
use postbode_core::webhook::{Source, Webhook};
use postbode_store::{Collection, Database, ProfileQuery, WebhookFilter};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::flash::Flash;
use super::form::Errors;
use super::page::{Chrome, UiResult, render, render_with};
use super::session::{AccountSession, Posted};
use crate::problem::ApiError;
use crate::routes::databases::find_database;
use crate::routes::profiles::{edit_profile as commit_edit, field_filter, find_profile};
use crate::state::AppState;
use crate::views::ProfileView;

const PAGE_SIZE: u32 = 50;

#[derive(Deserialize)]
pub struct Cursor {
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "databases.html")]
struct DatabasesPage {
    chrome: Chrome,
    databases: Vec<Database>,
    next: Option<String>,
}

pub async fn databases(session: AccountSession, State(state): State<AppState>, Query(q): Query<Cursor>) -> UiResult {
    let page = PageRequest {
        after: q.cursor,
        limit: PAGE_SIZE,
    };
    let listed = state.store.list_databases(&session.account_id, &page).await?;
    Ok(render(&DatabasesPage {
        chrome: session.chrome("Databases", "databases"),
        databases: listed.data,
        next: listed.next_cursor,
    }))
}

fn unsubscribe(behaviour: &UnsubscribeBehaviour) -> String {
    match behaviour {
        UnsubscribeBehaviour::Nothing => "nothing happens".into(),
        UnsubscribeBehaviour::Remove => "the profile is removed".into(),
        UnsubscribeBehaviour::Update { fields } => format!(
            "fields are set: {}",
            fields
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn field_list(schema: &Schema) -> String {
    schema
        .0
        .iter()
        .map(|f| {
            format!(
                "{} ({})",
                f.name,
                serde_json::to_value(f.field_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Template)]
#[template(path = "database.html")]
struct DatabasePage {
    chrome: Chrome,
    database: Database,
    webhooks: Vec<Webhook>,
    collections: Vec<(Collection, Vec<Webhook>)>,
}

impl DatabasePage {
    fn fields(&self, schema: &Schema) -> String {
        field_list(schema)
    }

    fn unsubscribe(&self, behaviour: &UnsubscribeBehaviour) -> String {
        unsubscribe(behaviour)
    }
}

async fn webhooks_of(state: &AppState, account_id: &str, filter: WebhookFilter) -> Result<Vec<Webhook>, ApiError> {
    let page = PageRequest {
        after: None,
        limit: PAGE_SIZE,
    };
    Ok(state.store.list_webhooks(account_id, &filter, &page).await?.data)
}

pub async fn database(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let account = &session.account_id;
    let database = find_database(&state, account, &id).await?;
    let page = PageRequest {
        after: None,
        limit: PAGE_SIZE,
    };
    let webhooks = webhooks_of(
        &state,
        account,
        WebhookFilter {
            database_id: Some(database.id.clone()),
            collection_id: None,
        },
    )
    .await?;
    let mut collections = Vec::new();
    for collection in state.store.list_collections(account, &database.id, &page).await?.data {
        let filter = WebhookFilter {
            database_id: None,
            collection_id: Some(collection.id.clone()),
        };
        let linked = webhooks_of(&state, account, filter).await?;
        collections.push((collection, linked));
    }
    Ok(render(&DatabasePage {
        chrome: session.chrome(database.name.clone(), "databases"),
        database,
        webhooks: webhooks
            .into_iter()
            .filter(|w| w.settings.collection_id.is_none())
            .collect(),
        collections,
    }))
}

#[derive(Deserialize)]
pub struct ProfileSearch {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: String,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "profiles.html")]
struct ProfilesPage {
    chrome: Chrome,
    database: Database,
    profiles: Vec<ProfileView>,
    field: String,
    value: String,
    error: String,
    next: Option<String>,
}

impl ProfilesPage {
    fn cell(&self, profile: &ProfileView, field: &str) -> String {
        as_input(profile.fields.get(field))
    }

    /// The link to a profile says whose it is: its first field with a value, or its id.
    fn name(&self, profile: &ProfileView) -> String {
        self.database
            .fields
            .0
            .iter()
            .map(|f| self.cell(profile, &f.name))
            .find(|value| !value.trim().is_empty())
            .unwrap_or_else(|| profile.id.clone())
    }
}

pub async fn profiles(
    session: AccountSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ProfileSearch>,
) -> UiResult {
    let database = find_database(&state, &session.account_id, &id).await?;
    let mut error = String::new();
    let field = if q.field.is_empty() {
        None
    } else {
        match field_filter(&database, "value", &q.field, q.value.clone()) {
            Ok(filter) => Some(filter),
            Err(ApiError::Invalid(v)) => {
                error = v
                    .errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                None
            }
            Err(other) => return Err(other.into()),
        }
    };
    let query = ProfileQuery {
        field,
        page: PageRequest {
            after: q.cursor,
            limit: PAGE_SIZE,
        },
    };
    let listed = if error.is_empty() {
        state
            .store
            .list_profiles(&session.account_id, &database.id, &query)
            .await?
    } else {
        postbode_core::page::Page {
            data: Vec::new(),
            next_cursor: None,
        }
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with(
        status,
        &ProfilesPage {
            chrome: session.chrome(format!("Profiles of {}", database.name), "databases"),
            profiles: listed
                .data
                .into_iter()
                .map(|p| ProfileView::new(p, &database.fields))
                .collect(),
            database,
            field: q.field,
            value: q.value,
            error,
            next: listed.next_cursor,
        },
    ))
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    database: Database,
    profile_id: String,
    /// Each field: its name, the input's type and step, and the value shown in it.
    values: Vec<(String, &'static str, &'static str, String)>,
    errors: Errors,
}

/// The input a field of this type gets: its `type` and `step`.
fn input_type(field_type: FieldType) -> (&'static str, &'static str) {
    match field_type {
        FieldType::Text => ("text", ""),
        FieldType::Integer => ("number", "1"),
        FieldType::Float => ("number", "any"),
        FieldType::Date => ("date", ""),
        FieldType::Email => ("email", ""),
    }
}

fn inputs(schema: &Schema, value: impl Fn(&str) -> String) -> Vec<(String, &'static str, &'static str, String)> {
    schema
        .0
        .iter()
        .map(|f| {
            let (kind, step) = input_type(f.field_type);
            (f.name.clone(), kind, step, value(&f.name))
        })
        .collect()
}

fn as_input(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub async fn profile(session: AccountSession, State(state): State<AppState>, Path(id): Path<String>) -> UiResult {
    let profile = find_profile(&state, &session.account_id, &id).await?;
    let database = find_database(&state, &session.account_id, &profile.database_id).await?;
    let values = inputs(&database.fields, |name| as_input(profile.state.values.get(name)));
    Ok(render(&ProfilePage {
        chrome: session.chrome("Profile", "databases"),
        database,
        profile_id: profile.id,
        values,
        errors: Errors::default(),
    }))
}

/// Every field of the form is sent (an emptied input clears the field), merged into
/// the profile with source `dashboard`.
pub async fn edit_profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted<AccountSession>,
) -> UiResult {
    posted.once(save_profile(&state, &id, &posted)).await
}

async fn save_profile(state: &AppState, id: &str, posted: &Posted<AccountSession>) -> UiResult {
    let session = &posted.session;
    let profile = find_profile(state, &session.account_id, id).await?;
    let database = find_database(state, &session.account_id, &profile.database_id).await?;
    let posted_value = |name: &str| posted.form.text(&format!("field.{name}"));
    let fields: Map<String, Value> = database
        .fields
        .0
        .iter()
        .map(|def| (def.name.clone(), Value::String(posted_value(&def.name))))
        .collect();
    match commit_edit(
        state,
        &session.account_id,
        id,
        (fields, None),
        Edit::Merge,
        Source::Dashboard,
    )
    .await
    {
        Ok(saved) => {
            let flash = if saved.sequence > profile.sequence {
                Flash::ok("Saved: an update event went to the webhooks that want it (source dashboard).")
            } else {
                Flash::ok("Saved: nothing changed, so no event fired.")
            };
            posted.redirect(state, &format!("/ui/profiles/{id}"), flash)
        }
        Err(e) => {
            let errors = Errors::from_refusal(e)?;
            Ok(render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ProfilePage {
                    chrome: session.chrome("Profile", "databases"),
                    values: inputs(&database.fields, posted_value),
                    database,
                    profile_id: id.to_owned(),
                    errors,
                },
            ))
        }
    }
}
