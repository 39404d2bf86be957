//! Turning an event's canonical JSON body into the bytes a webhook's format asks for.
//! The canonical body is stored once per event; rendering happens per call, so a
//! fan-out to webhooks with different formats stores nothing twice.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the stored event body is not valid JSON: {0}")]
    Body(#[from] serde_json::Error),
}

/// Renders a canonical JSON body in `format`.
pub fn render(format: Format, canonical_json: &[u8]) -> Result<Vec<u8>, RenderError> {
    match format {
        Format::Json => Ok(canonical_json.to_vec()),
        Format::Form => {
            let value: Value = serde_json::from_slice(canonical_json)?;
            Ok(form_encode(&value).into_bytes())
        }
        Format::Xml => {
            let value: Value = serde_json::from_slice(canonical_json)?;
            Ok(xml_encode(&value).into_bytes())
        }
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

/// The XML declaration every `xml` body starts with, on a line of its own.
pub const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// The `xml` format: the declaration, then `<event>` with one child element per field in the body's order, written
/// compactly (no indentation, so no white-space text nodes a receiver could mistake for values). Every JSON value
/// renders; nothing is refused:
///
/// - a `null` is left out, as in `form` (PAYLOADS.md: "a field without a value is left out of `form` and `xml`");
///   so is a `null` inside an array;
/// - booleans are `1`/`0`, as in `form`, so both non-JSON formats say the same thing;
/// - numbers as serde_json writes them, the same text `form` sends;
/// - objects are nested elements; an empty object or array is an empty element (`<fields/>`): it is there, with
///   nothing in it;
/// - arrays are repeated children: the event's own `tags` and `interests` fields hold `<tag>` and `<interest>`,
///   every other array (at any depth, including `tags` inside `data` or `fields`) holds `<item>`; an array in an
///   array is an `<item>` holding `<item>`s;
/// - a key that is not a safe XML name (see [`is_xml_name`]) becomes `<field name="...">`; a key that is literally
///   `field` stays `<field>` without the attribute, so the two cannot be confused;
/// - text is escaped (`&`, `<`, `>`, and `"` in attributes; a carriage return as `&#13;` so a parser's line-end
///   handling keeps it, and in attributes also tab and newline as `&#9;`/`&#10;` so attribute normalisation keeps
///   them). Characters XML 1.0 does not allow at all (control characters other than tab, newline and carriage
///   return, and U+FFFE/U+FFFF) cannot be written even as references, so each becomes U+FFFD, the replacement
///   character: the body stays well-formed and shows that something was there.
///
/// A body that is not an object (never stored, but nothing is refused) goes inside `<event>` as a value would.
pub fn xml_encode(body: &Value) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_DECLARATION);
    out.push('\n');
    out.push_str("<event>");
    let content_start = out.len();
    match body {
        Value::Object(map) => {
            for (key, value) in map {
                let item = match key.as_str() {
                    "tags" => "tag",
                    "interests" => "interest",
                    _ => "item",
                };
                write_xml_element(&mut out, key, value, item);
            }
        }
        other => write_xml_content(&mut out, other),
    }
    if out.len() == content_start {
        out.pop();
        out.push_str("/>");
    } else {
        out.push_str("</event>");
    }
    out
}

/// Whether `name` is written as an element name of its own. A safe ASCII subset of the XML 1.0 `Name` production:
/// a letter or `_`, then letters, digits, `-`, `_` and `.`; no `:` (namespaces), nothing outside ASCII, and nothing
/// that starts with `xml` in any case (reserved by the XML specification). Other names go in `<field name="...">`.
pub fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !(name.len() >= 3 && name.as_bytes()[..3].eq_ignore_ascii_case(b"xml"))
}

