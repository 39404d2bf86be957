//! Decoding request input strictly, and saying what is wrong with it in plain words:
//! every bad field by its full path (`events[1].type`, `rate_limit.per_second`), never
//! the parser's own vocabulary (token lists, "unknown variant", Rust type names).
//!
//! A JSON body is read in two steps: first into a JSON value, which finds syntax errors
//! (400) and keys given twice at any depth (serde would silently keep the last one);
//! then into the request type, which finds the fields of a wrong type or unknown. To
//! report every such field rather than the first, a bad value is replaced by a
//! harmless one of the expected type and the decoding tried again.

use postbode_core::{FieldError, ValidationError};
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_path_to_error::{Path, Segment};
use std::cell::RefCell;
use std::fmt;

use crate::problem::ApiError;

/// More bad fields than this in one body are not worth listing one by one.
const MAX_REPORTED: usize = 20;

/// Decodes a JSON body: syntax errors are 400; keys given twice, and fields that are
/// unknown or of the wrong type, are 422 naming each by its path.
pub fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    decode_value(&parse_json(body)?)
}

/// Parses a JSON body into a value; a key given twice anywhere is a 422 naming it.
pub fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    match parse_strict(body) {
        Ok(value) => Ok(value),
        Err(Malformed::Syntax(e)) => Err(not_json(&e)),
        Err(Malformed::Duplicates(duplicates)) => Err(ApiError::Invalid(duplicates)),
    }
}

/// Why [`parse_strict`] refused a document.
pub enum Malformed {
    Syntax(serde_json::Error),
    /// Keys given twice, each named by its path.
    Duplicates(ValidationError),
}

/// Parses one JSON document, refusing a key given twice anywhere (serde_json would keep
/// the last value silently).
pub fn parse_strict(body: &[u8]) -> Result<Value, Malformed> {
    let duplicates = RefCell::new(Vec::new());
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = StrictValue {
        path: String::new(),
        duplicates: &duplicates,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(Malformed::Syntax)?;
    let duplicates = duplicates.into_inner();
    if duplicates.is_empty() {
        return Ok(value);
    }
    Err(Malformed::Duplicates(ValidationError {
        errors: duplicates
            .into_iter()
            .map(|path| FieldError::new(path, "given more than once"))
            .collect(),
    }))
}

/// Decodes a parsed body into `T`, listing every bad field.
pub fn decode_value<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut patched: Option<Value> = None;
    while errors.len() < MAX_REPORTED {
        let error = match serde_path_to_error::deserialize::<_, T>(patched.as_ref().unwrap_or(value)) {
            Ok(decoded) if errors.is_empty() => return Ok(decoded),
            Ok(_) => break,
            Err(error) => error,
        };
        let explained = explain(error.path(), &error.inner().to_string());
        errors.push(explained.error);
        let Some(repair) = explained.repair else { break };
        if !repair_at(patched.get_or_insert_with(|| value.clone()), error.path(), repair) {
            break;
        }
    }
    Err(ApiError::Invalid(ValidationError { errors }))
}

/// A query string, decoded strictly; a bad parameter is a 422 naming it.
pub fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let mut explained = explain(error.path(), &error.inner().to_string()).error;
        if explained.field == "body" {
            explained.field = "query".to_owned();
        }
        ApiError::Invalid(explained.into())
    })
}

/// A 400 for a body that is not JSON, saying where without the parser's token lists.
fn not_json(error: &serde_json::Error) -> ApiError {
    let at = format!("line {}, column {}", error.line(), error.column());
    let detail = match error.classify() {
        serde_json::error::Category::Eof => format!("the body is not valid JSON: it ends too early ({at})"),
        _ => format!("the body is not valid JSON: something is wrong at {at}"),
    };
    ApiError::BadRequest {
        detail,
        errors: Vec::new(),
    }
}

/// Builds a JSON value like `serde_json::Value` does, noting every key given twice.
struct StrictValue<'a> {
    path: String,
    duplicates: &'a RefCell<Vec<String>>,
}

