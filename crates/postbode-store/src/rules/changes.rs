//! What a profile change does: the rows it writes and the `create`/`update`/`delete`
//! event it fires, committed in one transaction, so a receiver never hears of a change
//! that was rolled back and no committed change goes unheard.
//!
//! One request (an API call, a batch of import rows) runs inside a savepoint: if a
//! statement fails, its rows are undone and the rest of the group still commits. Rows
//! are read once per request (import keys in one query per key field) and written at its
//! end in a few multi-row statements.
//!
//! Imports find profiles by a key field through `profile_keys`, kept here for each of a
//! database's key fields. A field becomes a key field the first time an import uses it:
//! that database's profiles (and no other's) are indexed then, once.

use chrono::{DateTime, Utc};
use postbode_core::event::EventScope;
use postbode_core::ids;
use postbode_core::profile::{self, ChangeEvent, ChangeKind, Edit, Schema, State, Subject, Values};
use postbode_core::webhook::Source;
use std::collections::{HashMap, HashSet};

use super::group::Group;
use crate::backend::{DatabaseFields, GroupTx, ProfileKeyRow};
use crate::model::*;
use crate::{Result, StoreError};

/// Profiles indexed per statement when a field becomes a key field.
const KEY_BACKFILL_PAGE: u32 = 1000;

