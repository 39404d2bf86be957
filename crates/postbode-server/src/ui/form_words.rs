//! The webhook form's refusals in the words of the form. The API names fields by their
//! path (`events[3]`, `headers.X-A`, `fields_changed[0]`, `rate_limit.per_second`); the
//! form says which input, and names the item (the event type, the header, the field)
//! instead of its index, so one input carries every refusal of its items.

use postbode_core::FieldError;

/// The input an error belongs to, its label on the form, and the item it names.
struct Place {
    /// The error's field as the form files it (the input's errors are looked up by it).
    field: String,
    /// The id of the input, for the summary's link.
    input: String,
    label: String,
}

/// Where the API's `field` is on the form. `events` are the form's event types in the
/// order sent; `fields_changed` the ticked fields, in order.
fn place(field: &str) -> Place {
    let (head, rest) = match field.find(['.', '[']) {
        Some(at) => (&field[..at], &field[at..]),
        None => (field, ""),
    };
    let place = |field: &str, input: &str, label: &str| Place {
        field: field.to_owned(),
        input: input.to_owned(),
        label: label.to_owned(),
    };
    match (head, rest) {
        ("url", _) => place("url", "url", "Callback URL"),
        ("description", _) => place("description", "description", "Description"),
        ("events", _) => place("events", "custom_events", "Custom event types"),
        ("database_id" | "collection_id", _) => place(head, "scope", "Limited to"),
        ("format", _) => place("format", "format", "Body format"),
        ("condition", _) => place("condition", "condition", "Condition (CEL)"),
        ("condition_rows", "") => place("condition_rows", "condition-rows", "Condition editor"),
        ("condition_rows", index) => {
            let n = index.trim_matches(['[', ']']).parse::<usize>().map_or(0, |i| i + 1);
            place(field, &format!("row_field_{n}"), &format!("Condition row {n}"))
        }
        ("ignore_sources", _) => place("ignore_sources", "ignore-sources", "Ignored sources"),
        ("fields_changed", _) => place("fields_changed", "fields-changed", "Updates fire on changes of"),
        ("signatures", _) => place("signatures", "signatures", "Signatures"),
        ("headers", _) => place("headers", "headers", "Extra headers"),
        ("max_concurrency", _) => place("max_concurrency", "max_concurrency", "Calls at the same time"),
        ("rate_limit", _) => place("rate_limit", "rate_limit", "Calls per second"),
        ("batch", ".max_events") => place("batch.max_events", "batch_max_events", "Events per call"),
        ("batch", ".max_wait_ms") => place("batch.max_wait_ms", "batch_max_wait_ms", "Wait for more events"),
        ("batch", _) => place("batch", "batch", "Batching"),
        ("ordering", _) => place("ordering", "ordering", "Order"),
        ("enabled", _) => place("enabled", "enabled", "Enabled"),
        _ => place(field, "webhook-form", field),
    }
}

/// The item a nested field names: the event type of `events[3]`, the header of
/// `headers.X-A`, the field of `fields_changed[0]`.
fn item(field: &str, events: &[String], fields_changed: &[String]) -> Option<String> {
    let index = |prefix: &str| {
        field
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok())
    };
    if let Some(i) = index("events[") {
        return events.get(i).map(|name| format!("{name:?}"));
    }
    if let Some(i) = index("fields_changed[") {
        return fields_changed.get(i).map(|name| format!("{name:?}"));
    }
    field.strip_prefix("headers.").map(str::to_owned)
}

/// The errors filed under the form's inputs, each message naming its item.
pub fn in_form_words(errors: Vec<FieldError>, events: &[String], fields_changed: &[String]) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|error| {
            let place = place(&error.field);
            let message = match item(&error.field, events, fields_changed) {
                Some(item) => format!("{item}: {}", error.message),
                None if error.field == "fields_changed" && !fields_changed.is_empty() => {
                    format!("{}: {}", fields_changed.join(", "), error.message)
                }
                None => error.message,
            };
            FieldError::new(place.field, message)
        })
        .collect()
}

/// The label and input id of an error's field, for the summary above the form.
pub fn label(field: &str) -> (String, String) {
    let place = place(field);
    (place.label, place.input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_inputs_and_items_are_named() {
        let events = vec!["all".to_owned(), "order paid".to_owned()];
        let fields = vec!["email".to_owned()];
        let errors = in_form_words(
            vec![
                FieldError::new("events[1]", "an event type is ..."),
                FieldError::new("headers.X-A", "reserved"),
                FieldError::new("fields_changed[0]", "the database has no field"),
                FieldError::new("rate_limit.per_second", "between 1 and 100000"),
                FieldError::new("condition_rows[1]", "a whole number"),
            ],
            &events,
            &fields,
        );
        let filed: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(
            filed,
            [
                ("events", "\"order paid\": an event type is ..."),
                ("headers", "X-A: reserved"),
                ("fields_changed", "\"email\": the database has no field"),
                ("rate_limit", "between 1 and 100000"),
                ("condition_rows[1]", "a whole number"),
            ]
        );
        assert_eq!(
            label("condition_rows[1]"),
            ("Condition row 2".to_owned(), "row_field_2".to_owned())
        );
        assert_eq!(label("batch.max_events").1, "batch_max_events");
    }
}
