//! The condition editor: rows of field / comparison / value, built from the fields of
//! the webhook's database or collection, written out as the CEL expression the raw box
//! holds. Values are quoted as CEL literals (text escaped, numbers typed by the field),
//! and the result is checked by compiling it, so the editor never writes something the
//! API would refuse.

use postbode_core::FieldError;
use postbode_core::condition::Condition;
use postbode_core::profile::{FieldType, Schema};

/// The comparisons a row offers: its form value and label.
pub const COMPARISONS: [(&str, &str); 11] = [
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("gt", "is greater than"),
    ("ge", "is at least"),
    ("lt", "is less than"),
    ("le", "is at most"),
    ("contains", "contains"),
    ("starts", "starts with"),
    ("ends", "ends with"),
    ("empty", "is empty"),
    ("set", "is not empty"),
];

/// One row of the editor, as posted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub field: String,
    pub comparison: String,
    pub value: String,
}

impl Row {
    fn is_blank(&self) -> bool {
        self.field.is_empty()
    }
}

/// A CEL string literal: single-quoted, with quotes, backslashes and control
/// characters escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The value as a CEL literal of the field's type.
fn literal(field_type: FieldType, value: &str) -> Result<String, String> {
    let value = value.trim();
    match field_type {
        FieldType::Integer => value
            .parse::<i64>()
            .map(|n| n.to_string())
            .map_err(|_| "a whole number".into()),
        FieldType::Float => value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| format!("{f:?}"))
            .ok_or_else(|| "a number".into()),
        FieldType::Text | FieldType::Date | FieldType::Email => Ok(quote(value)),
    }
}

fn comparison(row: &Row, field_type: FieldType) -> Result<String, String> {
    let field = format!("fields.{}", row.field);
    let operator = match row.comparison.as_str() {
        "empty" => return Ok(format!("{field} == null")),
        "set" => return Ok(format!("{field} != null")),
        "contains" | "starts" | "ends" => {
            let method = match row.comparison.as_str() {
                "contains" => "contains",
                "starts" => "startsWith",
                _ => "endsWith",
            };
            if matches!(field_type, FieldType::Integer | FieldType::Float) {
                return Err("compare numbers with equals, greater or less".into());
            }
            return Ok(format!(
                "{field} != null && {field}.{method}({})",
                quote(row.value.trim())
            ));
        }
        "eq" => "==",
        "ne" => "!=",
        "gt" => ">",
        "ge" => ">=",
        "lt" => "<",
        "le" => "<=",
        _ => return Err("choose a comparison".into()),
    };
    Ok(format!("{field} {operator} {}", literal(field_type, &row.value)?))
}

/// The form's internal name of row `index` (from 0), which its error is filed under; the
/// page calls it "Condition row N" (`form_words`).
pub fn row_field(index: usize) -> String {
    format!("condition_rows[{index}]")
}

/// The expression the rows make: every row must hold (`any == false`) or one of them.
/// Errors name the row (`row_field`).
pub fn build(rows: &[Row], any: bool, schema: &Schema) -> Result<String, Vec<FieldError>> {
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    for (index, row) in rows.iter().enumerate().filter(|(_, row)| !row.is_blank()) {
        let at = row_field(index);
        let Some(def) = schema.get(&row.field) else {
            errors.push(FieldError::new(at, format!("no field {:?} here", row.field)));
            continue;
        };
        match comparison(row, def.field_type) {
            Ok(part) => parts.push(part),
            Err(message) => errors.push(FieldError::new(at, message)),
        }
    }
    if parts.is_empty() && errors.is_empty() {
        errors.push(FieldError::new("condition_rows", "fill in at least one row"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let expression = if parts.len() == 1 {
        parts.remove(0)
    } else {
        let joiner = if any { " || " } else { " && " };
        parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(joiner)
    };
    Condition::compile(&expression).map_err(|e| vec![FieldError::new("condition_rows", e.to_string())])?;
    Ok(expression)
}

#[cfg(test)]
mod tests {
    use super::*;
    use postbode_core::condition::ConditionContext;
    use serde_json::{Map, Value, json};

    fn schema() -> Schema {
        serde_json::from_value(json!([
            {"name": "name", "type": "text"},
            {"name": "age", "type": "integer"},
            {"name": "score", "type": "float"}
        ]))
        .unwrap()
    }

    fn row(field: &str, comparison: &str, value: &str) -> Row {
        Row {
            field: field.into(),
            comparison: comparison.into(),
            value: value.into(),
        }
    }

    fn holds(expression: &str, fields: Value) -> bool {
        let fields: Map<String, Value> = fields.as_object().unwrap().clone();
        Condition::compile(expression)
            .unwrap()
            .evaluate(&ConditionContext {
                fields: &fields,
                previous: None,
                profile: None,
                subprofile: None,
                source: None,
                event_type: "update",
            })
            .unwrap()
    }

    #[test]
    fn rows_become_typed_cel_joined_by_all_or_any() {
        let rows = [row("name", "eq", "piet"), row("age", "gt", "30"), Row::default()];
        let all = build(&rows, false, &schema()).unwrap();
        assert_eq!(all, "(fields.name == 'piet') && (fields.age > 30)");
        assert!(holds(&all, json!({"name": "piet", "age": 31, "score": null})));
        assert!(!holds(&all, json!({"name": "piet", "age": 30, "score": null})));
        let any = build(&rows, true, &schema()).unwrap();
        assert!(holds(&any, json!({"name": "jan", "age": 31, "score": null})));
        let one = build(&[row("score", "le", "9.5")], false, &schema()).unwrap();
        assert_eq!(one, "fields.score <= 9.5");
    }

    #[test]
    fn text_values_are_quoted_so_they_stay_values() {
        let hostile = "it's \\' || true || 'x\n\u{1}";
        let expression = build(&[row("name", "eq", hostile)], false, &schema()).unwrap();
        assert!(holds(&expression, json!({"name": hostile, "age": null, "score": null})));
        assert!(!holds(&expression, json!({"name": "x", "age": null, "score": null})));
        let contains = build(&[row("name", "contains", "ie")], false, &schema()).unwrap();
        assert!(holds(&contains, json!({"name": "piet", "age": null, "score": null})));
        assert!(!holds(&contains, json!({"name": null, "age": null, "score": null})));
    }

    #[test]
    fn bad_rows_are_named() {
        let errors = build(
            &[
                row("age", "gt", "thirty"),
                row("nope", "eq", "x"),
                row("age", "contains", "3"),
            ],
            false,
            &schema(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["condition_rows[0]", "condition_rows[1]", "condition_rows[2]"]);
        assert_eq!(
            build(&[Row::default()], false, &schema()).unwrap_err()[0].field,
            "condition_rows"
        );
    }
}
