//! Paging as the API promises it: `?limit=` (default 50, max 500) and an opaque cursor.

use serde::Serialize;

use crate::error::FieldError;
use crate::ids;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// The last id of the previous page.
    pub after: Option<String>,
    pub limit: u32,
}

impl PageRequest {
    /// The page asked for by `?limit=` and `?cursor=` of a list of `kind` ids. A cursor is
    /// the last id of the previous page, so one that is not such an id is a mistake (a
    /// cursor of another list, a truncated copy) and is refused rather than ignored.
    pub fn new(limit: Option<u32>, cursor: Option<String>, kind: &str) -> Result<Self, FieldError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new("limit", format!("between 1 and {MAX_LIMIT}")));
        }
        if let Some(cursor) = &cursor
            && !ids::has_kind(cursor, kind)
        {
            return Err(FieldError::new(
                "cursor",
                "not a cursor of this list: pass the previous page's next_cursor as it is",
            ));
        }
        Ok(Self { after: cursor, limit })
    }
}

/// A page of a list: `next_cursor` is `null` on the last page.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id_of: impl Fn(&T) -> &str) -> Self {
        let limit = limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|row| id_of(row).to_owned())
        } else {
            None
        };
        Self {
            data: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_cursor_are_checked() {
        let id = ids::new_id(ids::WEBHOOK);
        let page = PageRequest::new(None, Some(id.clone()), ids::WEBHOOK).unwrap();
        assert_eq!((page.limit, page.after), (DEFAULT_LIMIT, Some(id.clone())));
        assert_eq!(
            PageRequest::new(Some(0), None, ids::WEBHOOK).unwrap_err().field,
            "limit"
        );
        assert_eq!(
            PageRequest::new(Some(MAX_LIMIT + 1), None, ids::WEBHOOK)
                .unwrap_err()
                .field,
            "limit"
        );
        for bad in ["x", "", &id[..10], &ids::new_id(ids::EVENT)] {
            let error = PageRequest::new(None, Some(bad.to_owned()), ids::WEBHOOK).unwrap_err();
            assert_eq!(error.field, "cursor", "{bad}");
        }
    }
}
