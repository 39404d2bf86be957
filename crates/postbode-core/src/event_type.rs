//! The event-type catalogue's rules: what a type definition may hold, the suite's own
//! types (read only, with what their bodies hold), and checking an event's `data`
//! against its type's JSON Schema (2020-12), each violation named by its path
//! (`data.order.total`, `events[3].data.order.total`).

use serde_json::{Value, json};

use crate::error::{FieldError, ValidationError};
use crate::event::{MAIL_TYPES, PROFILE_TYPES, check_custom_type};

/// A description is a sentence or a paragraph, not a manual.
pub const MAX_DESCRIPTION_LEN: usize = 1000;
/// A schema or example is stored with the type and kept in every node's memory.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// An account's definition of a custom type, as the API takes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Definition {
    pub description: Option<String>,
    /// JSON Schema (2020-12) for the events' `data`.
    pub schema: Option<Value>,
    /// An example `data`, valid under `schema`.
    pub example: Option<Value>,
}

/// Checks a definition of the custom type `name` (`name_field` names it in errors):
/// every refusal at once.
pub fn check_definition(name_field: &str, name: &str, definition: &Definition) -> Result<(), ValidationError> {
    let mut errors = Vec::new();
    if let Err(e) = check_custom_type(name_field, name) {
        errors.push(e);
    }
    if definition
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        errors.push(FieldError::new(
            "description",
            format!("at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    for (field, document) in [("schema", &definition.schema), ("example", &definition.example)] {
        if document
            .as_ref()
            .is_some_and(|d| d.to_string().len() > MAX_DOCUMENT_BYTES)
        {
            errors.push(FieldError::new(field, format!("at most {MAX_DOCUMENT_BYTES} bytes")));
        }
    }
    if errors.is_empty()
        && let Some(schema) = &definition.schema
    {
        match DataSchema::compile(schema) {
            Err(message) => errors.push(FieldError::new("schema", message)),
            Ok(compiled) => {
                if let Some(example) = &definition.example {
                    errors.extend(compiled.check("example", example));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { errors })
    }
}

/// A compiled JSON Schema for an event type's `data`.
pub struct DataSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl std::fmt::Debug for DataSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataSchema")
    }
}

/// Refuses every `$ref` outside the schema itself: a schema is the account's input, and
/// the service reads no file and calls no URL for it.
struct NoLoader;

impl boon::UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("{url}: a schema may refer only to itself ($ref \"#/...\")").into())
    }
}

impl DataSchema {
    /// Compiles `schema` as JSON Schema 2020-12 (unless it names another draft).
    pub fn compile(schema: &Value) -> Result<DataSchema, String> {
        const LOCATION: &str = "urn:postbode:event-type";
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler.use_loader(Box::new(NoLoader));
        let mut schemas = boon::Schemas::new();
        let described = |e: boon::CompileError| match e {
            boon::CompileError::LoadUrlError { url, .. } => {
                format!("a $ref may point only inside the schema (\"#/...\"), not to {url}")
            }
            e => format!("not a valid JSON Schema (2020-12): {e}"),
        };
        compiler.add_resource(LOCATION, schema.clone()).map_err(described)?;
        let index = compiler.compile(LOCATION, &mut schemas).map_err(described)?;
        Ok(DataSchema { schemas, index })
    }

    /// Every violation of `value`, each named by its path under `field` (`data`,
    /// `events[3].data`).
    pub fn check(&self, field: &str, value: &Value) -> Vec<FieldError> {
        let Err(error) = self.schemas.validate(value, self.index) else {
            return Vec::new();
        };
        let mut leaves = Vec::new();
        collect_leaves(&error, &mut leaves);
        leaves
            .into_iter()
            .map(|e| FieldError::new(path(field, &e.instance_location), e.kind.to_string()))
            .collect()
    }
}

fn collect_leaves<'a, 's, 'v>(
    error: &'a boon::ValidationError<'s, 'v>,
    into: &mut Vec<&'a boon::ValidationError<'s, 'v>>,
) {
    if error.causes.is_empty() {
        into.push(error);
    } else {
        for cause in &error.causes {
            collect_leaves(cause, into);
        }
    }
}