impl StrictValue<'_> {
    fn child(&self, segment: &str) -> Self {
        Self {
            path: join(&self.path, segment),
            duplicates: self.duplicates,
        }
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() || segment.starts_with('[') {
        format!("{path}{segment}")
    } else {
        format!("{path}.{segment}")
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(&format!("[{}]", items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let child = self.child(&key);
            if object.contains_key(&key) {
                self.duplicates.borrow_mut().push(child.path.clone());
            }
            let value = map.next_value_seed(child)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A problem found by serde, in plain words, and how to get past it to find the next.
struct Explained {
    error: FieldError,
    repair: Option<Repair>,
}

enum Repair {
    /// An unknown field: leave it out.
    Remove,
    /// A value of the wrong type: put one of the expected type in its place.
    Replace(Value),
}

/// Translates one of serde's messages (the shapes of `serde::de::Error`'s provided
/// methods) for the field at `path`.
fn explain(path: &Path, message: &str) -> Explained {
    let here = path.to_string();
    let here = if here == "." { String::new() } else { here };
    let field = |name: &str| {
        let path = if name.is_empty() {
            here.clone()
        } else {
            join(&here, name)
        };
        if path.is_empty() { "body".to_owned() } else { path }
    };
    let at_path = || field("");
    let explained = |field: String, message: String, repair: Option<Repair>| Explained {
        error: FieldError::new(field, message),
        repair,
    };
    if let Some(name) = between(message, "missing field `", "`") {
        return explained(field(name), "required".into(), None);
    }
    if let Some(name) = between(message, "duplicate field `", "`") {
        return explained(field(name), "given more than once".into(), None);
    }
    if message.starts_with("unknown field `") {
        // The path already ends with the unknown key.
        return explained(at_path(), "not a known field".into(), Some(Repair::Remove));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let allowed: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let repair = allowed
            .first()
            .map(|first| Repair::Replace(Value::String((*first).to_owned())));
        let listed = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = if allowed.is_empty() {
            "not an allowed value".to_owned()
        } else {
            format!("one of {listed}")
        };
        return explained(at_path(), text, repair);
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            let (wanted, placeholder) = expectation(expected);
            let text = if prefix == "invalid type: " {
                format!("expected {wanted}, got {}", plain_unexpected(got))
            } else {
                format!("expected {wanted}")
            };
            return explained(at_path(), text, placeholder.map(Repair::Replace));
        }
    }
    if let Some(expected) = message
        .strip_prefix("invalid length ")
        .and_then(|r| r.split_once(", expected "))
    {
        return explained(at_path(), format!("expected {}", expectation(expected.1).0), None);
    }
    // Messages of a value's own parser (dates, durations, numbers in a query string).
    let (wanted, placeholder) = match message {
        m if CHRONO_MESSAGES.contains(&m) => expectation("a date and time"),
        "invalid digit found in string"
        | "cannot parse integer from empty string"
        | "number too large to fit in target type"
        | "number too small to fit in target type" => expectation("u64"),
        "invalid float literal" => expectation("f64"),
        "provided string was not `true` or `false`" => expectation("a boolean"),
        other => return explained(at_path(), other.to_owned(), None),
    };
    explained(
        at_path(),
        format!("expected {wanted}"),
        placeholder.map(Repair::Replace),
    )
}

/// What chrono's parser says about a date and time that is not one.
const CHRONO_MESSAGES: &[&str] = &[
    "input is out of range",
    "no possible date and time matching input",
    "input is not enough for unique date and time",
    "input contains invalid characters",
    "premature end of input",
    "trailing input",
    "bad or unsupported format string",
];

fn between<'a>(text: &'a str, prefix: &str, end: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(prefix)?;
    Some(&rest[..rest.find(end)?])
}

/// What serde's "expected ..." means, in plain words, and a value that satisfies it.
fn expectation(expected: &str) -> (String, Option<Value>) {
    let whole = |max: u64| (format!("a whole number from 0 to {max}"), Some(Value::from(0)));
    match expected {
        "a string" | "string" => ("text".into(), Some(Value::String(String::new()))),
        "u8" => whole(u8::MAX.into()),
        "u16" => whole(u16::MAX.into()),
        "u32" => whole(u32::MAX.into()),
        "u64" | "usize" => whole(u64::MAX),
        "i8" | "i16" | "i32" | "i64" | "isize" => ("a whole number".into(), Some(Value::from(0))),
        "f32" | "f64" => ("a number".into(), Some(Value::from(0))),
        "a boolean" => ("true or false".into(), Some(Value::Bool(false))),
        "a sequence" => ("a list".into(), Some(Value::Array(Vec::new()))),
        "a map" => ("an object".into(), Some(Value::Object(Map::new()))),
        "string or map" | "variant identifier" => ("one of the names this field allows, as text".into(), None),
        e if e.starts_with("struct ") => ("an object".into(), Some(Value::Object(Map::new()))),
        e if e.contains("date and time") || e.contains("RFC 3339") => (
            "a date and time in RFC 3339 form, like 2026-01-31T12:00:00Z".into(),
            Some(Value::String("1970-01-01T00:00:00Z".into())),
        ),
        e if e.starts_with("a ") || e.starts_with("an ") => (e.to_owned(), None),
        _ => ("another kind of value".into(), None),
    }
}

/// serde's name for the value that was found (`Unexpected`), in plain words.
fn plain_unexpected(got: &str) -> &'static str {
    match got.split_whitespace().next().unwrap_or("") {
        "boolean" => "true or false",
        "integer" | "floating" => "a number",
        "string" | "character" => "text",
        "sequence" => "a list",
        "map" => "an object",
        "null" | "unit" | "Option" => "null",
        _ => "another kind of value",
    }
}

/// Applies `repair` at `path` in `value`; false when the path cannot be followed.
fn repair_at(value: &mut Value, path: &Path, repair: Repair) -> bool {
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut current = value;
    for segment in parents {
        let next = match (segment, current) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else { return false };
        current = next;
    }
    match (last, current, repair) {
        (Segment::Map { key }, Value::Object(map), Repair::Remove) => map.shift_remove(key).is_some(),
        (Segment::Map { key }, Value::Object(map), Repair::Replace(with)) => map.insert(key.clone(), with).is_some(),
        (Segment::Seq { index }, Value::Array(items), Repair::Replace(with)) if *index < items.len() => {
            items[*index] = with;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Limit {
        per_second: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Shape {
        Json,
        Form,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Request {
        name: String,
        count: Option<u32>,
        shape: Option<Shape>,
        limit: Option<Limit>,
        items: Option<Vec<Item>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        #[serde(rename = "type")]
        kind: String,
    }

    fn problems(body: &str) -> Vec<(String, String)> {
        match decode_json::<Request>(body.as_bytes()) {
            Err(ApiError::Invalid(v)) => v.errors.into_iter().map(|e| (e.field, e.message)).collect(),
            Err(other) => vec![("?".into(), other.to_string())],
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        assert_eq!(
            problems(r#"{"name": "a", "limit": {}}"#),
            [("limit.per_second".into(), "required".into())]
        );
        assert_eq!(
            problems(r#"{"name": "a", "items": [{"type": "x"}, {}]}"#),
            [("items[1].type".into(), "required".into())]
        );
        assert_eq!(problems(r#"{}"#), [("name".into(), "required".into())]);
    }

    #[test]
    fn keys_given_twice_are_named_at_any_depth() {
        assert_eq!(
            problems(r#"{"name": "a", "name": "b", "limit": {"per_second": 1, "per_second": 2}}"#),
            [
                ("name".into(), "given more than once".into()),
                ("limit.per_second".into(), "given more than once".into())
            ]
        );
        assert_eq!(
            problems(r#"{"name": "a", "items": [{"type": "x", "type": "y"}]}"#),
            [("items[0].type".into(), "given more than once".into())]
        );
    }

    #[test]
    fn every_bad_field_is_listed_in_plain_words() {
        let found = problems(
            r#"{"name": 7, "count": "many", "shape": "yaml", "colour": "red", "limit": {"per_second": -1},
                "items": [{"type": true}]}"#,
        );
        assert_eq!(
            found,
            [
                ("name".to_owned(), "expected text, got a number".to_owned()),
                (
                    "count".into(),
                    "expected a whole number from 0 to 4294967295, got text".into()
                ),
                ("shape".into(), "one of \"json\", \"form\"".into()),
                ("colour".into(), "not a known field".into()),
                (
                    "limit.per_second".into(),
                    "expected a whole number from 0 to 4294967295".into()
                ),
                ("items[0].type".into(), "expected text, got true or false".into()),
            ]
        );
        for (_, message) in &found {
            assert!(
                !message.contains('`') && !message.contains("variant") && !message.contains("u32"),
                "{message}"
            );
        }
    }

    #[test]
    fn syntax_errors_say_where_without_token_lists() {
        let Err(ApiError::BadRequest { detail, .. }) = decode_json::<Request>(br#"{"name": "a" "count": 1}"#) else {
            panic!("a syntax error is a 400");
        };
        assert_eq!(
            detail,
            "the body is not valid JSON: something is wrong at line 1, column 14"
        );
        let Err(ApiError::BadRequest { detail, .. }) = decode_json::<Request>(br#"{"name": "#) else {
            panic!("a syntax error is a 400");
        };
        assert!(detail.contains("ends too early"), "{detail}");
        assert!(matches!(
            decode_json::<Request>(br#"{"name": "a"} x"#),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn a_good_body_decodes() {
        let value = json!({"name": "a", "count": 3, "shape": "form", "items": [{"type": "x"}]});
        let request: Request = decode_value(&value).unwrap();
        assert_eq!(request.count, Some(3));
    }
}
