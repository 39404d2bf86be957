//! Profile data: databases and collections define typed fields; profiles (in a database)
//! and subprofiles (a profile's row in a collection) hold values for them. Every change
//! becomes a `create`, `update` or `delete` event whose body PAYLOADS.md defines.
//!
//! The rules here are pure: which values a schema accepts, what a change does to the
//! stored values, what the `previous` of an update is, and the body a receiver gets.
//! The store applies them inside the transaction that commits the change.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{FieldError, ValidationError};
use crate::event::suite_timestamp;
use crate::webhook::Source;

pub type Values = Map<String, Value>;

pub const MAX_FIELDS: usize = 200;
pub const MAX_NAME_LEN: usize = 64;
pub const MAX_TEXT_LEN: usize = 65_536;
pub const MAX_INTERESTS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Text,
    Integer,
    Float,
    Date,
    Email,
}

/// One field a database or collection defines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// The fields of a database or a collection, in the order they were defined; bodies
/// list `fields` in this order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Schema(pub Vec<FieldDef>);

/// Field names are safe as CEL identifiers, form keys and XML element names.
fn check_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_NAME_LEN
}

impl Schema {
    /// Checks the definitions themselves: names, duplicates, defaults of the right type.
    pub fn validate(&mut self, prefix: &str) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        if self.0.len() > MAX_FIELDS {
            errors.push(FieldError::new(prefix, format!("at most {MAX_FIELDS} fields")));
        }
        for (index, def) in self.0.iter_mut().enumerate() {
            let at = format!("{prefix}[{index}]");
            if !check_field_name(&def.name) {
                errors.push(FieldError::new(
                    format!("{at}.name"),
                    format!("1 to {MAX_NAME_LEN} letters, digits and '_', starting with a letter or '_'"),
                ));
            }
            if let Some(default) = &def.default {
                match def.field_type.coerce(&format!("{at}.default"), default) {
                    Ok(Value::Null) => def.default = None,
                    Ok(value) => def.default = Some(value),
                    Err(error) => errors.push(error),
                }
            }
        }
        for (index, def) in self.0.iter().enumerate() {
            if self.0[..index].iter().any(|earlier| earlier.name == def.name) {
                errors.push(FieldError::new(format!("{prefix}[{index}].name"), "defined twice"));
            }
        }
        ValidationError::check(errors)
    }

    pub fn get(&self, name: &str) -> Option<&FieldDef> {
        self.0.iter().find(|def| def.name == name)
    }

    /// Checks values given for a change and types them; an unknown field or a value of
    /// the wrong type is an error naming `<prefix>.<field>`. A `null` clears a value.
    pub fn check_values(&self, prefix: &str, values: &Values) -> Result<Values, ValidationError> {
        let mut errors = Vec::new();
        let mut typed = Map::with_capacity(values.len());
        for (name, value) in values {
            let Some(def) = self.get(name) else {
                errors.push(FieldError::new(
                    format!("{prefix}.{name}"),
                    "no such field in this database or collection",
                ));
                continue;
            };
            match def.field_type.coerce(&format!("{prefix}.{name}"), value) {
                Ok(value) => {
                    typed.insert(name.clone(), value);
                }
                Err(error) => errors.push(error),
            }
        }
        ValidationError::check(errors).map(|()| typed)
    }

    /// Every defined field in definition order, `null` where `stored` has no value: what
    /// a body's `fields` and a condition see.
    pub fn complete(&self, stored: &Values) -> Values {
        self.0
            .iter()
            .map(|def| (def.name.clone(), stored.get(&def.name).cloned().unwrap_or(Value::Null)))
            .collect()
    }

    /// The values a new profile starts with: each field's default, then what was given.
    pub fn with_defaults(&self, given: &Values) -> Values {
        let mut values = Map::new();
        for def in &self.0 {
            if let Some(value) = given.get(&def.name).or(def.default.as_ref()) {
                values.insert(def.name.clone(), value.clone());
            }
        }
        values.retain(|_, v| !v.is_null());
        values
    }
}

