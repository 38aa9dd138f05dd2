//! Column conversions shared by the repositories: JSON documents kept as text, and
//! unsigned counts kept in BIGINT columns.

use ferry_store::{StoreError, UsageObject};
use serde_json::Value;
use tokio_postgres::Row;

use crate::db_error;

/// The column text for `value`.
pub(crate) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// [`json_text`] for an optional value (`None` stays NULL).
pub(crate) fn json_text_opt(value: Option<&Value>) -> Option<String> {
    value.map(json_text)
}

/// Parses the JSON text in the nullable column `name` of `row`.
pub(crate) fn json_opt(row: &Row, name: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<&str> = row.get(name);
    text.map(|t| serde_json::from_str(t).map_err(|e| db_error::bad_json(name, e)))
        .transpose()
}

/// The usage object in the nullable column `name` of `row`, kept as its text.
pub(crate) fn usage_opt(row: &Row, name: &str) -> Result<Option<UsageObject>, StoreError> {
    let text: Option<&str> = row.get(name);
    text.map(|t| UsageObject::from_text(t).map_err(|e| db_error::bad_usage(name, e)))
        .transpose()
}

/// Parses the JSON text in the NOT NULL column `name` (NULL reads as `null`).
pub(crate) fn json(row: &Row, name: &str) -> Result<Value, StoreError> {
    json_opt(row, name).map(Option::unwrap_or_default)
}

/// A non-negative BIGINT column as `u64`.
pub(crate) fn count(row: &Row, idx: usize) -> u64 {
    u64::try_from(row.get::<_, i64>(idx)).unwrap_or(0)
}

/// A `u64` for a BIGINT parameter.
pub(crate) fn bigint(n: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| db_error::out_of_range(what))
}
