//! Cursor pagination, and query-string helpers.
//!
//! Every list is served in a stable order (documented per endpoint) and paged
//! by an opaque cursor: `?limit=N` gives the first page, `?cursor=<next_cursor>`
//! the next; `next_cursor: null` means the list is exhausted. No offsets: an
//! offset into an append-only ledger shifts under concurrent writes, a cursor
//! (the last key seen) does not.
//!
//! Query types do not `#[serde(flatten)]` a shared [`PageParams`]: the
//! `application/x-www-form-urlencoded` decoder can only hand strings to a
//! flattened struct, so `limit=10` would fail to parse as a number (a known
//! serde limitation). Each query type repeats `limit` and `cursor` instead
//! and implements [`Paged`].

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::FieldError;

/// Items per page when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 1_000;

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Page<T> {
        Page { items, next_cursor }
    }

    pub fn is_last(&self) -> bool {
        self.next_cursor.is_none()
    }
}

/// Paging alone, for lists with no filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1..=1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A query that pages: lets generic code (the client's page walker, the
/// server's paging helper) read and set the two paging parameters.
pub trait Paged {
    fn limit(&self) -> Option<u32>;
    fn cursor(&self) -> Option<&str>;
    fn set_cursor(&mut self, cursor: Option<String>);

    /// The limit to apply: the given one or [`DEFAULT_LIMIT`].
    fn effective_limit(&self) -> u32 {
        self.limit().unwrap_or(DEFAULT_LIMIT)
    }

    /// `limit` in 1..=1000 and a cursor of sane size (the server decodes it).
    fn paging_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(limit) = self.limit() {
            if !(1..=MAX_LIMIT).contains(&limit) {
                errors.push(FieldError::new("limit", format!("must be between 1 and {MAX_LIMIT}")));
            }
        }
        if let Some(cursor) = self.cursor() {
            // No cursor this API issues holds a control character (a NUL
            // would reach PostgreSQL, which refuses it in text).
            if cursor.is_empty() || cursor.len() > 512 || cursor.chars().any(char::is_control) {
                errors.push(FieldError::new("cursor", "must be a next_cursor value from a previous page"));
            }
        }
        errors
    }
}

/// Implements [`Paged`] for a query struct with `limit` and `cursor` fields.
macro_rules! impl_paged {
    ($($t:ty),+ $(,)?) => {$(
        impl $crate::page::Paged for $t {
            fn limit(&self) -> Option<u32> {
                self.limit
            }
            fn cursor(&self) -> Option<&str> {
                self.cursor.as_deref()
            }
            fn set_cursor(&mut self, cursor: Option<String>) {
                self.cursor = cursor;
            }
        }
    )+};
}
pub(crate) use impl_paged;

impl_paged!(PageParams);

/// A list of enum names in one query parameter, comma-separated
/// (`kind=burn,overage`): one parameter rather than a repeated one, because
/// repeated keys are not understood by the form decoder the server uses.
/// An empty list means "no filter" and is omitted when serialising.
pub mod comma_list {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
        let joined = values.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        s.serialize_str(&joined)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
    where
        T: FromStr + PartialEq,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        let mut out: Vec<T> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let v = part.parse::<T>().map_err(serde::de::Error::custom)?;
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_serialises_null_cursor_and_accepts_missing() {
        let p: Page<u32> = Page::new(vec![1, 2], None);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"items":[1,2],"next_cursor":null}"#);
        let back: Page<u32> = serde_json::from_str(r#"{"items":[]}"#).unwrap();
        assert!(back.is_last());
    }

    #[test]
    fn page_params_in_a_query_string() {
        let q: PageParams = serde_urlencoded::from_str("limit=10&cursor=abc").unwrap();
        assert_eq!(q, PageParams { limit: Some(10), cursor: Some("abc".into()) });
        assert_eq!(serde_urlencoded::to_string(&q).unwrap(), "limit=10&cursor=abc");
        assert_eq!(serde_urlencoded::to_string(PageParams::default()).unwrap(), "");
        assert!(serde_urlencoded::from_str::<PageParams>("limt=10").is_err(), "typos are refused");
        assert!(serde_urlencoded::from_str::<PageParams>("limit=ten").is_err());
    }

    #[test]
    fn paging_rules() {
        assert!(PageParams { limit: Some(1000), cursor: None }.paging_errors().is_empty());
        let errs = PageParams { limit: Some(0), cursor: Some(String::new()) }.paging_errors();
        assert_eq!(errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["limit", "cursor"]);
        assert_eq!(
            PageParams { limit: Some(1001), cursor: None }.paging_errors()[0].rule,
            "must be between 1 and 1000"
        );
        assert_eq!(PageParams::default().effective_limit(), DEFAULT_LIMIT);
        let nul = PageParams { limit: None, cursor: Some("abc\0".into()) }.paging_errors();
        assert_eq!(nul.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["cursor"], "a NUL is no cursor");
    }
}