impl FieldType {
    /// The value as this type stores it. Strings are parsed for every type, so a CSV
    /// cell and a JSON value mean the same; an empty string clears a non-text field. A
    /// value of another type is an error naming `field`.
    pub fn coerce(self, field: &str, value: &Value) -> Result<Value, FieldError> {
        // The value is named, so a rejected import row shows what was in the cell.
        let fail = |expected: &str| FieldError::new(field, format!("{expected}, not {}", shown(value)));
        if value.is_null() {
            return Ok(Value::Null);
        }
        if let Value::String(s) = value
            && s.is_empty()
            && self != FieldType::Text
        {
            return Ok(Value::Null);
        }
        match (self, value) {
            (FieldType::Text, Value::String(s)) if s.len() <= MAX_TEXT_LEN => Ok(value.clone()),
            (FieldType::Text, Value::String(_)) => Err(fail(&format!("a text of at most {MAX_TEXT_LEN} bytes"))),
            (FieldType::Text, _) => Err(fail("a string")),
            (FieldType::Integer, Value::Number(n)) if n.is_i64() => Ok(value.clone()),
            (FieldType::Integer, Value::String(s)) => {
                s.trim().parse::<i64>().map(Value::from).map_err(|_| fail("an integer"))
            }
            (FieldType::Integer, _) => Err(fail("an integer")),
            (FieldType::Float, Value::Number(n)) => n.as_f64().map(Value::from).ok_or_else(|| fail("a number")),
            (FieldType::Float, Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from)
                .ok_or_else(|| fail("a number")),
            (FieldType::Float, _) => Err(fail("a number")),
            (FieldType::Date, Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .map_err(|_| fail("a date as YYYY-MM-DD")),
            (FieldType::Date, _) => Err(fail("a date as YYYY-MM-DD")),
            (FieldType::Email, Value::String(s)) if is_email(s.trim()) => Ok(Value::String(s.trim().to_owned())),
            (FieldType::Email, _) => Err(fail("an e-mail address")),
        }
    }
}

/// A value as an error message quotes it: JSON, cut to a readable length.
fn shown(value: &Value) -> String {
    const MAX: usize = 40;
    let text = value.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A plain check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Interests are short labels; duplicates are dropped, the order kept.
pub fn check_interests(field: &str, interests: &[String]) -> Result<Vec<String>, FieldError> {
    if interests.len() > MAX_INTERESTS {
        return Err(FieldError::new(field, format!("at most {MAX_INTERESTS} interests")));
    }
    let mut out: Vec<String> = Vec::with_capacity(interests.len());
    for (index, interest) in interests.iter().enumerate() {
        if interest.is_empty() || interest.len() > MAX_NAME_LEN {
            return Err(FieldError::new(
                format!("{field}[{index}]"),
                format!("1 to {MAX_NAME_LEN} bytes"),
            ));
        }
        if !out.contains(interest) {
            out.push(interest.clone());
        }
    }
    Ok(out)
}

/// What happens to a profile (or subprofile) when an unsubscribe is reported for a
/// message sent to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum UnsubscribeBehaviour {
    #[default]
    Nothing,
    Remove,
    Update {
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        fields: Values,
    },
}

impl UnsubscribeBehaviour {
    pub fn validate(&mut self, prefix: &str, schema: &Schema) -> Result<(), ValidationError> {
        if let UnsubscribeBehaviour::Update { fields } = self {
            if fields.is_empty() {
                return Err(ValidationError::single(
                    format!("{prefix}.fields"),
                    "name the field values an unsubscribe sets",
                ));
            }
            *fields = schema.check_values(&format!("{prefix}.fields"), fields)?;
        }
        Ok(())
    }
}

/// The stored state of a profile or subprofile (subprofiles have no interests).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    /// Only fields with a value; [`Schema::complete`] adds the rest as `null`.
    pub values: Values,
    pub interests: Vec<String>,
}

/// How a change treats the fields it does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// `PUT`: what is not given is cleared.
    Replace,
    /// `PATCH` and imports: what is not given is kept.
    Merge,
}

/// The result of applying a change to a stored state.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub state: State,
    /// The old values of the fields that changed (`null` where there was none).
    pub previous: Values,
    pub changed: bool,
}