impl Group {
    pub async fn change(&mut self, tx: &mut dyn GroupTx, mut request: ChangeRequest) -> Result<Vec<ChangeOutcome>> {
        let changes = std::mem::take(&mut request.changes);
        self.webhooks_of(tx, &request.account_id).await?;
        tx.savepoint().await?;
        let mut work = Work::new(&request);
        let done = match work.apply_all(tx, changes).await {
            Ok(()) => work.write(tx).await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            self.undo(tx).await;
            return Err(e);
        }
        tx.release_savepoint().await?;
        let mut outcomes = work.outcomes;
        for (slot, event) in work.events {
            let ingested = self.route_and_stage(&request.account_id, event, request.require_verification);
            if let Some(slot) = slot {
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
    databases: HashMap<String, Option<DatabaseFields>>,
    /// Collection → its database and fields.
    collections: HashMap<String, Option<(String, Schema)>>,
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
            databases: HashMap::new(),
            collections: HashMap::new(),
            profiles: HashMap::new(),
            subprofiles: HashMap::new(),
            keyed: HashMap::new(),
            dirty_profiles: HashSet::new(),
            dirty_subprofiles: HashSet::new(),
            events: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    async fn apply_all(&mut self, tx: &mut dyn GroupTx, changes: Vec<Change>) -> Result<()> {
        self.resolve_keys(tx, &changes).await?;
        for change in changes {
            let outcome = self.apply(tx, change).await?;
            self.outcomes.push(outcome);
        }
        Ok(())
    }

    async fn apply(&mut self, tx: &mut dyn GroupTx, change: Change) -> Result<ChangeOutcome> {
        Ok(match change {
            Change::Event(event) => {
                // Its deliveries are counted when it is staged, after the writes.
                let pending = Ingested {
                    event_id: event.id.clone(),
                    deliveries: 0,
                    skipped: Skipped::default(),
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
                let Some(database) = self.database(tx, &database_id).await? else {
                    return Ok(ChangeOutcome::NotFound);
                };
                self.create_profile(id, database_id, &database.fields, values, interests)
            }
            Change::EditProfile {
                id,
                edit,
                values,
                interests,
            } => match self.profile(tx, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(current) => self.edit_profile(tx, current, edit, values, interests).await?,
            },
            Change::DeleteProfile { id } => self.delete_profile_by_id(tx, &id, false).await?,
            Change::EraseProfile { id } => self.delete_profile_by_id(tx, &id, true).await?,
            Change::CreateSubprofile {
                id,
                profile_id,
                collection_id,
                values,
            } => {
                let Some(profile) = self.profile(tx, &profile_id).await? else {
                    return Ok(ChangeOutcome::NotFound);
                };
                let Some(schema) = self
                    .collection(tx, &collection_id)
                    .await?
                    .filter(|(database_id, _)| *database_id == profile.database_id)
                    .map(|(_, schema)| schema)
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
            Change::EditSubprofile { id, edit, values } => match self.subprofile(tx, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(mut subprofile) => {
                    let schema = self.collection_schema(tx, &subprofile.collection_id).await?;
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
            Change::DeleteSubprofile { id } => match self.subprofile(tx, &id).await? {
                None => ChangeOutcome::NotFound,
                Some(subprofile) => {
                    self.delete_subprofile(tx, subprofile, false).await?;
                    ChangeOutcome::Deleted
                }
            },
            Change::Upsert {
                database_id,
                key,
                values,
                interests,
            } => {
                let Some(database) = self.database(tx, &database_id).await? else {
                    return Ok(ChangeOutcome::NotFound);
                };
                let slot = (database_id.clone(), key.clone(), key_value(&values, &key));
                match self.keyed.get(&slot).cloned() {
                    Some(id) => match self.profile(tx, &id).await? {
                        Some(current) => self.edit_profile(tx, current, Edit::Merge, values, interests).await?,
                        None => ChangeOutcome::NotFound,
                    },
                    None => {
                        let id = ids::new_id(ids::PROFILE);
                        self.keyed.insert(slot, id.clone());
                        let interests = interests.unwrap_or_default();
                        self.create_profile(id, database_id, &database.fields, values, interests)
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
        tx: &mut dyn GroupTx,
        mut profile: Profile,
        edit: Edit,
        values: Values,
        interests: Option<Vec<String>>,
    ) -> Result<ChangeOutcome> {
        let schema = self.database_schema(tx, &profile.database_id).await?;
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

    async fn delete_profile_by_id(&mut self, tx: &mut dyn GroupTx, id: &str, erase: bool) -> Result<ChangeOutcome> {
        Ok(match self.profile(tx, id).await? {
            None => ChangeOutcome::NotFound,
            Some(current) => {
                self.delete_profile(tx, current, erase).await?;
                ChangeOutcome::Deleted
            }
        })
    }

    /// A profile's subprofiles go with it, each with a `delete` of its own. When
    /// erasing, the events carry the ids only: no field values, no interests.
    async fn delete_profile(&mut self, tx: &mut dyn GroupTx, mut profile: Profile, erase: bool) -> Result<()> {
        for stored in tx.subprofiles_of(self.account_id, &profile.id).await? {
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
            self.delete_subprofile(tx, subprofile, erase).await?;
        }
        let mut schema = self.database_schema(tx, &profile.database_id).await?;
        if erase {
            (schema, profile.state) = (Schema::default(), State::default());
        }
        profile.sequence += 1;
        self.fire_profile(ChangeKind::Delete, &profile, &schema, &Values::new(), &Values::new());
        self.mark_profile(profile.id, None);
        Ok(())
    }

    async fn delete_subprofile(&mut self, tx: &mut dyn GroupTx, mut subprofile: Subprofile, erase: bool) -> Result<()> {
        let mut schema = self.collection_schema(tx, &subprofile.collection_id).await?;
        if erase {
            (schema, subprofile.values) = (Schema::default(), Values::new());
        }
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
            ordering_key: None,
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

    async fn profile(&mut self, tx: &mut dyn GroupTx, id: &str) -> Result<Option<Profile>> {
        if let Some(known) = self.profiles.get(id) {
            return Ok(known.clone());
        }
        let profile = tx.profile(self.account_id, id).await?;
        self.profiles.insert(id.to_owned(), profile.clone());
        Ok(profile)
    }

    async fn subprofile(&mut self, tx: &mut dyn GroupTx, id: &str) -> Result<Option<Subprofile>> {
        if let Some(known) = self.subprofiles.get(id) {
            return Ok(known.clone());
        }
        let subprofile = tx.subprofile(self.account_id, id).await?;
        self.subprofiles.insert(id.to_owned(), subprofile.clone());
        Ok(subprofile)
    }

    async fn database(&mut self, tx: &mut dyn GroupTx, id: &str) -> Result<Option<DatabaseFields>> {
        if let Some(known) = self.databases.get(id) {
            return Ok(known.clone());
        }
        let database = tx.database_fields(self.account_id, id).await?;
        self.databases.insert(id.to_owned(), database.clone());
        Ok(database)
    }

    async fn collection(&mut self, tx: &mut dyn GroupTx, id: &str) -> Result<Option<(String, Schema)>> {
        if let Some(known) = self.collections.get(id) {
            return Ok(known.clone());
        }
        let collection = tx.collection_fields(self.account_id, id).await?;
        self.collections.insert(id.to_owned(), collection.clone());
        Ok(collection)
    }

    /// The fields of a database a stored row refers to (so it exists).
    async fn database_schema(&mut self, tx: &mut dyn GroupTx, id: &str) -> Result<Schema> {
        Ok(self.database(tx, id).await?.map(|d| d.fields).unwrap_or_default())
    }

    /// The fields of a collection a stored row refers to (so it exists).
    async fn collection_schema(&mut self, tx: &mut dyn GroupTx, id: &str) -> Result<Schema> {
        Ok(self.collection(tx, id).await?.map(|(_, s)| s).unwrap_or_default())
    }

    /// Finds the profiles import rows refer to by key, one query per database and key
    /// field, making the field a key field of its database first if it is not one yet.
    async fn resolve_keys(&mut self, tx: &mut dyn GroupTx, changes: &[Change]) -> Result<()> {
        let mut wanted: HashMap<(&str, &str), Vec<String>> = HashMap::new();
        for change in changes {
            if let Change::Upsert {
                database_id,
                key,
                values,
                ..
            } = change
                && values.get(key).is_some_and(|v| !v.is_null())
            {
                wanted
                    .entry((database_id, key))
                    .or_default()
                    .push(key_value(values, key));
            }
        }
        for ((database_id, key), values) in wanted {
            let Some(database) = self.database(tx, database_id).await? else {
                continue;
            };
            if !database.fields.0.iter().any(|def| def.name == key) {
                return Err(StoreError::Invalid(format!("{key:?} is not a field of the database")));
            }
            if !database.key_fields.iter().any(|k| k == key) {
                self.add_key_field(tx, database_id, database, key).await?;
            }
            for (value, profile) in tx.profiles_by_key(self.account_id, database_id, key, &values).await? {
                let slot = (database_id.to_owned(), key.to_owned(), value);
                // Two profiles may share a value (the API does not forbid it): the oldest wins.
                if let std::collections::hash_map::Entry::Vacant(entry) = self.keyed.entry(slot) {
                    entry.insert(profile.id.clone());
                    self.profiles.entry(profile.id.clone()).or_insert(Some(profile));
                }
            }
        }
        Ok(())
    }

    /// Makes `key` a key field of the database and indexes its profiles by it.
    async fn add_key_field(
        &mut self,
        tx: &mut dyn GroupTx,
        database_id: &str,
        mut database: DatabaseFields,
        key: &str,
    ) -> Result<()> {
        let mut after = String::new();
        loop {
            let page = tx
                .profiles_after(self.account_id, database_id, &after, KEY_BACKFILL_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            let keys: Vec<ProfileKeyRow> = page.iter().filter_map(|profile| key_row(profile, key)).collect();
            tx.replace_profile_keys(&[], &keys).await?;
        }
        database.key_fields.push(key.to_owned());
        tx.set_key_fields(self.account_id, database_id, &database.key_fields)
            .await?;
        self.databases.insert(database_id.to_owned(), Some(database));
        Ok(())
    }

    /// Writes every touched row: upserts in multi-row statements, then deletes, then the
    /// key rows of profiles in databases that have key fields.
    async fn write(&mut self, tx: &mut dyn GroupTx) -> Result<()> {
        let mut kept = Vec::new();
        let mut gone = Vec::new();
        for id in &self.dirty_profiles {
            match self.profiles.get(id) {
                Some(Some(profile)) => kept.push(profile),
                _ => gone.push(id.as_str()),
            }
        }
        let mut kept_subs = Vec::new();
        let mut gone_subs = Vec::new();
        for id in &self.dirty_subprofiles {
            match self.subprofiles.get(id) {
                Some(Some(subprofile)) => kept_subs.push(subprofile),
                _ => gone_subs.push(id.as_str()),
            }
        }
        if !kept.is_empty() {
            tx.save_profiles(&kept).await?;
        }
        if !kept_subs.is_empty() {
            tx.save_subprofiles(&kept_subs).await?;
        }
        if !gone_subs.is_empty() {
            tx.delete_subprofiles(self.account_id, &gone_subs).await?;
        }
        if !gone.is_empty() {
            tx.delete_profiles(self.account_id, &gone).await?;
        }
        let keyed_databases: HashMap<&str, &[String]> = self
            .databases
            .iter()
            .filter_map(|(id, d)| d.as_ref().map(|d| (id.as_str(), d.key_fields.as_slice())))
            .filter(|(_, keys)| !keys.is_empty())
            .collect();
        let rekeyed: Vec<&Profile> = kept
            .iter()
            .copied()
            .filter(|p| keyed_databases.contains_key(p.database_id.as_str()))
            .collect();
        if !rekeyed.is_empty() {
            let ids: Vec<&str> = rekeyed.iter().map(|p| p.id.as_str()).collect();
            let keys: Vec<ProfileKeyRow> = rekeyed
                .iter()
                .flat_map(|p| {
                    keyed_databases[p.database_id.as_str()]
                        .iter()
                        .filter_map(move |key| key_row(p, key))
                })
                .collect();
            tx.replace_profile_keys(&ids, &keys).await?;
        }
        Ok(())
    }
}

/// A key field's value as the key table holds it: JSON text, so `42` and `"42"` differ.
fn key_value(values: &Values, key: &str) -> String {
    values.get(key).map(ToString::to_string).unwrap_or_default()
}

fn key_row(profile: &Profile, key: &str) -> Option<ProfileKeyRow> {
    let value = profile.state.values.get(key).filter(|v| !v.is_null())?;
    Some(ProfileKeyRow {
        account_id: profile.account_id.clone(),
        database_id: profile.database_id.clone(),
        field: key.to_owned(),
        value: value.to_string(),
        profile_id: profile.id.clone(),
    })
}
