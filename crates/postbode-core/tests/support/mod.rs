//! What the body tests share: comparing a rendered body with its golden file, and
//! checking an `xml` body against the JSON it was rendered from with a real parser.

use std::path::Path;

use postbode_core::render::{XML_DECLARATION, is_xml_name};
use serde_json::Value;

/// Compares `rendered` with the golden file at `path` (or, when `update`, writes it),
/// adding a readable difference to `failures`.
pub fn compare_with_golden(path: &Path, rendered: &[u8], update: bool, failures: &mut Vec<String>) {
    if update {
        std::fs::write(path, rendered).expect("the golden file can be written");
        return;
    }
    match std::fs::read(path) {
        Ok(expected) if expected == rendered => {}
        Ok(expected) => {
            let at = expected.iter().zip(rendered).take_while(|(a, b)| a == b).count();
            failures.push(format!(
                "{} differs from byte {at} on:\n  golden   {}\n  rendered {}",
                path.display(),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(rendered)
            ));
        }
        Err(err) => failures.push(format!("{}: {err}", path.display())),
    }
}

/// Whether the golden files are to be rewritten (`POSTBODE_UPDATE_GOLDEN=1`).
pub fn updating_golden() -> bool {
    std::env::var_os("POSTBODE_UPDATE_GOLDEN").is_some()
}

/// Parses `xml` and walks it beside `body`: the root is `event`; each non-null field is one child element, in the
/// body's order, named as the field or `field` with the name in an attribute; arrays hold `tag` / `interest` (the
/// event's own `tags` / `interests`) or `item` children; scalars are the element's text, booleans as `1`/`0`.
pub fn check_document(xml: &str, body: &Value) {
    assert!(xml.starts_with(&format!("{XML_DECLARATION}\n<event")), "{xml}");
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|err| panic!("not well-formed: {err}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "event");
    assert!(root.tag_name().namespace().is_none());
    match body {
        Value::Object(map) => {
            let children = elements(root);
            let expected: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            assert_eq!(children.len(), expected.len(), "children of <event> in {xml}");
            for (node, (key, value)) in children.into_iter().zip(expected) {
                let item = match key.as_str() {
                    "tags" => "tag",
                    "interests" => "interest",
                    _ => "item",
                };
                check_named(node, key, value, item, xml);
            }
        }
        other => check_value(root, other, "item", xml),
    }
}

fn elements<'a, 'i>(node: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    node.children().filter(|n| n.is_element()).collect()
}

fn check_named(node: roxmltree::Node<'_, '_>, key: &str, value: &Value, item: &str, xml: &str) {
    if is_xml_name(key) {
        assert_eq!(node.tag_name().name(), key, "{xml}");
        assert_eq!(node.attributes().len(), 0, "{xml}");
    } else {
        assert_eq!(node.tag_name().name(), "field", "{key:?} in {xml}");
        assert_eq!(node.attribute("name"), Some(xml_safe(key).as_str()), "{xml}");
    }
    check_value(node, value, item, xml);
}

fn check_value(node: roxmltree::Node<'_, '_>, value: &Value, item: &str, xml: &str) {
    let children = elements(node);
    match value {
        Value::Object(map) => {
            let expected: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            assert_eq!(children.len(), expected.len(), "{xml}");
            assert!(
                node.children().all(|n| n.is_element()),
                "no text beside elements: {xml}"
            );
            for (child, (key, value)) in children.into_iter().zip(expected) {
                check_named(child, key, value, "item", xml);
            }
        }
        Value::Array(items) => {
            let expected: Vec<&Value> = items.iter().filter(|v| !v.is_null()).collect();
            assert_eq!(children.len(), expected.len(), "{xml}");
            assert!(
                node.children().all(|n| n.is_element()),
                "no text beside elements: {xml}"
            );
            for (child, value) in children.into_iter().zip(expected) {
                assert_eq!(child.tag_name().name(), item, "{xml}");
                assert_eq!(child.attributes().len(), 0, "{xml}");
                check_value(child, value, "item", xml);
            }
        }
        scalar => {
            assert!(children.is_empty(), "{xml}");
            let expected = match scalar {
                Value::Bool(true) => "1".to_string(),
                Value::Bool(false) => "0".to_string(),
                Value::Number(n) => n.to_string(),
                Value::String(s) => xml_safe(s),
                Value::Null | Value::Array(_) | Value::Object(_) => unreachable!(),
            };
            assert_eq!(node.text().unwrap_or(""), expected, "{xml}");
        }
    }
}

/// The text as XML can carry it: characters XML 1.0 forbids become U+FFFD.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}
