//! Walking a parsed TOML document with source positions: typed reads of keys that turn
//! every problem into a [`ConfigError`] at the right `line:column`, and conversion of
//! sub-tables to JSON for the params and provider-routing parsers.
//!
//! Messages are built from key names, table names and static text only; values never
//! appear in them.

use std::path::Path;

use serde_json::Value as Json;
use toml_edit::{Item, TableLike, TomlError, Value};

use crate::error::{ConfigError, FieldError, FieldErrorKind, TableName};

/// The routes file text and path, for turning byte offsets into positions.
pub(crate) struct Source<'a> {
    pub(crate) text: &'a str,
    pub(crate) path: &'a Path,
}

impl Source<'_> {
    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// An error at a byte offset.
    pub(crate) fn error_at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.line_col(offset);
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A TOML syntax error, described from its position and kind only.
    pub(crate) fn syntax_error(&self, err: &TomlError) -> ConfigError {
        let offset = err.span().map_or(0, |s| s.start);
        self.error_at(offset, describe_syntax_error(err.message()))
    }
}

/// The labels toml_edit's parser puts in "invalid …" messages; we copy a label only when
/// it is one of these, so parser text can never carry a value into our message.
const SYNTAX_LABELS: &[&str] = &[
    "array",
    "basic string",
    "binary integer",
    "date-time",
    "escape sequence",
    "floating-point number",
    "hexadecimal integer",
    "inline table",
    "integer",
    "key",
    "literal string",
    "multiline basic string",
    "multiline literal string",
    "octal integer",
    "string",
    "table header",
    "time offset",
    "time",
    "unicode 4-digit hex code",
    "unicode 8-digit hex code",
];

const NOT_SHOWN: &str = "the text is not shown because it may contain a secret";

fn describe_syntax_error(parser_message: &str) -> String {
    if parser_message.contains("duplicate key") {
        return format!(
            "TOML syntax error: duplicate key or table (each may be defined only once); {NOT_SHOWN}"
        );
    }
    if parser_message.contains("dotted key") {
        return format!(
            "TOML syntax error: a dotted key extends a key that is not a table; {NOT_SHOWN}"
        );
    }
    if parser_message.contains("value is out of range") {
        return format!("TOML syntax error: a number is out of range; {NOT_SHOWN}");
    }
    let label = parser_message
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("invalid "))
        .and_then(|l| SYNTAX_LABELS.iter().find(|s| **s == l));
    match label {
        Some(label) => format!("TOML syntax error: invalid {label}; {NOT_SHOWN}"),
        None => format!(
            "TOML syntax error (check quotes, brackets and `key = value` form); {NOT_SHOWN}"
        ),
    }
}

/// One table of the document (standard or inline) with its name and position.
pub(crate) struct View<'a> {
    pub(crate) src: &'a Source<'a>,
    pub(crate) name: TableName,
    table: &'a dyn TableLike,
    /// Byte offset used for problems of the table as a whole (missing keys).
    pub(crate) at: usize,
}

fn start(item: &Item) -> Option<usize> {
    item.span().map(|s| s.start)
}

impl<'a> View<'a> {
    /// The root table.
    pub(crate) fn root(src: &'a Source<'a>, table: &'a dyn TableLike) -> Self {
        View {
            src,
            name: TableName::root(),
            table,
            at: 0,
        }
    }

