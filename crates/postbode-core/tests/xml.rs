//! The `xml` (and `form`) bodies against golden files, and every `xml` body parsed by a real XML parser.
//!
//! `tests/golden/NAME.json` is a canonical body written by hand to reach the renderer's corners; `NAME.xml` and
//! `NAME.form` are what it must render to, byte for byte (the bodies the builders make for every event type are
//! tests/bodies.rs's). After a deliberate change, regenerate them with
//! `POSTBODE_UPDATE_GOLDEN=1 cargo test -p postbode-core --test xml`, read the diff by eye, and commit it.

use std::path::{Path, PathBuf};

mod support;

use postbode_core::render::{Format, XML_DECLARATION, render, xml_encode};
use serde_json::{Value, json};
use support::check_document;

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

/// The renderer's edge cases; the bodies of every event type are in tests/bodies.rs.
#[test]
fn golden_inputs_cover_the_edge_cases() {
    let names: Vec<String> = golden_inputs()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "edge"), "tests/golden/edge.json is missing");
}

#[test]
fn golden_bodies() {
    let update = support::updating_golden();
    let mut failures = Vec::new();
    for input in golden_inputs() {
        let canonical = std::fs::read(&input).unwrap();
        // The stored body is compact JSON; the hand-written file may end in a newline.
        let canonical = serde_json::to_vec(&serde_json::from_slice::<Value>(&canonical).unwrap()).unwrap();
        for (format, ext) in [(Format::Xml, "xml"), (Format::Form, "form")] {
            let rendered = render(format, &canonical).unwrap();
            support::compare_with_golden(&input.with_extension(ext), &rendered, update, &mut failures);
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