/// One element for `value` named `name`; `item` names the children if `value` is an array.
fn write_xml_element(out: &mut String, name: &str, value: &Value, item: &str) {
    if value.is_null() {
        return;
    }
    let plain = is_xml_name(name);
    if plain {
        out.push('<');
        out.push_str(name);
    } else {
        out.push_str("<field name=\"");
        push_xml_escaped(out, name, true);
        out.push('"');
    }
    out.push('>');
    let content_start = out.len();
    match value {
        Value::Array(items) => {
            for child in items {
                write_xml_element(out, item, child, "item");
            }
        }
        other => write_xml_content(out, other),
    }
    if out.len() == content_start {
        out.pop();
        out.push_str("/>");
        return;
    }
    out.push_str("</");
    out.push_str(if plain { name } else { "field" });
    out.push('>');
}

/// What goes between an element's tags; arrays here (only in arrays of arrays, or a non-object body) hold `<item>`s.
fn write_xml_content(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => push_xml_escaped(out, s, false),
        Value::Array(items) => {
            for child in items {
                write_xml_element(out, "item", child, "item");
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                write_xml_element(out, key, child, "item");
            }
        }
    }
}

fn push_xml_escaped(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
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
    fn json_is_passed_through_and_xml_is_built() {
        assert_eq!(render(Format::Json, b"{\"a\":1}").unwrap(), b"{\"a\":1}");
        assert_eq!(
            render(Format::Xml, b"{\"a\":1}").unwrap(),
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event><a>1</a></event>"
        );
        assert_eq!(
            render(Format::Xml, b"{}").unwrap(),
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event/>".as_slice()
        );
        assert!(matches!(render(Format::Xml, b"{"), Err(RenderError::Body(_))));
    }

    #[test]
    fn xml_names() {
        for name in ["a", "_a", "Name", "first-name", "a.b", "a1", "x", "xm", "xm_l", "mxml"] {
            assert!(is_xml_name(name), "{name}");
        }
        for name in [
            "",
            "1a",
            "-a",
            ".a",
            "a b",
            "a:b",
            "straße",
            "xml",
            "XML",
            "xMl_thing",
            "a&b",
            "a\u{1}",
        ] {
            assert!(!is_xml_name(name), "{name:?}");
        }
    }

    #[test]
    fn xml_escapes_and_replaces_what_xml_cannot_hold() {
        let body = json!({
            "text": "a & b < c > d \"q\" 'a' ]]> \t\n\r\u{0}\u{8}\u{b}\u{1f}\u{7f}\u{fffe}é",
            "a \"b\" & <c>\t\n\r\u{1}": "x",
        });
        let xml = xml_encode(&body);
        assert_eq!(
            xml,
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event>",
                "<text>a &amp; b &lt; c &gt; d \"q\" 'a' ]]&gt; \t\n&#13;\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{7f}\u{fffd}é</text>",
                "<field name=\"a &quot;b&quot; &amp; &lt;c&gt;&#9;&#10;&#13;\u{fffd}\">x</field>",
                "</event>"
            )
        );
    }

    #[test]
    fn xml_shapes() {
        let body = json!({
            "type": "open",
            "fields": {"name": "Piet", "age": 31, "vip": true, "no": false, "empty": null, "ratio": 0.5},
            "tags": ["spring", null, "sale"],
            "interests": [],
            "rows": [{"a": 1}, [2, 3], {}],
            "gone": null,
            "data": {"tags": ["x"], "interests": ["y"]},
        });
        assert_eq!(
            xml_encode(&body),
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<event>",
                "<type>open</type>",
                "<fields><name>Piet</name><age>31</age><vip>1</vip><no>0</no><ratio>0.5</ratio></fields>",
                "<tags><tag>spring</tag><tag>sale</tag></tags>",
                "<interests/>",
                "<rows><item><a>1</a></item><item><item>2</item><item>3</item></item><item/></rows>",
                "<data><tags><item>x</item></tags><interests><item>y</item></interests></data>",
                "</event>"
            )
        );
    }

    #[test]
    fn xml_body_that_is_not_an_object_still_renders() {
        let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
        assert_eq!(
            xml_encode(&json!([1, null, "a"])),
            format!("{head}<event><item>1</item><item>a</item></event>")
        );
        assert_eq!(xml_encode(&json!("a<b")), format!("{head}<event>a&lt;b</event>"));
        assert_eq!(xml_encode(&json!(null)), format!("{head}<event/>"));
    }
}