    /// The keys of this table, in document order.
    pub(crate) fn keys(&self) -> Vec<&'a str> {
        self.table.iter().map(|(k, _)| k).collect()
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some_and(|i| !i.is_none())
    }

    fn item(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key).filter(|i| !i.is_none())
    }

    /// Byte offset of `key` itself.
    pub(crate) fn key_offset(&self, key: &str) -> usize {
        self.table
            .key(key)
            .and_then(|k| k.span())
            .map_or(self.at, |s| s.start)
    }

    /// Byte offset of the value of `key` (or of the key when the value has no position).
    pub(crate) fn value_offset(&self, key: &str) -> usize {
        self.item(key)
            .and_then(start)
            .unwrap_or_else(|| self.key_offset(key))
    }

    /// Fails on the first key that is not in `valid`.
    pub(crate) fn check_keys(&self, valid: &[&'static str]) -> Result<(), ConfigError> {
        for key in self.keys() {
            if !valid.contains(&key) {
                return Err(self.src.error_at(
                    self.key_offset(key),
                    FieldError::unknown(key, valid).describe(Some(&self.name)),
                ));
            }
        }
        Ok(())
    }

    /// `key "K" in [T] must be {expected}`, at the value.
    pub(crate) fn expected(&self, key: &str, expected: &str) -> ConfigError {
        self.src.error_at(
            self.value_offset(key),
            FieldError::expected(key, expected).describe(Some(&self.name)),
        )
    }

    /// `missing key "K" in [T]; {hint}`, at the table.
    pub(crate) fn missing(&self, key: &str, hint: Option<&str>) -> ConfigError {
        let err = FieldError::new(
            key,
            FieldErrorKind::Missing {
                hint: hint.map(str::to_string),
            },
        );
        self.src.error_at(self.at, err.describe(Some(&self.name)))
    }

    /// A free-form message at the value of `key`.
    pub(crate) fn error_at_value(&self, key: &str, message: impl Into<String>) -> ConfigError {
        self.src.error_at(self.value_offset(key), message)
    }

    /// A [`FieldError`] from a JSON-level parser of the sub-table `key`, positioned at the
    /// offending nested key or value where it can be found.
    pub(crate) fn nested_field_error(&self, key: &str, err: FieldError) -> ConfigError {
        let mut offset = self.value_offset(key);
        let mut item = self.item(key);
        for segment in err.key.split('.') {
            let Some(table) = item.and_then(Item::as_table_like) else {
                break;
            };
            let Some(child) = table.get(segment) else {
                break;
            };
            let want_key = matches!(err.kind, FieldErrorKind::UnknownKey { .. });
            let key_span = table.key(segment).and_then(|k| k.span()).map(|s| s.start);
            offset = if want_key {
                key_span.or_else(|| start(child)).unwrap_or(offset)
            } else {
                start(child).or(key_span).unwrap_or(offset)
            };
            item = Some(child);
        }
        self.src
            .error_at(offset, err.describe(Some(&self.name.child(key))))
    }

    /// The string value of `key`, if present.
    pub(crate) fn string(&self, key: &str, expected: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.item(key) {
            None => Ok(None),
            Some(item) => item
                .as_str()
                .map(Some)
                .ok_or_else(|| self.expected(key, expected)),
        }
    }

    /// The boolean value of `key`, if present.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.item(key) {
            None => Ok(None),
            Some(item) => item
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.expected(key, "true or false")),
        }
    }

    /// The integer value of `key` (at least 1), if present.
    pub(crate) fn positive_int(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        match self.item(key) {
            None => Ok(None),
            Some(item) => item
                .as_integer()
                .filter(|n| *n > 0)
                .and_then(|n| u64::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.expected(key, "a positive integer")),
        }
    }

    /// The array of strings at `key`, each with its byte offset, if present.
    pub(crate) fn string_array(
        &self,
        key: &str,
        expected: &str,
    ) -> Result<Option<Vec<(&'a str, usize)>>, ConfigError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        let array = item
            .as_array()
            .ok_or_else(|| self.expected(key, expected))?;
        let mut out = Vec::with_capacity(array.len());
        for v in array.iter() {
            let offset = v.span().map_or_else(|| self.value_offset(key), |s| s.start);
            match v.as_str() {
                Some(s) => out.push((s, offset)),
                None => {
                    return Err(self.src.error_at(
                        offset,
                        FieldError::expected(key, expected).describe(Some(&self.name)),
                    ))
                }
            }
        }
        Ok(Some(out))
    }

    /// The sub-table at `key` (standard or inline), if present.
    pub(crate) fn table(&self, key: &str) -> Result<Option<View<'a>>, ConfigError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        let table = item
            .as_table_like()
            .ok_or_else(|| self.expected(key, "a table"))?;
        Ok(Some(View {
            src: self.src,
            name: self.name.child(key),
            table,
            at: start(item).unwrap_or_else(|| self.key_offset(key)),
        }))
    }

    /// The sub-table at `key` converted to JSON, if present.
    pub(crate) fn json_table(&self, key: &str) -> Result<Option<Json>, ConfigError> {
        let Some(item) = self.item(key) else {
            return Ok(None);
        };
        if !item.is_table_like() {
            return Err(self.expected(key, "a table"));
        }
        item_to_json(item)
            .map(Some)
            .map_err(|(path, offset, problem)| {
                let offset = offset.unwrap_or_else(|| self.value_offset(key));
                let (full, table) = if path.is_empty() {
                    (key.to_string(), self.name.clone())
                } else {
                    (path, self.name.child(key))
                };
                self.src.error_at(
                    offset,
                    format!("key \"{full}\" {} {problem}", table.location()),
                )
            })
    }
}