/// Applies already-checked `values` (and `interests`, when given) to `current`.
pub fn apply(current: &State, edit: Edit, values: &Values, interests: Option<&[String]>) -> Applied {
    let mut next = match edit {
        Edit::Replace => Map::new(),
        Edit::Merge => current.values.clone(),
    };
    for (name, value) in values {
        if value.is_null() {
            next.remove(name);
        } else {
            next.insert(name.clone(), value.clone());
        }
    }
    let mut previous = Map::new();
    for name in current.values.keys().chain(next.keys()) {
        let (old, new) = (current.values.get(name), next.get(name));
        if old != new && !previous.contains_key(name) {
            previous.insert(name.clone(), old.cloned().unwrap_or(Value::Null));
        }
    }
    let interests = match (edit, interests) {
        (_, Some(given)) => given.to_vec(),
        (Edit::Replace, None) => Vec::new(),
        (Edit::Merge, None) => current.interests.clone(),
    };
    let changed = !previous.is_empty() || interests != current.interests;
    Applied {
        state: State {
            values: next,
            interests,
        },
        previous,
        changed,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }
}

/// Which record changed: a profile, or a subprofile (a profile's row in a collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Profile {
        profile_id: String,
        database_id: String,
    },
    Subprofile {
        subprofile_id: String,
        profile_id: String,
        database_id: String,
        collection_id: String,
    },
}

impl Subject {
    pub fn id(&self) -> &str {
        match self {
            Subject::Profile { profile_id, .. } => profile_id,
            Subject::Subprofile { subprofile_id, .. } => subprofile_id,
        }
    }

    pub fn profile_id(&self) -> &str {
        match self {
            Subject::Profile { profile_id, .. } | Subject::Subprofile { profile_id, .. } => profile_id,
        }
    }

    pub fn database_id(&self) -> &str {
        match self {
            Subject::Profile { database_id, .. } | Subject::Subprofile { database_id, .. } => database_id,
        }
    }

    pub fn collection_id(&self) -> Option<&str> {
        match self {
            Subject::Profile { .. } => None,
            Subject::Subprofile { collection_id, .. } => Some(collection_id),
        }
    }
}

/// A profile or subprofile change, as the receiver gets it.
#[derive(Debug, Clone)]
pub struct ChangeEvent<'a> {
    pub kind: ChangeKind,
    pub subject: &'a Subject,
    pub at: DateTime<Utc>,
    pub source: Source,
    pub sequence: u64,
    /// The values the change was made with (not in `delete`).
    pub parameters: &'a Values,
    /// Every defined field after the change (for `delete`, as it was).
    pub fields: &'a Values,
    /// The old values of the changed fields (`update` only).
    pub previous: &'a Values,
    /// Profiles only: subprofiles have none, so it is never written for them.
    pub interests: Option<&'a [String]>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

