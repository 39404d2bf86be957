//! Every event type's body, made by the builders the server uses, in every format, against golden files; the `xml`
//! bodies read back by a real XML parser, and the `form` bodies by PHP's own `parse_str`, because PAYLOADS.md defines
//! the `form` format by what `parse_str` decodes.
//!
//! `tests/golden/events/NAME.{json,form,xml}` are the exact bytes a receiver gets. After a deliberate change,
//! regenerate them with `POSTBODE_UPDATE_GOLDEN=1 cargo test -p postbode-core --test bodies`, read the diff by eye
//! against PAYLOADS.md, and commit it.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use postbode_core::event::{MAIL_TYPES, PROFILE_TYPES, custom_body, is_builtin};
use postbode_core::mail::{
    AbuseReport, BounceReport, DeliveryReport, Enrichment, FailureReport, MailEvent, SmtpState, Visit, mail_event_body,
};
use postbode_core::profile::{ChangeEvent, ChangeKind, Edit, Schema, State, Subject, Values, apply};
use postbode_core::render::{Format, render};
use postbode_core::webhook::Source;
use serde_json::{Map, Value, json};

const FORMATS: [(Format, &str); 3] = [(Format::Json, "json"), (Format::Form, "form"), (Format::Xml, "xml")];

const MESSAGE: &str = "msg_01jdq3m6y8f2k9w4t7r5n1b3c0";
const PROFILE: &str = "prf_01jb7x4k2m9q8r5t3v6w1y0z2a";
const NEW_PROFILE: &str = "prf_01jdq3m6y8f2k9w4t7r5n1b3d4";
const SUBPROFILE: &str = "sub_01jc2h5n8p4r7t0v3x6z9b2d5f";
const NEW_SUBPROFILE: &str = "sub_01jdq3m6y8f2k9w4t7r5n1b3e8";
const DATABASE: &str = "db_01j9zk3f6h9k2m5p8r1t4w7y0b";
const COLLECTION: &str = "col_01j9zk7c0e3g6j9m2p5s8v1x4z";
const MAILING: &str = "spring-sale-2026";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/events")
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 7)
        .single()
        .expect("a valid time")
}