/// A conversion problem: nested key path, byte offset, what is wrong.
type JsonProblem = (String, Option<usize>, &'static str);

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn item_to_json(item: &Item) -> Result<Json, JsonProblem> {
    match item {
        Item::Value(v) => value_to_json(v, ""),
        Item::Table(t) => table_to_json(t, ""),
        Item::ArrayOfTables(a) => {
            let mut out = Vec::new();
            for t in a.iter() {
                out.push(table_to_json(t, "")?);
            }
            Ok(Json::Array(out))
        }
        Item::None => Ok(Json::Null),
    }
}

fn table_to_json(table: &dyn TableLike, path: &str) -> Result<Json, JsonProblem> {
    let mut map = serde_json::Map::new();
    for (k, item) in table.iter() {
        let sub = join(path, k);
        let v = match item {
            Item::Value(v) => value_to_json(v, &sub)?,
            Item::Table(t) => table_to_json(t, &sub)?,
            Item::ArrayOfTables(a) => {
                let mut out = Vec::new();
                for t in a.iter() {
                    out.push(table_to_json(t, &sub)?);
                }
                Json::Array(out)
            }
            Item::None => continue,
        };
        map.insert(k.to_string(), v);
    }
    Ok(Json::Object(map))
}

fn value_to_json(v: &Value, path: &str) -> Result<Json, JsonProblem> {
    let at = || v.span().map(|s| s.start);
    Ok(match v {
        Value::String(s) => Json::String(s.value().clone()),
        Value::Integer(i) => Json::from(*i.value()),
        Value::Float(f) => serde_json::Number::from_f64(*f.value())
            .map(Json::Number)
            .ok_or_else(|| (path.to_string(), at(), "must be a finite number"))?,
        Value::Boolean(b) => Json::Bool(*b.value()),
        Value::Datetime(_) => {
            return Err((
                path.to_string(),
                at(),
                "holds a date/time, which no setting here accepts",
            ))
        }
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for item in a.iter() {
                out.push(value_to_json(item, path)?);
            }
            Json::Array(out)
        }
        Value::InlineTable(t) => table_to_json(t, path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = Source {
            text: "a = 1\nbé = 2\n",
            path: Path::new("r.toml"),
        };
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        // "bé " is 4 bytes but 3 characters; `=` is the 4th character.
        assert_eq!(src.line_col(10), (2, 4));
        assert_eq!(src.line_col(999), (3, 1));
    }

    #[test]
    fn syntax_descriptions_come_from_our_own_text() {
        assert!(describe_syntax_error("invalid string\nexpected `\"`").contains("invalid string"));
        assert!(
            describe_syntax_error("duplicate key `x` in document root").contains("duplicate key")
        );
        let odd = describe_syntax_error("invalid sk-or-v1-SECRET");
        assert!(!odd.contains("SECRET"), "{odd}");
    }
}
