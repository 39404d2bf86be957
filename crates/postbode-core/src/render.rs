//! Turning an event's canonical JSON body into the bytes a webhook's format asks for.
//! The canonical body is stored once per event; rendering happens per call, so a
//! fan-out to webhooks with different formats stores nothing twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Form,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Form => "application/x-www-form-urlencoded",
            Format::Xml => "application/xml",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Form => "form",
            Format::Xml => "xml",
        }
    }

    /// Formats whose rendering is built; the others are refused when a webhook is saved.
    pub fn is_available(self) -> bool {
        matches!(self, Format::Json | Format::Form)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the stored event body is not valid JSON: {0}")]
    Body(#[from] serde_json::Error),
    #[error("the {0} format is not available yet")]
    Unavailable(&'static str),
}

/// Renders a canonical JSON body in `format`.
pub fn render(format: Format, canonical_json: &[u8]) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(canonical_json.to_vec()),
        Format::Form => {
            let value: Value = serde_json::from_slice(canonical_json)?;
            Ok(form_encode(&value).into_bytes())
        }
        Format::Xml => Err(RenderError::Unavailable("xml")),
    }
}

/// PHP bracket style (`fields[name]=Piet&tags[]=spring`), fields in the body's order: what PHP's `parse_str`
/// decodes equals the JSON shape with scalars as strings. Lists of scalars use `[]`;
/// lists of objects need an index to keep each object's fields together. Nulls are
/// left out; booleans are `1`/`0`.
pub fn form_encode(body: &Value) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if let Value::Object(map) = body {
        for (key, value) in map {
            append_form(&mut out, key.clone(), value);
        }
    }
    out.finish()
}

fn append_form(out: &mut url::form_urlencoded::Serializer<'_, String>, name: String, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            out.append_pair(&name, if *b { "1" } else { "0" });
        }
        Value::Number(n) => {
            out.append_pair(&name, &n.to_string());
        }
        Value::String(s) => {
            out.append_pair(&name, s);
        }
        Value::Array(items) => {
            let scalars = items.iter().all(|item| !item.is_object() && !item.is_array());
            for (index, item) in items.iter().enumerate() {
                let child = if scalars {
                    format!("{name}[]")
                } else {
                    format!("{name}[{index}]")
                };
                append_form(out, child, item);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                append_form(out, format!("{name}[{key}]"), item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn form_uses_php_brackets() {
        let body = json!({
            "type": "open",
            "fields": {"name": "Piet", "age": 31, "vip": true, "empty": null},
            "tags": ["spring", "sale"],
            "rows": [{"a": 1}, {"a": 2}],
        });
        let encoded = form_encode(&body);
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(encoded.as_bytes()).into_owned().collect();
        let expect = [
            ("type", "open"),
            ("fields[name]", "Piet"),
            ("fields[age]", "31"),
            ("fields[vip]", "1"),
            ("tags[]", "spring"),
            ("tags[]", "sale"),
            ("rows[0][a]", "1"),
            ("rows[1][a]", "2"),
        ];
        let expect: Vec<(String, String)> = expect.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(pairs, expect);
    }

    #[test]
    fn json_is_passed_through_and_xml_is_not_built() {
        assert_eq!(render(Format::Json, b"{\"a\":1}").unwrap(), b"{\"a\":1}");
        assert!(matches!(render(Format::Xml, b"{}"), Err(RenderError::Unavailable(_))));
    }
}