fn values(value: Value) -> Values {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn schema(definition: Value) -> Schema {
    let mut schema: Schema = serde_json::from_value(definition).expect("a schema");
    schema.validate("fields").expect("a valid schema");
    schema
}

/// A database with a field of every type; `city` has a default, so a `create` shows it.
fn database_schema() -> Schema {
    schema(json!([
        {"name": "firstname", "type": "text"},
        {"name": "lastname", "type": "text"},
        {"name": "email", "type": "email"},
        {"name": "age", "type": "integer"},
        {"name": "score", "type": "float"},
        {"name": "birthday", "type": "date"},
        {"name": "company", "type": "text"},
        {"name": "city", "type": "text", "default": "Delft"},
        {"name": "phone", "type": "text"},
    ]))
}

fn collection_schema() -> Schema {
    schema(json!([
        {"name": "order_count", "type": "integer"},
        {"name": "last_order", "type": "date"},
        {"name": "plan", "type": "text"},
        {"name": "spent", "type": "float"},
        {"name": "note", "type": "text"},
    ]))
}

/// The profile as stored before the update; `phone` has no value, so every body's `fields` holds one `null`.
fn stored_profile() -> State {
    State {
        values: values(json!({
            "firstname": "Jürgen",
            "lastname": "de Vries",
            "email": "jurgen.devries@example.com",
            "age": 31,
            "score": 4.75,
            "birthday": "1995-03-14",
            "company": "Müller & Zn <B.V.>",
            "city": "Münster",
        })),
        interests: vec!["news".into()],
    }
}

fn stored_subprofile() -> State {
    State {
        values: values(json!({"order_count": 1, "last_order": "2026-10-02", "plan": "basic", "spent": 19.99})),
        interests: Vec::new(),
    }
}

/// What the store does for a `PATCH`: check and type the given values, then apply them.
fn patch(schema: &Schema, current: &State, given: Value, interests: Option<&[String]>) -> (Values, State, Values) {
    let parameters = schema.check_values("fields", &values(given)).expect("valid values");
    let applied = apply(current, Edit::Merge, &parameters, interests);
    assert!(applied.changed, "the fixture must change something");
    (parameters, applied.state, applied.previous)
}

struct Event {
    name: &'static str,
    body: Vec<u8>,
}

fn mail_events() -> Vec<Event> {
    let profile_fields = database_schema().complete(&stored_profile().values);
    // A subprofile's fields are added over its profile's.
    let mut subprofile_fields = profile_fields.clone();
    subprofile_fields.extend(collection_schema().complete(&stored_subprofile().values));
    let tags = vec!["spring".to_owned(), "sale".to_owned()];
    let of_profile = Enrichment {
        recipient: "jurgen.devries@example.com",
        profile: Some(PROFILE),
        subprofile: None,
        database: Some(DATABASE),
        collection: None,
        mailing: MAILING,
        fields: Some(&profile_fields),
        tags: &tags,
    };
    let of_subprofile = Enrichment {
        subprofile: Some(SUBPROFILE),
        collection: Some(COLLECTION),
        fields: Some(&subprofile_fields),
        ..of_profile
    };
    let useragent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0";
    let cases = [
        (
            "open",
            MailEvent::Open(Visit {
                ip: "203.0.113.7".into(),
                useragent: Some(useragent.into()),
                referer: Some("https://webmail.example.net/mail/?folder=INBOX&msg=42".into()),
            }),
            &of_profile,
        ),
        (
            "click",
            MailEvent::Click {
                visit: Visit {
                    ip: "2001:db8::7".into(),
                    useragent: Some(useragent.into()),
                    // Raw as some clients send it: every character a form or XML body must escape.
                    referer: Some("https://www.example.de/suche?q=Grüße aus Köln&sort=<neu>".into()),
                },
                original: "https://shop.example.com/sale?utm_source=postbode&utm_campaign=spring-2026".into(),
            },
            &of_subprofile,
        ),
        (
            "delivery",
            MailEvent::Delivery(DeliveryReport {
                code: 250,
                extended: Some("2.0.0".into()),
                description: Some("Ok: queued as 4ZQ1xk3Vb7z".into()),
            }),
            &of_profile,
        ),
        (
            "bounce",
            MailEvent::Bounce(BounceReport {
                envelope: Some("bounces+msg_01jdq3m6y8f2k9w4t7r5n1b3c0@bounce.example.com".into()),
                mime: Some(
                    concat!(
                        "From: MAILER-DAEMON@mx.example.org\r\n",
                        "Subject: Undelivered Mail Returned to Sender\r\n",
                        "Content-Type: text/plain; charset=utf-8\r\n",
                        "\r\n",
                        "<jurgen.devries@example.com>: host mx.example.org said: 552 5.2.2 Mailbox full\r\n",
                    )
                    .into(),
                ),
            }),
            &of_profile,
        ),
        (
            "failure",
            MailEvent::Failure(FailureReport {
                action: "failed".into(),
                state: SmtpState::Rcpt,
                code: 550,
                extended: Some("5.1.1".into()),
                description: Some("User unknown".into()),
            }),
            &of_subprofile,
        ),
        (
            "abuse",
            MailEvent::Abuse(AbuseReport {
                emailfrom: Some("jurgen.devries@example.com".into()),
                mime: Some(
                    concat!(
                        "From: abuse@isp.example.net\r\n",
                        "Content-Type: message/feedback-report\r\n",
                        "\r\n",
                        "Feedback-Type: abuse\r\n",
                        "User-Agent: ExampleFBL/1.0\r\n",
                        "Version: 1\r\n",
                    )
                    .into(),
                ),
            }),
            &of_profile,
        ),
        ("unsubscribe", MailEvent::Unsubscribe, &of_profile),
    ];
    cases
        .into_iter()
        .map(|(name, event, about)| {
            assert_eq!(event.event_type(), name);
            event.validate().expect("a valid report");
            Event {
                name,
                body: mail_event_body(MESSAGE, &event, at(), about),
            }
        })
        .collect()
}

fn profile_events() -> Vec<Event> {
    let database = database_schema();
    let collection = collection_schema();
    let created = Utc
        .with_ymd_and_hms(2025, 1, 2, 10, 11, 12)
        .single()
        .expect("a valid time");
    let none = Values::new();
    let profile = Subject::Profile {
        profile_id: PROFILE.into(),
        database_id: DATABASE.into(),
    };
    let new_profile = Subject::Profile {
        profile_id: NEW_PROFILE.into(),
        database_id: DATABASE.into(),
    };
    let subprofile = Subject::Subprofile {
        subprofile_id: SUBPROFILE.into(),
        profile_id: PROFILE.into(),
        database_id: DATABASE.into(),
        collection_id: COLLECTION.into(),
    };
    let new_subprofile = Subject::Subprofile {
        subprofile_id: NEW_SUBPROFILE.into(),
        profile_id: PROFILE.into(),
        database_id: DATABASE.into(),
        collection_id: COLLECTION.into(),
    };

    // Values arrive as strings (a form or CSV import) and are typed by the schema; `city` is left to its default.
    let create_given = values(json!({
        "firstname": "Anna",
        "lastname": "Müller",
        "email": " anna.mueller@example.de ",
        "age": "27",
        "score": "3.5",
        "birthday": "1999-07-01",
    }));
    let create_parameters = database.check_values("fields", &create_given).expect("valid values");
    let create_fields = database.complete(&database.with_defaults(&create_parameters));
    let create_interests = vec!["news".to_owned(), "events".to_owned()];

    // The update changes, clears (`company`) and sets a field that had no value (`phone`), so `previous` holds a
    // `null` and `parameters` holds a `null`.
    let new_interests = vec!["news".to_owned(), "offers".to_owned()];
    let (update_parameters, updated, update_previous) = patch(
        &database,
        &stored_profile(),
        json!({"age": "32", "city": "Den Haag", "company": null, "phone": "+31 70 123 4567"}),
        Some(&new_interests),
    );
    let update_fields = database.complete(&updated.values);

    let sub_create_parameters = collection
        .check_values(
            "fields",
            &values(json!({"order_count": 1, "last_order": "2026-11-23", "plan": "plus", "spent": 49.95})),
        )
        .expect("valid values");
    let sub_create_fields = collection.complete(&sub_create_parameters);
    let (sub_update_parameters, sub_updated, sub_update_previous) = patch(
        &collection,
        &stored_subprofile(),
        json!({"order_count": 2, "last_order": "2026-11-23", "spent": 69.94, "note": "gift wrap & card"}),
        None,
    );
    let sub_update_fields = collection.complete(&sub_updated.values);

    let change = |kind, subject, sequence, parameters, fields, previous, interests, created, source| ChangeEvent {
        kind,
        subject,
        at: at(),
        source,
        sequence,
        parameters,
        fields,
        previous,
        interests,
        created,
        modified: at(),
    };
    let cases = [
        (
            "profile_create",
            change(
                ChangeKind::Create,
                &new_profile,
                1,
                &create_parameters,
                &create_fields,
                &none,
                Some(create_interests.as_slice()),
                at(),
                Source::Import,
            ),
        ),
        (
            "profile_update",
            change(
                ChangeKind::Update,
                &profile,
                7,
                &update_parameters,
                &update_fields,
                &update_previous,
                Some(updated.interests.as_slice()),
                created,
                Source::Api,
            ),
        ),
        (
            "profile_delete",
            change(
                ChangeKind::Delete,
                &profile,
                8,
                &none,
                &update_fields,
                &none,
                Some(updated.interests.as_slice()),
                created,
                Source::Dashboard,
            ),
        ),
        (
            "subprofile_create",
            change(
                ChangeKind::Create,
                &new_subprofile,
                1,
                &sub_create_parameters,
                &sub_create_fields,
                &none,
                None,
                at(),
                Source::Api,
            ),
        ),
        (
            "subprofile_update",
            change(
                ChangeKind::Update,
                &subprofile,
                4,
                &sub_update_parameters,
                &sub_update_fields,
                &sub_update_previous,
                None,
                created,
                Source::Api,
            ),
        ),
        (
            "subprofile_delete",
            change(
                ChangeKind::Delete,
                &subprofile,
                5,
                &none,
                &sub_update_fields,
                &none,
                None,
                created,
                Source::Unsubscribe,
            ),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, event)| Event {
            name,
            body: event.body(),
        })
        .collect()
}

fn custom_event() -> Event {
    let data = json!({
        "order": "A-1001",
        "amount": 139.85,
        "currency": "EUR",
        "paid": true,
        "gift": false,
        "coupon": null,
        "customer": {"email": "anna.mueller@example.de", "name": "Anna Müller & Söhne <GmbH>", "vat": null},
        "lines": [
            {"sku": "TSHIRT-M", "quantity": 2, "price": 19.99, "options": {"colour": "grün"}},
            {"sku": "MUG", "quantity": 1, "price": 9.97, "options": {}},
        ],
        "discounts": [],
        "tags": ["first-order", "spring"],
    });
    Event {
        name: "custom",
        body: custom_body(
            "evt_01jdq3m6y8f2k9w4t7r5n1b3f9",
            "order.paid",
            at(),
            &serde_json::to_vec(&data).unwrap(),
        ),
    }
}

fn events() -> Vec<Event> {
    let mut events = mail_events();
    events.extend(profile_events());
    events.push(custom_event());
    events
}

fn parse(event: &Event) -> Map<String, Value> {
    match serde_json::from_slice(&event.body) {
        Ok(Value::Object(map)) => map,
        other => panic!("{}: the body is not a JSON object: {other:?}", event.name),
    }
}

/// The file name an event's body belongs in, read off the body itself, so a fixture cannot sit under the wrong name.
fn name_for(body: &Map<String, Value>) -> String {
    let event_type = body.get("type").and_then(Value::as_str).unwrap_or_default();
    if MAIL_TYPES.contains(&event_type) {
        event_type.to_owned()
    } else if PROFILE_TYPES.contains(&event_type) {
        let subject = if body.contains_key("subprofile") {
            "subprofile"
        } else {
            "profile"
        };
        format!("{subject}_{event_type}")
    } else {
        "custom".to_owned()
    }
}

/// Every type has a fixture, and every golden file a fixture: dropping an event (or leaving a stale file behind)
/// fails here rather than silently shrinking the other tests.
#[test]
fn the_events_cover_every_type() {
    let events = events();
    let mut names: Vec<String> = Vec::new();
    for event in &events {
        let name = name_for(&parse(event));
        assert_eq!(name, event.name, "the body of {} is a {name} event", event.name);
        assert!(!names.contains(&name), "{name} twice");
        names.push(name);
    }
    let mut expected: Vec<String> = MAIL_TYPES.iter().map(|t| (*t).to_owned()).collect();
    for subject in ["profile", "subprofile"] {
        expected.extend(PROFILE_TYPES.iter().map(|t| format!("{subject}_{t}")));
    }
    expected.push("custom".to_owned());
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    assert!(
        events
            .iter()
            .any(|e| !is_builtin(parse(e)["type"].as_str().unwrap_or_default())),
        "a custom type"
    );

    if std::env::var_os("POSTBODE_UPDATE_GOLDEN").is_some() {
        return;
    }
    let files: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("tests/golden/events exists (POSTBODE_UPDATE_GOLDEN=1 writes it)")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let wanted: Vec<String> = expected
        .iter()
        .flat_map(|name| FORMATS.iter().map(move |(_, ext)| format!("{name}.{ext}")))
        .collect();
    let missing: Vec<&String> = wanted.iter().filter(|f| !files.contains(f)).collect();
    let stale: Vec<&String> = files.iter().filter(|f| !wanted.contains(f)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "tests/golden/events: missing {missing:?}, made by no fixture {stale:?}"
    );
}

#[test]
fn bodies_equal_the_golden_files() {
    let update = support::updating_golden();
    if update {
        std::fs::create_dir_all(golden_dir()).expect("tests/golden/events can be made");
    }
    let mut failures = Vec::new();
    for event in events() {
        for (format, ext) in FORMATS {
            let rendered = render(format, &event.body).expect("a builder's body renders");
            let path = golden_dir().join(format!("{}.{ext}", event.name));
            support::compare_with_golden(&path, &rendered, update, &mut failures);
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden bodies differ (POSTBODE_UPDATE_GOLDEN=1 regenerates them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn xml_bodies_are_well_formed_and_hold_the_json_fields() {
    for event in events() {
        let body = Value::Object(parse(&event));
        let rendered = render(Format::Xml, &event.body).expect("a builder's body renders");
        let xml = String::from_utf8(rendered).expect("xml bodies are UTF-8");
        support::check_document(&xml, &body);
    }
}

/// What PHP's `parse_str` then `json_encode` make of the `form` body, derived from the JSON body: scalars as
/// strings (booleans `1`/`0`, numbers as their JSON text); nulls are not sent, and neither is an array or object
/// with nothing left in it, so those keys are absent (`None`).
fn php_shape(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(Value::String(if *b { "1" } else { "0" }.to_owned())),
        Value::Number(n) => Some(Value::String(n.to_string())),
        Value::String(s) => Some(Value::String(s.clone())),
        Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_object()) => {
            // `name[]=` appends, so PHP numbers what was sent from 0 and the nulls leave no gap.
            php_array(
                items
                    .iter()
                    .filter_map(php_shape)
                    .enumerate()
                    .map(|(index, v)| (index.to_string(), v))
                    .collect(),
            )
        }
        Value::Array(items) => {
            // `name[index][...]` keeps the JSON index, so a skipped item leaves a gap.
            php_array(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| php_shape(item).map(|v| (index.to_string(), v)))
                    .collect(),
            )
        }
        Value::Object(map) => php_array(
            map.iter()
                .filter_map(|(key, item)| php_shape(item).map(|v| (key.clone(), v)))
                .collect(),
        ),
    }
}

/// A PHP array as `json_encode` writes it: a list when its keys are exactly 0, 1, 2, ... in order, else an object.
fn php_array(map: Map<String, Value>) -> Option<Value> {
    if map.is_empty() {
        return None;
    }
    if map.keys().enumerate().all(|(index, key)| *key == index.to_string()) {
        Some(Value::Array(map.into_values().collect()))
    } else {
        Some(Value::Object(map))
    }
}

const PHP_DECODE: &str = r#"parse_str(file_get_contents("php://stdin"), $a); echo json_encode($a);"#;

/// Decodes `form` with PHP, or `None` when PHP is not installed.
fn php_parse_str(form: &[u8]) -> Option<Result<Value, String>> {
    let spawned = Command::new("php")
        .args(["-r", PHP_DECODE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => return Some(Err(format!("php: {err}"))),
    };
    // PHP reads all of stdin before it writes anything, so writing first cannot deadlock.
    let written = child.stdin.take().expect("piped stdin").write_all(form);
    let output = child.wait_with_output().expect("php runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if let Err(err) = written {
        return Some(Err(format!("writing to php: {err}; stderr: {stderr}")));
    }
    if !output.status.success() {
        return Some(Err(format!("php exited with {}: {stdout}{stderr}", output.status)));
    }
    Some(serde_json::from_str(&stdout).map_err(|err| format!("php printed no JSON ({err}): {stdout}{stderr}")))
}

#[test]
fn php_parse_str_decodes_form_bodies_to_the_json_shape() {
    let mut failures = Vec::new();
    for event in events() {
        let body: Value = serde_json::from_slice(&event.body).expect("a JSON body");
        let form = render(Format::Form, &event.body).expect("a builder's body renders");
        let decoded = match php_parse_str(&form) {
            None => return php_missing("the form bodies"),
            Some(Err(err)) => {
                failures.push(format!("{}: {err}", event.name));
                continue;
            }
            Some(Ok(decoded)) => decoded,
        };
        // PHP's json_encode writes an empty array as `[]`.
        let expected = php_shape(&body).unwrap_or_else(|| json!([]));
        if decoded != expected {
            failures.push(format!(
                "{}:\n  form     {}\n  php      {decoded}\n  expected {expected}",
                event.name,
                String::from_utf8_lossy(&form)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "PHP's parse_str decodes {} form bodies differently:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The model of PHP above must itself follow PHP's rules, or the comparison proves nothing.
#[test]
fn php_shape_follows_parse_str() {
    let body = json!({
        "n": null,
        "t": true,
        "f": false,
        "x": 1.5,
        "empty": "",
        "tags": ["a", null, "b"],
        "none": [null],
        "gone": {"a": null, "b": {}, "c": []},
        "rows": [{"a": 1}, null, {"a": 2}],
        "kept": [{"a": 1}, {"b": null}],
    });
    assert_eq!(
        php_shape(&body),
        Some(json!({
            "t": "1",
            "f": "0",
            "x": "1.5",
            "empty": "",
            "tags": ["a", "b"],
            "rows": {"0": {"a": "1"}, "2": {"a": "2"}},
            "kept": [{"a": "1"}],
        }))
    );
    let form = render(Format::Form, body.to_string().as_bytes()).expect("renders");
    match php_parse_str(&form) {
        Some(decoded) => assert_eq!(decoded, Ok(php_shape(&body).expect("not empty"))),
        None => php_missing("the model of parse_str"),
    }
}

/// A developer without PHP still runs the rest; CI must not pass without the check.
fn php_missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("php is not installed, so PHP's parse_str cannot check {what}; .ci/run installs php-cli");
    }
    eprintln!("skipped: php is not installed, so PHP's parse_str cannot check {what}");
}
