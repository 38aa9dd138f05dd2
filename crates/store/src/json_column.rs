//! JSON values in TEXT columns: serialising a `serde_json::Value` for binding and parsing
//! a column back, with failures reported as rusqlite conversion errors.

use ferry_types::UsageObject;
use rusqlite::types::Type;
use rusqlite::Row;
use serde_json::Value;

/// The column text for `value`.
pub(crate) fn to_text<T: serde::Serialize + ?Sized>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// [`to_text`] for an optional value (`None` stays SQL NULL).
pub(crate) fn to_text_opt(value: Option<&Value>) -> rusqlite::Result<Option<String>> {
    value.map(to_text).transpose()
}

/// Parses the JSON text in column `idx`; SQL NULL is `None`.
pub(crate) fn column_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Value>> {
    read_opt(row, idx, |text| serde_json::from_str::<Value>(text))
}

/// The usage object in column `idx`, kept as its text; SQL NULL is `None`.
pub(crate) fn usage_opt(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<UsageObject>> {
    read_opt(row, idx, UsageObject::from_text)
}

/// The text in column `idx` read by `read`, its failure a conversion error.
fn read_opt<T, E>(
    row: &Row<'_>,
    idx: usize,
    read: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<Option<T>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.get(idx)?;
    text.map(|text| {
        read(&text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
    })
    .transpose()
}

/// Parses the JSON text in the NOT NULL column `idx`.
pub(crate) fn column(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    column_opt(row, idx).map(Option::unwrap_or_default)
}

/// Parses the JSON text in column `idx` (not NULL) as a `T`.
pub(crate) fn parsed<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}