/// `data` + `/order/items/0` → `data.order.items[0]`.
fn path(field: &str, location: &boon::InstanceLocation<'_>) -> String {
    let mut path = field.to_owned();
    for token in &location.tokens {
        match token {
            boon::InstanceToken::Prop(name) => {
                path.push('.');
                path.push_str(name);
            }
            boon::InstanceToken::Item(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

/// One of the suite's own types: where it comes from and what its body holds.
pub struct Builtin {
    pub name: &'static str,
    pub description: &'static str,
    /// The body's fields after `id`, `type`, `timestamp` and `time`, in order
    /// (docs/payloads.md).
    pub fields: &'static [&'static str],
}

/// The enrichment every mail event carries after its own fields.
const MAIL_ENRICHMENT: [&str; 8] = [
    "recipient",
    "profile",
    "subprofile",
    "database",
    "collection",
    "mailing",
    "fields",
    "tags",
];

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "open",
        description: "A recipient opened a message (its tracking pixel was fetched).",
        fields: &["ip", "useragent", "referer"],
    },
    Builtin {
        name: "click",
        description: "A recipient followed a link of a message.",
        fields: &["ip", "original", "useragent", "referer"],
    },
    Builtin {
        name: "delivery",
        description: "A message was delivered: the receiving server's reply.",
        fields: &["code", "extended", "description"],
    },
    Builtin {
        name: "bounce",
        description: "A message bounced: the bounce message as it came back.",
        fields: &["envelope", "mime"],
    },
    Builtin {
        name: "failure",
        description: "A message could not be delivered: where it failed and why.",
        fields: &["action", "state", "code", "extended", "description"],
    },
    Builtin {
        name: "abuse",
        description: "A recipient reported a message as spam.",
        fields: &["emailfrom", "mime"],
    },
    Builtin {
        name: "unsubscribe",
        description: "A recipient unsubscribed through a message.",
        fields: &[],
    },
    Builtin {
        name: "create",
        description: "A profile or subprofile was created.",
        fields: &[
            "subprofile",
            "profile",
            "database",
            "collection",
            "sequence",
            "parameters",
            "fields",
            "interests",
            "created",
            "modified",
            "source",
        ],
    },
    Builtin {
        name: "update",
        description: "A profile or subprofile was changed; `previous` holds the old values of what changed.",
        fields: &[
            "subprofile",
            "profile",
            "database",
            "collection",
            "sequence",
            "parameters",
            "fields",
            "interests",
            "created",
            "modified",
            "source",
            "previous",
        ],
    },
    Builtin {
        name: "delete",
        description: "A profile or subprofile was deleted; `fields` holds its values as they were.",
        fields: &[
            "subprofile",
            "profile",
            "database",
            "collection",
            "sequence",
            "fields",
            "source",
        ],
    },
];

impl Builtin {
    pub fn find(name: &str) -> Option<&'static Builtin> {
        BUILTINS.iter().find(|b| b.name == name)
    }

    fn is_mail(&self) -> bool {
        MAIL_TYPES.contains(&self.name)
    }

    /// Every field of the body, in order.
    pub fn body_fields(&self) -> Vec<&'static str> {
        let mut fields = vec!["id", "type", "timestamp", "time"];
        fields.extend_from_slice(self.fields);
        if self.is_mail() {
            fields.extend_from_slice(&MAIL_ENRICHMENT);
        }
        fields
    }

    /// An example body, as a receiver of this type gets it (a profile change of a
    /// profile, not a subprofile).
    pub fn example(&self) -> Value {
        let profile_change = PROFILE_TYPES.contains(&self.name);
        let mut body = serde_json::Map::new();
        for field in self.body_fields() {
            if profile_change && ["subprofile", "collection"].contains(&field) {
                continue;
            }
            body.insert(field.to_owned(), self.example_value(field));
        }
        Value::Object(body)
    }

    fn example_value(&self, field: &str) -> Value {
        let failed = self.name == "failure";
        match field {
            "id" if self.is_mail() => json!("msg_01jd7v3k2m9x4q8r6t5w0y1z2a"),
            "id" | "profile" => json!("prf_01jd7v3k2m9x4q8r6t5w0y1z2b"),
            "type" => json!(self.name),
            "timestamp" => json!("2026-11-23 09:05:07"),
            "time" => json!(1_795_424_707),
            "ip" => json!("192.0.2.7"),
            "useragent" => json!("Mail/1"),
            "referer" | "subprofile" | "collection" => Value::Null,
            "original" => json!("https://example.com/spring?utm_source=mail"),
            "code" => json!(if failed { 550 } else { 250 }),
            "extended" => json!(if failed { "5.1.1" } else { "2.0.0" }),
            "description" => json!(if failed { "User unknown" } else { "OK" }),
            "envelope" => json!("bounces@shop.example"),
            "mime" => {
                json!("From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered\r\n\r\n550 5.1.1 no such user\r\n")
            }
            "action" => json!("failed"),
            "state" => json!("rcpt"),
            "emailfrom" => json!("piet@example.com"),
            "recipient" => json!("piet@example.com"),
            "database" => json!("db_01jd7v3k2m9x4q8r6t5w0y1z2c"),
            "mailing" => json!("spring-2026"),
            "fields" => json!({"email": "piet@example.com", "name": "Piet", "age": 32}),
            "tags" => json!(["spring"]),
            "sequence" => json!(if self.name == "create" { 1 } else { 2 }),
            "parameters" => json!({"age": 32}),
            "interests" => json!(["news"]),
            "created" => json!("2026-11-20 10:00:00"),
            "modified" => json!("2026-11-23 09:05:07"),
            "source" => json!("api"),
            "previous" => json!({"age": 31}),
            _ => Value::Null,
        }
    }

    /// The JSON Schema of the whole body: which fields it has and the envelope's types.
    /// Profile events leave out the subprofile fields for a profile, so only the fields
    /// every body of the type has are required.
    pub fn schema(&self) -> Value {
        let mut properties = serde_json::Map::new();
        for field in self.body_fields() {
            let schema = match field {
                "id" | "timestamp" => json!({"type": "string"}),
                "type" => json!({"const": self.name}),
                "time" | "sequence" => json!({"type": "integer"}),
                _ => json!({}),
            };
            properties.insert(field.to_owned(), schema);
        }
        let optional: &[&str] = if PROFILE_TYPES.contains(&self.name) {
            &["subprofile", "collection", "interests"]
        } else {
            &[]
        };
        let required: Vec<&str> = self
            .body_fields()
            .into_iter()
            .filter(|f| !optional.contains(f))
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": required,
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order_schema() -> Value {
        json!({
            "type": "object",
            "required": ["order"],
            "properties": {"order": {
                "type": "object",
                "required": ["total"],
                "properties": {"total": {"type": "number"}, "items": {"type": "array", "items": {"type": "string"}}}
            }}
        })
    }

    #[test]
    fn a_violation_is_named_by_its_path() {
        let schema = DataSchema::compile(&order_schema()).unwrap();
        assert!(schema.check("data", &json!({"order": {"total": 19.95}})).is_empty());
        let errors = schema.check(
            "events[3].data",
            &json!({"order": {"total": "19.95", "items": ["a", 2]}}),
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"events[3].data.order.total"), "{errors:?}");
        assert!(fields.contains(&"events[3].data.order.items[1]"), "{errors:?}");
        let missing = schema.check("data", &json!({}));
        assert_eq!(missing[0].field, "data", "{missing:?}");
        assert!(missing[0].message.contains("order"), "{missing:?}");
    }

    #[test]
    fn a_definition_is_refused_with_every_reason_at_once() {
        let bad = Definition {
            description: Some("x".repeat(MAX_DESCRIPTION_LEN + 1)),
            schema: None,
            example: None,
        };
        let refused = check_definition("name", "open", &bad).unwrap_err();
        let fields: Vec<&str> = refused.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "description"]);

        let not_a_schema = Definition {
            schema: Some(json!({"type": "no-such-type"})),
            ..Definition::default()
        };
        let refused = check_definition("name", "order.paid", &not_a_schema).unwrap_err();
        assert_eq!(refused.errors[0].field, "schema");

        let wrong_example = Definition {
            schema: Some(order_schema()),
            example: Some(json!({"order": {"total": "a lot"}})),
            ..Definition::default()
        };
        let refused = check_definition("name", "order.paid", &wrong_example).unwrap_err();
        assert_eq!(refused.errors[0].field, "example.order.total");
    }

    #[test]
    fn a_schema_reads_no_file_and_calls_no_url() {
        for outside in ["file:///etc/passwd", "http://127.0.0.1:9/schema.json"] {
            assert!(DataSchema::compile(&json!({"$ref": outside})).is_err(), "{outside}");
        }
        let inside = json!({"$defs": {"n": {"type": "number"}}, "properties": {"a": {"$ref": "#/$defs/n"}}});
        assert!(
            DataSchema::compile(&inside)
                .unwrap()
                .check("data", &json!({"a": "x"}))
                .len()
                == 1
        );
    }

    #[test]
    fn each_builtin_schema_compiles_and_names_its_type() {
        assert_eq!(BUILTINS.len(), MAIL_TYPES.len() + PROFILE_TYPES.len());
        for builtin in BUILTINS {
            let schema = DataSchema::compile(&builtin.schema()).unwrap();
            let mut body = serde_json::Map::new();
            for field in builtin.body_fields() {
                body.insert(field.to_owned(), json!(null));
            }
            body.insert("id".into(), json!("x"));
            body.insert("type".into(), json!(builtin.name));
            body.insert("timestamp".into(), json!("2026-11-23 09:05:07"));
            body.insert("time".into(), json!(1795424707));
            if body.contains_key("sequence") {
                body.insert("sequence".into(), json!(1));
            }
            assert!(
                schema.check("body", &Value::Object(body.clone())).is_empty(),
                "{}",
                builtin.name
            );
            let example = builtin.example();
            assert!(
                schema.check("example", &example).is_empty(),
                "{}: {example}",
                builtin.name
            );
            body.insert("type".into(), json!("other"));
            assert!(
                !schema.check("body", &Value::Object(body)).is_empty(),
                "{}",
                builtin.name
            );
        }
    }
}