impl ChangeEvent<'_> {
    /// The canonical JSON body, fields in PAYLOADS.md's order.
    pub fn body(&self) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("id".into(), self.subject.id().into());
        body.insert("type".into(), self.kind.as_str().into());
        body.insert("timestamp".into(), suite_timestamp(self.at).into());
        body.insert("time".into(), self.at.timestamp().into());
        if let Subject::Subprofile { subprofile_id, .. } = self.subject {
            body.insert("subprofile".into(), subprofile_id.as_str().into());
        }
        body.insert("profile".into(), self.subject.profile_id().into());
        body.insert("database".into(), self.subject.database_id().into());
        if let Some(collection) = self.subject.collection_id() {
            body.insert("collection".into(), collection.into());
        }
        body.insert("sequence".into(), self.sequence.into());
        if self.kind != ChangeKind::Delete {
            body.insert("parameters".into(), Value::Object(self.parameters.clone()));
        }
        body.insert("fields".into(), Value::Object(self.fields.clone()));
        if self.kind != ChangeKind::Delete {
            if let (Some(interests), Subject::Profile { .. }) = (self.interests, self.subject) {
                body.insert("interests".into(), interests.into());
            }
            body.insert("created".into(), suite_timestamp(self.created).into());
            body.insert("modified".into(), suite_timestamp(self.modified).into());
        }
        body.insert("source".into(), self.source.as_str().into());
        if self.kind == ChangeKind::Update {
            body.insert("previous".into(), Value::Object(self.previous.clone()));
        }
        // A map of strings, numbers and JSON values always serialises.
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_of_the_wrong_type_is_named_in_the_message() {
        let error = FieldType::Integer.coerce("fields.age", &json!("ten")).unwrap_err();
        assert_eq!(error.message, r#"an integer, not "ten""#);
        let long = "x".repeat(100);
        let error = FieldType::Email.coerce("fields.email", &json!(long)).unwrap_err();
        assert_eq!(error.message, format!("an e-mail address, not \"{}…", "x".repeat(39)));
    }

    fn schema() -> Schema {
        let mut schema: Schema = serde_json::from_value(json!([
            {"name": "name", "type": "text"},
            {"name": "age", "type": "integer"},
            {"name": "ratio", "type": "float"},
            {"name": "born", "type": "date"},
            {"name": "email", "type": "email"},
            {"name": "city", "type": "text", "default": "Delft"},
        ]))
        .unwrap();
        schema.validate("fields").unwrap();
        schema
    }

    fn values(v: Value) -> Values {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn values_are_typed_and_strings_parsed() {
        let typed = schema()
            .check_values(
                "fields",
                &values(json!({"name": "Piet", "age": "31", "ratio": 0.5, "born": "1990-02-03", "email": " p@x.nl "})),
            )
            .unwrap();
        assert_eq!(
            Value::Object(typed),
            json!({"name": "Piet", "age": 31, "ratio": 0.5, "born": "1990-02-03", "email": "p@x.nl"})
        );
        let err = schema()
            .check_values(
                "fields",
                &values(json!({"age": "x", "born": "3 feb", "email": "nope", "shoe": 1, "name": 3})),
            )
            .unwrap_err();
        let named: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "fields.age",
                "fields.born",
                "fields.email",
                "fields.shoe",
                "fields.name"
            ]
        );
    }

    #[test]
    fn schema_rules() {
        let mut bad: Schema = serde_json::from_value(json!([
            {"name": "a b", "type": "text"},
            {"name": "n", "type": "integer", "default": "x"},
            {"name": "n", "type": "text"},
        ]))
        .unwrap();
        let err = bad.validate("fields").unwrap_err();
        let named: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["fields[0].name", "fields[1].default", "fields[2].name"]);
    }

    #[test]
    fn merge_keeps_replace_clears_and_previous_names_what_changed() {
        let current = State {
            values: values(json!({"name": "Piet", "age": 31})),
            interests: vec!["news".into()],
        };
        let merged = apply(&current, Edit::Merge, &values(json!({"age": 32})), None);
        assert!(merged.changed);
        assert_eq!(Value::Object(merged.state.values), json!({"name": "Piet", "age": 32}));
        assert_eq!(Value::Object(merged.previous), json!({"age": 31}));
        assert_eq!(merged.state.interests, ["news"]);

        let replaced = apply(&current, Edit::Replace, &values(json!({"age": 31})), None);
        assert_eq!(Value::Object(replaced.state.values), json!({"age": 31}));
        assert_eq!(Value::Object(replaced.previous), json!({"name": "Piet"}));
        assert!(replaced.state.interests.is_empty());

        let same = apply(
            &current,
            Edit::Merge,
            &values(json!({"name": "Piet"})),
            Some(&["news".into()]),
        );
        assert!(!same.changed);
        let cleared = apply(&current, Edit::Merge, &values(json!({"name": null})), None);
        assert_eq!(Value::Object(cleared.previous), json!({"name": "Piet"}));
    }

    #[test]
    fn defaults_and_completion() {
        let schema = schema();
        let start = schema.with_defaults(&values(json!({"name": "Piet"})));
        assert_eq!(Value::Object(start.clone()), json!({"name": "Piet", "city": "Delft"}));
        assert_eq!(
            Value::Object(schema.complete(&start)),
            json!({"name": "Piet", "age": null, "ratio": null, "born": null, "email": null, "city": "Delft"})
        );
    }

    #[test]
    fn unsubscribe_behaviour_shape() {
        let mut update: UnsubscribeBehaviour =
            serde_json::from_value(json!({"action": "update", "fields": {"age": "1"}})).unwrap();
        update.validate("unsubscribe", &schema()).unwrap();
        assert_eq!(
            update,
            UnsubscribeBehaviour::Update {
                fields: values(json!({"age": 1}))
            }
        );
        let mut unknown: UnsubscribeBehaviour =
            serde_json::from_value(json!({"action": "update", "fields": {"shoe": 1}})).unwrap();
        assert!(unknown.validate("unsubscribe", &schema()).is_err());
        assert!(serde_json::from_value::<UnsubscribeBehaviour>(json!({"action": "explode"})).is_err());
    }
}
