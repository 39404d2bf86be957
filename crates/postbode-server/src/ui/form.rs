//! Posted forms (`application/x-www-form-urlencoded`), whose fields may repeat
//! (checkboxes, rows), and the field errors shown beside their inputs.

use postbode_core::FieldError;

use crate::problem::ApiError;

pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value, or an empty string.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// Every value given for `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The field errors of a refused form; a template asks for those of each input.
#[derive(Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    /// The messages for `field` and the fields inside it (`headers.X-A`, `events[2]`),
    /// joined.
    pub fn on(&self, field: &str) -> String {
        self.0
            .iter()
            .filter(|e| {
                e.field == field
                    || e.field
                        .strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .map(|e| {
                if e.field == field {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.field, e.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The messages for `field` itself, not those inside it: `batch` (a refusal of the
    /// whole setting) beside the checkbox, while `batch.max_events` stands at its input.
    pub fn own(&self, field: &str) -> String {
        self.0
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The field errors of a refusal; any other error is passed on.
    pub fn from_refusal(error: ApiError) -> Result<Self, ApiError> {
        match error {
            ApiError::Invalid(v) => Ok(Self(v.errors)),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_nested_errors() {
        let form = FormData::parse(b"events=open&events=click&url=http%3A%2F%2Fa&enabled=on");
        assert_eq!(form.all("events"), ["open", "click"]);
        assert_eq!(form.get("url"), Some("http://a"));
        assert!(form.checked("enabled") && !form.checked("other"));
        let errors = Errors(vec![
            FieldError::new("headers.X-A", "bad"),
            FieldError::new("headersX", "other"),
            FieldError::new("events[1]", "bad type"),
        ]);
        assert_eq!(errors.on("headers"), "headers.X-A: bad");
        assert_eq!(errors.on("events"), "events[1]: bad type");
        assert_eq!(errors.on("url"), "");
        assert_eq!(errors.own("headers"), "", "only headers.X-A was refused");
        let batch = Errors(vec![
            FieldError::new("batch", "json only"),
            FieldError::new("batch.max_events", "between 1 and 250"),
        ]);
        assert_eq!(batch.own("batch"), "json only");
        assert_eq!(batch.on("batch.max_events"), "between 1 and 250");
    }
}
