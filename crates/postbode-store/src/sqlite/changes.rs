//! Profile changes, applied by the writer so that each change, its `create`/`update`/
//! `delete` event and that event's deliveries commit in one transaction: a receiver
//! never hears of a change that was rolled back, and no committed change goes unheard.
//!
//! One request (an API call, or a batch of import rows) runs inside a savepoint: if a
//! statement fails, its rows are undone and the rest of the group still commits. Rows
//! are read once per request (import keys in one query) and written with multi-row
//! statements at its end, so an import batch costs a handful of statements.

use chrono::{DateTime, Utc};
use postbode_core::event::EventScope;
use postbode_core::ids;
use postbode_core::profile::{self, ChangeEvent, ChangeKind, Edit, Schema, State, Subject, Values};
use postbode_core::webhook::Source;
use serde_json::Value;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};

use super::rows::{self, ms};
use super::writer::Group;
use crate::model::*;
use crate::{Result, StoreError};

const ROWS_PER_WRITE: usize = 500;

impl Group {
    pub(super) async fn change(
        &mut self,
        conn: &mut SqliteConnection,
        mut request: ChangeRequest,
    ) -> Result<Vec<ChangeOutcome>> {
        let changes = std::mem::take(&mut request.changes);
        self.webhooks_of(conn, &request.account_id).await?;
        sqlx::query("SAVEPOINT profile_change").execute(&mut *conn).await?;
        let mut work = Work::new(&request);
        let applied = work.apply_all(conn, changes).await;
        let written = match applied {
            Ok(()) => work.write(conn).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            let undone = match sqlx::query("ROLLBACK TO profile_change").execute(&mut *conn).await {
                Ok(_) => sqlx::query("RELEASE profile_change")
                    .execute(&mut *conn)
                    .await
                    .map(drop),
                Err(undo) => Err(undo),
            };
            if let Err(undo) = undone {
                // SQLite gave up the whole transaction (a full disk, an I/O error): nothing
                // more of this group may be written, or it would commit statement by statement.
                self.broken = Some(format!("{e}; then undoing it failed: {undo}"));
            }
            return Err(e);
        }
        sqlx::query("RELEASE profile_change").execute(&mut *conn).await?;
        let mut outcomes = work.outcomes;
        for (index, event) in work.events {
            let ingested = self.stage_routed(&request.account_id, event, request.require_verification);
            if let Some(slot) = index {
                outcomes[slot] = ChangeOutcome::Ingested(ingested);
            }
        }
        Ok(outcomes)
    }
}

/// The state of one request: what it read, what it will write, what it fired.
struct Work<'r> {
    account_id: &'r str,
    source: Source,
    now: DateTime<Utc>,
    schemas: HashMap<String, Schema>,
    profiles: HashMap<String, Option<Profile>>,
    subprofiles: HashMap<String, Option<Subprofile>>,
    /// Import keys already resolved: (database, key field, value as JSON) → profile.
    keyed: HashMap<(String, String, String), String>,
    /// Profiles and subprofiles to write (by id; `None` in the maps above deletes).
    dirty_profiles: HashSet<String>,
    dirty_subprofiles: HashSet<String>,
    /// Events to stage, with the outcome slot of a [`Change::Event`].
    events: Vec<(Option<usize>, NewEvent)>,
    outcomes: Vec<ChangeOutcome>,
}

