//! Extractors that turn every malformed request into a `validation_failed`
//! problem naming the field at fault, instead of axum's plain-text 400/415/422.
//!
//! Bodies and query strings are decoded through `serde_path_to_error`, so
//! an error says where it happened (`events[3].quantity`), not just what.
//! Decoded requests are then checked with the API crate's [`Validate`]
//! (shape rules), and all shape errors are reported at once.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use creditdesk_api::routes::{headers, idempotency_key_rule};
use creditdesk_api::validate::id_rule;
use creditdesk_api::{FieldError, ProblemCode, Validate};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::policy::Caller;

/// A JSON body, decoded strictly and shape-checked.
pub struct Json<T>(pub T);

/// Largest request body accepted (bytes). A full batch of 1,000 events each
/// with the largest allowed `properties` (4 KiB) is about 4.6 MB, so the
/// limit sits above that: a valid request is never refused for its size.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                ApiError::field("body", "could not be read")
            }
        })?;
        if !is_json(content_type.as_deref()) {
            return Err(ApiError::field("Content-Type", "must be application/json"));
        }
        let value: T = decode_json(&bytes)?;
        let errors = value.validate();
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Json(value))
    }
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(ProblemCode::PayloadTooLarge, format!("the request body exceeds {MAX_BODY_BYTES} bytes"))
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Decodes JSON naming the field of the first error.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is an object. (serde would also accept a struct
    // written as an array of its fields in order; the contract does not.)
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    // Most bodies are valid: decode them without tracking the path (its
    // bookkeeping showed in the profile of a duplicate replay), and decode
    // again, tracking it, only to describe an error. Both accept exactly
    // the same input.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = path_text(err.path());
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::field("body", format!("is not valid JSON ({})", strip_position(&inner.to_string())));
        }
        ApiError::validation(vec![serde_field_error(&path, &strip_position(&inner.to_string()))])
    })?;
    // Trailing characters after the value.
    de.end().map_err(|e| ApiError::field("body", format!("is not valid JSON ({})", strip_position(&e.to_string()))))?;
    Ok(value)
}

/// A query string, decoded strictly and shape-checked.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value: T = decode_query(parts.uri.query().unwrap_or(""))?;
        let errors = value.validate();
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(Query(value))
    }
}

/// A query string decoded strictly, for types without shape rules of their
/// own (`PageParams`: the handler checks paging itself).
pub struct PlainQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for PlainQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PlainQuery(decode_query(parts.uri.query().unwrap_or(""))?))
    }
}

pub fn decode_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = path_text(err.path());
        let inner = err.into_inner().to_string();
        ApiError::validation(vec![serde_field_error(&path, &inner)])
    })
}

/// `a.b[3].c` from a serde path (empty for the root).
fn path_text(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { .. } => {}
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// serde_json appends " at line 1 column 23"; the field path says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The text between the first pair of backticks.
fn quoted(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

/// A serde error at `path` as a field error: unknown and missing fields are
/// named themselves, anything else by the path it occurred at.
fn serde_field_error(path: &str, msg: &str) -> FieldError {
    if msg.starts_with("unknown field") {
        if let Some(name) = quoted(msg) {
            // Depending on the format, the path may already end at the unknown key.
            let field =
                if path == name || path.ends_with(&format!(".{name}")) { path.to_owned() } else { join(path, name) };
            return FieldError::new(field, "is not a known field");
        }
    }
    if msg.starts_with("missing field") {
        if let Some(name) = quoted(msg) {
            return FieldError::new(join(path, name), "is required");
        }
    }
    let field = if path.is_empty() { "body".to_owned() } else { path.to_owned() };
    FieldError::new(field, msg)
}

/// The `{id}` segment of a path, checked as an id.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::field("id", "is not a valid path segment (percent-encode it as UTF-8)"))?;
        if let Some(rule) = id_rule(&id) {
            return Err(ApiError::field("id", rule));
        }
        Ok(PathId(id))
    }
}

/// The request's `Idempotency-Key`, if it sent one (checked).
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(headers::IDEMPOTENCY_KEY) else { return Ok(IdempotencyKey(None)) };
        let text = value.to_str().map_err(|_| ApiError::field("Idempotency-Key", "must be printable ASCII"))?;
        if let Some(rule) = idempotency_key_rule(text) {
            return Err(ApiError::field("Idempotency-Key", rule));
        }
        Ok(IdempotencyKey(Some(text.to_owned())))
    }
}

/// The authenticated caller (set by the auth middleware).
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::unauthorized("a bearer token is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use creditdesk_api::events::IngestRequest;
    use creditdesk_api::grants::CreateGrantRequest;
    use creditdesk_api::ledger::LedgerQuery;

    fn field_of(e: ApiError) -> (String, String) {
        let f = e.problem().errors.clone().into_iter().next().expect("a field error");
        (f.field, f.rule)
    }

    #[test]
    fn json_errors_name_the_field() {
        let body = br#"{"events":[{"id":"e1","customer_id":"c","product_id":"p","quantity":12.5,"timestamp":"2026-01-01T00:00:00Z"}]}"#;
        let (field, rule) = field_of(decode_json::<IngestRequest>(body).err().unwrap());
        assert_eq!(field, "events[0].quantity");
        assert!(rule.contains("JSON numbers are refused"), "{rule}");

        let (field, rule) = field_of(decode_json::<IngestRequest>(br#"{"events":[],"dry":1}"#).err().unwrap());
        assert_eq!((field.as_str(), rule.as_str()), ("dry", "is not a known field"));

        let body = br#"{"events":[{"id":"e1","customer_id":"c","product_id":"p","quantity":"1"}]}"#;
        let (field, rule) = field_of(decode_json::<IngestRequest>(body).err().unwrap());
        assert_eq!((field.as_str(), rule.as_str()), ("events[0].timestamp", "is required"));

        let (field, _) = field_of(decode_json::<IngestRequest>(b"{\"events\":").err().unwrap());
        assert_eq!(field, "body");
        let (field, _) = field_of(decode_json::<IngestRequest>(b"{\"events\":[]} x").err().unwrap());
        assert_eq!(field, "body");
        let (field, _) = field_of(decode_json::<CreateGrantRequest>(b"[]").err().unwrap());
        assert_eq!(field, "body");
        let body = br#"{"customer_id":"c","credit_type_id":"t","amount":"1","category":"paid","source":"purchase","reason_code":"r","rollover":{"fraction":"1","expires_after_days":1,"x":1}}"#;
        let (field, _) = field_of(decode_json::<CreateGrantRequest>(body).err().unwrap());
        assert_eq!(field, "rollover.x");
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let (field, _) = field_of(decode_query::<LedgerQuery>("limit=ten").err().unwrap());
        assert_eq!(field, "limit");
        let (field, rule) = field_of(decode_query::<LedgerQuery>("limt=10").err().unwrap());
        assert_eq!((field.as_str(), rule.as_str()), ("limt", "is not a known field"));
        let (field, _) = field_of(decode_query::<LedgerQuery>("from=yesterday").err().unwrap());
        assert_eq!(field, "from");
        let (field, rule) = field_of(decode_query::<LedgerQuery>("kind=burns").err().unwrap());
        assert_eq!(field, "kind");
        assert!(rule.contains("unknown entry kind"), "{rule}");
        assert!(decode_query::<LedgerQuery>("kind=burn&limit=5").is_ok());
    }

    #[test]
    fn content_types() {
        assert!(is_json(Some("application/json; charset=utf-8")));
        assert!(is_json(Some("application/merge-patch+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }
}
