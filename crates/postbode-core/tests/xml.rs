//! The `xml` (and `form`) bodies against golden files, and every `xml` body parsed by a real XML parser.
//!
//! `tests/golden/NAME.json` is a canonical body written by hand from PAYLOADS.md; `NAME.xml` and `NAME.form` are
//! what it must render to, byte for byte. After a deliberate change, regenerate them with
//! `POSTBODE_UPDATE_GOLDEN=1 cargo test -p postbode-core --test xml`, read the diff by eye, and commit it.

use std::path::{Path, PathBuf};

use postbode_core::render::{Format, XML_DECLARATION, is_xml_name, render, xml_encode};
use serde_json::{Value, json};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden_inputs() -> Vec<PathBuf> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    inputs.sort();
    inputs
}

/// The shapes PAYLOADS.md lists; a missing one would silently shrink the test.
#[test]
fn golden_inputs_cover_the_representative_events() {
    let names: Vec<String> = golden_inputs()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["custom", "edge", "failure", "open", "profile_update"] {
        assert!(
            names.iter().any(|n| n == expected),
            "tests/golden/{expected}.json is missing"
        );
    }
}

#[test]
fn golden_bodies() {
    let update = std::env::var_os("POSTBODE_UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for input in golden_inputs() {
        let canonical = std::fs::read(&input).unwrap();
        // The stored body is compact JSON; the hand-written file may end in a newline.
        let canonical = serde_json::to_vec(&serde_json::from_slice::<Value>(&canonical).unwrap()).unwrap();
        for (format, ext) in [(Format::Xml, "xml"), (Format::Form, "form")] {
            let rendered = render(format, &canonical).unwrap();
            let path = input.with_extension(ext);
            if update {
                std::fs::write(&path, &rendered).unwrap();
                continue;
            }
            match std::fs::read(&path) {
                Ok(expected) if expected == rendered => {}
                Ok(expected) => failures.push(format!(
                    "{}:\n  expected {}\n  rendered {}",
                    path.display(),
                    String::from_utf8_lossy(&expected),
                    String::from_utf8_lossy(&rendered)
                )),
                Err(err) => failures.push(format!("{}: {err}", path.display())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden bodies differ (POSTBODE_UPDATE_GOLDEN=1 regenerates):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_golden_xml_body_is_well_formed_and_holds_the_json_shape() {
    for input in golden_inputs() {
        let body: Value = serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
        let xml = String::from_utf8(render(Format::Xml, &serde_json::to_vec(&body).unwrap()).unwrap()).unwrap();
        check_document(&xml, &body);
    }
}

#[test]
fn edge_cases_are_well_formed_and_hold_the_json_shape() {
    let bodies = [
        json!({}),
        json!({"only": null}),
        json!({"tags": [], "interests": [], "fields": {}, "parameters": {}}),
        json!({"tags": [null, null], "interests": [null]}),
        json!({"1st": 1, "with space": 2, "xml": 3, "XML-ish": 4, "xMlfoo": 5, "-x": 6, ".x": 7, "a:b": 8, "ä": 9}),
        json!({"a&<>\"'b": "&<>\"'", "\u{1}\u{2}\t\n\r": "\u{0}\u{1f}\u{fffe}\u{ffff}\t\n\r"}),
        json!({"v": "]]>", "w": "<![CDATA[x]]>", "c": "<!-- no -->", "p": "<?pi?>", "e": "&amp; &#0; &bogus;"}),
        json!({"rows": [{"a": [{"b": [[], [{}], [null, 1]]}]}, [[["deep"]]], {"tags": ["x"]}]}),
        json!({"fields": {"first name": "Piet", "2nd": null, "xml_id": "x", "field": {"name": "n"}}}),
        json!({"n": [0, -0.0, 1.5, -2, 1e300, u64::MAX, i64::MIN], "b": [true, false]}),
        json!({"long": "x".repeat(100_000)}),
    ];
    for body in bodies {
        let xml = xml_encode(&body);
        check_document(&xml, &body);
    }
}

#[test]
fn nulls_are_left_out_and_booleans_are_1_and_0() {
    let xml = xml_encode(&json!({"type": "update", "previous": {"city": null, "age": 31}, "vip": true, "x": false}));
    assert_eq!(
        xml,
        format!(
            "{XML_DECLARATION}\n<event><type>update</type><previous><age>31</age></previous><vip>1</vip><x>0</x></event>"
        )
    );
}

#[test]
fn names_that_are_not_xml_names_go_in_field() {
    let body = json!({"first name": "Piet", "2fa": "on", "xmlns": "u", "a\"b": "q"});
    let xml = xml_encode(&body);
    assert_eq!(
        xml,
        format!(
            "{XML_DECLARATION}\n<event><field name=\"first name\">Piet</field><field name=\"2fa\">on</field>\
             <field name=\"xmlns\">u</field><field name=\"a&quot;b\">q</field></event>"
        )
    );
    check_document(&xml, &body);
}

/// The checker itself must catch a body that does not match.
#[test]
#[should_panic]
fn the_checker_catches_a_wrong_value() {
    check_document(&xml_encode(&json!({"a": 1})), &json!({"a": 2}));
}

#[test]
#[should_panic]
fn the_checker_catches_a_wrong_item_name() {
    check_document(
        &xml_encode(&json!({"data": {"tags": ["x"]}})),
        &json!({"data": {"tag": ["x"]}}),
    );
}

#[test]
#[should_panic]
fn the_checker_catches_a_null_that_was_written() {
    check_document(&format!("{XML_DECLARATION}\n<event><a/></event>"), &json!({"a": null}));
}

/// Parses `xml` and walks it beside `body`: the root is `event`; each non-null field is one child element, in the
/// body's order, named as the field or `field` with the name in an attribute; arrays hold `tag` / `interest` (the
/// event's own `tags` / `interests`) or `item` children; scalars are the element's text, booleans as `1`/`0`.
fn check_document(xml: &str, body: &Value) {
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