impl<'r> Work<'r> {
    fn new(request: &'r ChangeRequest) -> Self {
        Self {
            account_id: &request.account_id,
            source: request.source,
            now: request.now,
            schemas: HashMap::new(),
            profiles: HashMap::new(),
            subprofiles: HashMap::new(),
            keyed: HashMap::new(),
            dirty_profiles: HashSet::new(),
            dirty_subprofiles: HashSet::new(),
            events: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    async fn apply_all(&mut self, conn: &mut SqliteConnection, changes: Vec<Change>) -> Result<()> {
        self.resolve_keys(conn, &changes).await?;
        for change in changes {
            let outcome = self.apply(conn, change).await?;
            self.outcomes.push(outcome);
        }
        Ok(())
    }

    async fn apply(&mut self, conn: &mut SqliteConnection, change: Change) -> Result<ChangeOutcome> {
        Ok(match change {
            Change::Event(event) => {
                // Its deliveries are counted when it is staged, after the writes.
                let pending = Ingested {
                    event_id: event.id.clone(),
                    deliveries: 0,
                    duplicate: false,
                };
                self.events.push((Some(self.outcomes.len()), *event));
                ChangeOutcome::Ingested(pending)
            }
            Change::CreateProfile {
                id,
                database_id,
                values,
                interests,
            } => {
                let Some(schema) = self.database_schema(conn, &database_id).await? else {
                    return Ok(ChangeOutcome::NotFound);
                };
                self.create_profile(id, database_id, &schema, values, interests)
            }
            Change::EditProfile {
                id,
                edit,
                values,
                interests,
            } => match self.profile(conn, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(current) => self.edit_profile(conn, current, edit, values, interests).await?,
            },
            Change::DeleteProfile { id } => match self.profile(conn, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(current) => {
                    self.delete_profile(conn, current).await?;
                    ChangeOutcome::Deleted
                }
            },
            Change::CreateSubprofile {
                id,
                profile_id,
                collection_id,
                values,
            } => {
                let Some(profile) = self.profile(conn, &profile_id).await? else {
                    return Ok(ChangeOutcome::NotFound);
                };
                let Some(schema) = self
                    .collection_schema(conn, &collection_id, &profile.database_id)
                    .await?
                else {
                    return Ok(ChangeOutcome::NotFound);
                };
                let subprofile = Subprofile {
                    id,
                    account_id: self.account_id.to_owned(),
                    profile_id,
                    database_id: profile.database_id,
                    collection_id,
                    values: schema.with_defaults(&values),
                    sequence: 1,
                    created_at: self.now,
                    modified_at: self.now,
                };
                self.fire_subprofile(ChangeKind::Create, &subprofile, &schema, &values, &Values::new());
                self.put_subprofile(subprofile.clone());
                ChangeOutcome::Created(Record::Subprofile(subprofile))
            }
            Change::EditSubprofile { id, edit, values } => match self.subprofile(conn, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(mut subprofile) => {
                    let schema = self.known_schema(conn, &subprofile.collection_id).await?;
                    let current = State {
                        values: subprofile.values.clone(),
                        interests: Vec::new(),
                    };
                    let applied = profile::apply(&current, edit, &values, None);
                    subprofile.values = applied.state.values;
                    if !applied.changed {
                        return Ok(ChangeOutcome::Unchanged(Record::Subprofile(subprofile)));
                    }
                    subprofile.sequence += 1;
                    subprofile.modified_at = self.now;
                    self.fire_subprofile(ChangeKind::Update, &subprofile, &schema, &values, &applied.previous);
                    self.put_subprofile(subprofile.clone());
                    ChangeOutcome::Updated(Record::Subprofile(subprofile))
                }
            },
            Change::DeleteSubprofile { id } => match self.subprofile(conn, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(subprofile) => {
                    self.delete_subprofile(conn, subprofile).await?;
                    ChangeOutcome::Deleted
                }
            },
            Change::Upsert {
                database_id,
                key,
                values,
                interests,
            } => {
                let Some(schema) = self.database_schema(conn, &database_id).await? else {
                    return Ok(ChangeOutcome::NotFound);
                };
                let key_value = values.get(&key).map(Value::to_string).unwrap_or_default();
                let slot = (database_id.clone(), key.clone(), key_value);
                match self.keyed.get(&slot).cloned() {
                    Some(id) => match self.profile(conn, &id).await? {
                        Some(current) => self.edit_profile(conn, current, Edit::Merge, values, interests).await?,
                        None => ChangeOutcome::NotFound,
                    },
                    None => {
                        let id = ids::new_id(ids::PROFILE);
                        self.keyed.insert(slot, id.clone());
                        self.create_profile(id, database_id, &schema, values, interests.unwrap_or_default())
                    }
                }
            }
        })
    }

    fn create_profile(
        &mut self,
        id: String,
        database_id: String,
        schema: &Schema,
        values: Values,
        interests: Vec<String>,
    ) -> ChangeOutcome {
        let profile = Profile {
            id,
            account_id: self.account_id.to_owned(),
            database_id,
            state: State {
                values: schema.with_defaults(&values),
                interests,
            },
            sequence: 1,
            created_at: self.now,
            modified_at: self.now,
        };
        self.fire_profile(ChangeKind::Create, &profile, schema, &values, &Values::new());
        self.put_profile(profile.clone());
        ChangeOutcome::Created(Record::Profile(profile))
    }

    async fn edit_profile(
        &mut self,
        conn: &mut SqliteConnection,
        mut profile: Profile,
        edit: Edit,
        values: Values,
        interests: Option<Vec<String>>,
    ) -> Result<ChangeOutcome> {
        let schema = self.known_schema(conn, &profile.database_id).await?;
        let applied = profile::apply(&profile.state, edit, &values, interests.as_deref());
        if !applied.changed {
            return Ok(ChangeOutcome::Unchanged(Record::Profile(profile)));
        }
        profile.state = applied.state;
        profile.sequence += 1;
        profile.modified_at = self.now;
        self.fire_profile(ChangeKind::Update, &profile, &schema, &values, &applied.previous);
        self.put_profile(profile.clone());
        Ok(ChangeOutcome::Updated(Record::Profile(profile)))
    }

    /// A profile's subprofiles go with it, each with a `delete` of its own.
    async fn delete_profile(&mut self, conn: &mut SqliteConnection, mut profile: Profile) -> Result<()> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM subprofiles WHERE profile_id = ? AND account_id = ? ORDER BY id",
            rows::SUBPROFILE_COLUMNS
        ))
        .bind(&profile.id)
        .bind(self.account_id)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let stored = rows::subprofile(row)?;
            self.subprofiles.entry(stored.id.clone()).or_insert(Some(stored));
        }
        // Those read now, and those this request made before.
        let mut owned: Vec<Subprofile> = self
            .subprofiles
            .values()
            .flatten()
            .filter(|s| s.profile_id == profile.id)
            .cloned()
            .collect();
        owned.sort_by(|a, b| a.id.cmp(&b.id));
        for subprofile in owned {
            self.delete_subprofile(conn, subprofile).await?;
        }
        let schema = self.known_schema(conn, &profile.database_id).await?;
        profile.sequence += 1;
        self.fire_profile(ChangeKind::Delete, &profile, &schema, &Values::new(), &Values::new());
        self.mark_profile(profile.id, None);
        Ok(())
    }

    async fn delete_subprofile(&mut self, conn: &mut SqliteConnection, mut subprofile: Subprofile) -> Result<()> {
        let schema = self.known_schema(conn, &subprofile.collection_id).await?;
        subprofile.sequence += 1;
        self.fire_subprofile(ChangeKind::Delete, &subprofile, &schema, &Values::new(), &Values::new());
        self.mark_subprofile(subprofile.id, None);
        Ok(())
    }

    fn fire_profile(
        &mut self,
        kind: ChangeKind,
        profile: &Profile,
        schema: &Schema,
        given: &Values,
        previous: &Values,
    ) {
        let subject = Subject::Profile {
            profile_id: profile.id.clone(),
            database_id: profile.database_id.clone(),
        };
        let fields = schema.complete(&profile.state.values);
        let body = ChangeEvent {
            kind,
            subject: &subject,
            at: self.now,
            source: self.source,
            sequence: profile.sequence,
            parameters: given,
            fields: &fields,
            previous,
            interests: Some(&profile.state.interests),
            created: profile.created_at,
            modified: profile.modified_at,
        }
        .body();
        self.fire(kind, &subject, body, fields, previous);
    }

    fn fire_subprofile(
        &mut self,
        kind: ChangeKind,
        subprofile: &Subprofile,
        schema: &Schema,
        given: &Values,
        previous: &Values,
    ) {
        let subject = Subject::Subprofile {
            subprofile_id: subprofile.id.clone(),
            profile_id: subprofile.profile_id.clone(),
            database_id: subprofile.database_id.clone(),
            collection_id: subprofile.collection_id.clone(),
        };
        let fields = schema.complete(&subprofile.values);
        let body = ChangeEvent {
            kind,
            subject: &subject,
            at: self.now,
            source: self.source,
            sequence: subprofile.sequence,
            parameters: given,
            fields: &fields,
            previous,
            interests: None,
            created: subprofile.created_at,
            modified: subprofile.modified_at,
        }
        .body();
        self.fire(kind, &subject, body, fields, previous);
    }

    fn fire(&mut self, kind: ChangeKind, subject: &Subject, body: Vec<u8>, fields: Values, previous: &Values) {
        let scope = EventScope {
            database_id: Some(subject.database_id().to_owned()),
            collection_id: subject.collection_id().map(str::to_owned),
            subprofile_change: subject.collection_id().is_some(),
            source: Some(self.source),
            profile_id: Some(subject.profile_id().to_owned()),
            subprofile_id: match subject {
                Subject::Subprofile { subprofile_id, .. } => Some(subprofile_id.clone()),
                Subject::Profile { .. } => None,
            },
            fields,
            previous: (kind == ChangeKind::Update).then(|| previous.clone()),
        };
        self.events.push((
            None,
            NewEvent {
                id: ids::new_id(ids::EVENT),
                event_type: kind.as_str().to_owned(),
                body,
                created_at: self.now,
                idempotency: None,
                scope,
            },
        ));
    }

    fn put_profile(&mut self, profile: Profile) {
        self.mark_profile(profile.id.clone(), Some(profile));
    }

    fn mark_profile(&mut self, id: String, profile: Option<Profile>) {
        self.dirty_profiles.insert(id.clone());
        self.profiles.insert(id, profile);
    }

    fn put_subprofile(&mut self, subprofile: Subprofile) {
        self.mark_subprofile(subprofile.id.clone(), Some(subprofile));
    }

    fn mark_subprofile(&mut self, id: String, subprofile: Option<Subprofile>) {
        self.dirty_subprofiles.insert(id.clone());
        self.subprofiles.insert(id, subprofile);
    }

    async fn profile(&mut self, conn: &mut SqliteConnection, id: &str) -> Result<Option<Profile>> {
        if let Some(known) = self.profiles.get(id) {
            return Ok(known.clone());
        }
        let row = sqlx::query(&format!(
            "SELECT {} FROM profiles WHERE id = ? AND account_id = ?",
            rows::PROFILE_COLUMNS
        ))
        .bind(id)
        .bind(self.account_id)
        .fetch_optional(&mut *conn)
        .await?;
        let profile = row.as_ref().map(rows::profile).transpose()?;
        self.profiles.insert(id.to_owned(), profile.clone());
        Ok(profile)
    }

    async fn subprofile(&mut self, conn: &mut SqliteConnection, id: &str) -> Result<Option<Subprofile>> {
        if let Some(known) = self.subprofiles.get(id) {
            return Ok(known.clone());
        }
        let row = sqlx::query(&format!(
            "SELECT {} FROM subprofiles WHERE id = ? AND account_id = ?",
            rows::SUBPROFILE_COLUMNS
        ))
        .bind(id)
        .bind(self.account_id)
        .fetch_optional(&mut *conn)
        .await?;
        let subprofile = row.as_ref().map(rows::subprofile).transpose()?;
        self.subprofiles.insert(id.to_owned(), subprofile.clone());
        Ok(subprofile)
    }

    async fn database_schema(&mut self, conn: &mut SqliteConnection, id: &str) -> Result<Option<Schema>> {
        self.schema(
            conn,
            "SELECT fields FROM databases WHERE id = ? AND account_id = ?",
            id,
            None,
        )
        .await
    }

    /// A collection's fields, when it belongs to the account and to `database_id`.
    async fn collection_schema(
        &mut self,
        conn: &mut SqliteConnection,
        id: &str,
        database_id: &str,
    ) -> Result<Option<Schema>> {
        self.schema(
            conn,
            "SELECT fields FROM collections WHERE id = ? AND account_id = ? AND database_id = ?",
            id,
            Some(database_id),
        )
        .await
    }

    /// The schema of a database or collection a stored row refers to (so it exists).
    async fn known_schema(&mut self, conn: &mut SqliteConnection, id: &str) -> Result<Schema> {
        let query = if id.starts_with(ids::COLLECTION) {
            "SELECT fields FROM collections WHERE id = ? AND account_id = ?"
        } else {
            "SELECT fields FROM databases WHERE id = ? AND account_id = ?"
        };
        Ok(self.schema(conn, query, id, None).await?.unwrap_or_default())
    }

    async fn schema(
        &mut self,
        conn: &mut SqliteConnection,
        query: &str,
        id: &str,
        database_id: Option<&str>,
    ) -> Result<Option<Schema>> {
        // A cached schema says nothing of the database a collection must be in.
        if let (Some(schema), None) = (self.schemas.get(id), database_id) {
            return Ok(Some(schema.clone()));
        }
        let mut q = sqlx::query(query).bind(id).bind(self.account_id);
        if let Some(database_id) = database_id {
            q = q.bind(database_id);
        }
        let Some(row) = q.fetch_optional(&mut *conn).await? else {
            return Ok(None);
        };
        let schema: Schema = serde_json::from_str(row.try_get("fields")?)?;
        self.schemas.insert(id.to_owned(), schema.clone());
        Ok(Some(schema))
    }

    /// Finds the profiles import rows refer to by key, one query per database and key
    /// field. The lookup goes through an index on that field, made the first time an
    /// import uses it (field names are identifiers, checked when the database is saved).
    async fn resolve_keys(&mut self, conn: &mut SqliteConnection, changes: &[Change]) -> Result<()> {
        let mut wanted: HashMap<(&str, &str), Vec<&Value>> = HashMap::new();
        for change in changes {
            if let Change::Upsert {
                database_id,
                key,
                values,
                ..
            } = change
                && let Some(value) = values.get(key).filter(|v| !v.is_null())
            {
                wanted.entry((database_id, key)).or_default().push(value);
            }
        }
        for ((database_id, key), values) in wanted {
            // The key goes into SQL text: it must be a field name, which is an identifier.
            if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(StoreError::Invalid(format!("{key:?} is not a field name")));
            }
            let index = key_index(conn, key).await?;
            // INDEXED BY: left to itself, SQLite serves `ORDER BY id` from `profiles_by_database`
            // and reads every profile of the database for each batch (quadratic in its size).
            let indexed = index.map(|name| format!("INDEXED BY {name}")).unwrap_or_default();
            let rows = sqlx::query(&format!(
                "SELECT {}, json_quote(fields ->> '$.{key}') AS key_json FROM profiles {indexed} \
                 WHERE database_id = ? AND account_id = ? AND fields ->> '$.{key}' IN (SELECT value FROM json_each(?)) \
                 ORDER BY id",
                rows::PROFILE_COLUMNS
            ))
            .bind(database_id)
            .bind(self.account_id)
            .bind(serde_json::to_string(&values)?)
            .fetch_all(&mut *conn)
            .await?;
            for row in &rows {
                let profile = rows::profile(row)?;
                let key_json: String = row.try_get("key_json")?;
                let slot = (database_id.to_owned(), key.to_owned(), canonical_json(&key_json));
                // Two profiles may share a value (the API does not forbid it): the oldest wins.
                if let std::collections::hash_map::Entry::Vacant(entry) = self.keyed.entry(slot) {
                    entry.insert(profile.id.clone());
                    self.profiles.entry(profile.id.clone()).or_insert(Some(profile));
                }
            }
        }
        Ok(())
    }

    /// Writes every touched row: upserts in multi-row statements, then deletes.
    async fn write(&mut self, conn: &mut SqliteConnection) -> Result<()> {
        let (mut kept, mut gone) = (Vec::new(), Vec::new());
        for id in &self.dirty_profiles {
            match self.profiles.get(id) {
                Some(Some(profile)) => kept.push(profile),
                _ => gone.push(id.as_str()),
            }
        }
        for chunk in kept.chunks(ROWS_PER_WRITE) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO profiles (id, account_id, database_id, fields, interests, sequence, created_at, modified_at) ",
            );
            q.push_values(chunk, |mut row, p| {
                row.push_bind(&p.id)
                    .push_bind(&p.account_id)
                    .push_bind(&p.database_id)
                    .push_bind(serde_json::to_string(&p.state.values).unwrap_or_default())
                    .push_bind(serde_json::to_string(&p.state.interests).unwrap_or_default())
                    .push_bind(p.sequence as i64)
                    .push_bind(ms(p.created_at))
                    .push_bind(ms(p.modified_at));
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, interests = excluded.interests, \
                 sequence = excluded.sequence, modified_at = excluded.modified_at",
            );
            q.build().execute(&mut *conn).await?;
        }
        let (mut kept_subs, mut gone_subs) = (Vec::new(), Vec::new());
        for id in &self.dirty_subprofiles {
            match self.subprofiles.get(id) {
                Some(Some(subprofile)) => kept_subs.push(subprofile),
                _ => gone_subs.push(id.as_str()),
            }
        }
        for chunk in kept_subs.chunks(ROWS_PER_WRITE) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO subprofiles (id, account_id, profile_id, database_id, collection_id, fields, sequence, \
                 created_at, modified_at) ",
            );
            q.push_values(chunk, |mut row, s| {
                row.push_bind(&s.id)
                    .push_bind(&s.account_id)
                    .push_bind(&s.profile_id)
                    .push_bind(&s.database_id)
                    .push_bind(&s.collection_id)
                    .push_bind(serde_json::to_string(&s.values).unwrap_or_default())
                    .push_bind(s.sequence as i64)
                    .push_bind(ms(s.created_at))
                    .push_bind(ms(s.modified_at));
            });
            q.push(
                " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, sequence = excluded.sequence, \
                 modified_at = excluded.modified_at",
            );
            q.build().execute(&mut *conn).await?;
        }
        if !gone_subs.is_empty() {
            sqlx::query("DELETE FROM subprofiles WHERE account_id = ? AND id IN (SELECT value FROM json_each(?))")
                .bind(self.account_id)
                .bind(serde_json::to_string(&gone_subs)?)
                .execute(&mut *conn)
                .await?;
        }
        if !gone.is_empty() {
            sqlx::query("DELETE FROM profiles WHERE account_id = ? AND id IN (SELECT value FROM json_each(?))")
                .bind(self.account_id)
                .bind(serde_json::to_string(&gone)?)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Key-lookup indexes are shared by every account (one per field name used as an
/// import key) and each slows every profile write a little, so there are at most this
/// many; an import by another key still works, by reading its database's profiles.
const MAX_KEY_INDEXES: i64 = 32;

/// The index that finds profiles by the field `key` (an identifier), made the first
/// time an import uses it; `None` once [`MAX_KEY_INDEXES`] exist.
async fn key_index(conn: &mut SqliteConnection, key: &str) -> Result<Option<String>> {
    // SQLite compares index names without case, field names with it: the name carries
    // the field name's bytes in hex.
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    let name = format!("profiles_by_field_{hex}");
    let (exists, count): (bool, i64) = sqlx::query_as(
        "SELECT coalesce(sum(name = ?), 0) > 0, count(*) FROM sqlite_master \
         WHERE type = 'index' AND name LIKE 'profiles\\_by\\_field\\_%' ESCAPE '\\'",
    )
    .bind(&name)
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        return Ok(Some(name));
    }
    if count >= MAX_KEY_INDEXES {
        return Ok(None);
    }
    sqlx::query(&format!(
        "CREATE INDEX {name} ON profiles (database_id, fields ->> '$.{key}')"
    ))
    .execute(&mut *conn)
    .await?;
    Ok(Some(name))
}

/// The JSON text of a value as serde_json writes it, so SQLite's and ours compare equal.
fn canonical_json(text: &str) -> String {
    serde_json::from_str::<Value>(text).map_or_else(|_| text.to_owned(), |v| v.to_string())
}
