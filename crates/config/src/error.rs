//! Error types of this crate.
//!
//! Every message is written by us from key names, table names and static text; no value
//! read from the routes file (or from a JSON override) ever appears in an error, because a
//! value may be an API key pasted into the wrong place.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Why a routes file could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error(
        "cannot read routes file {}: {source} (create one from routes.example.toml or run `ferry onboard`)",
        path.display()
    )]
    Read {
        /// The routes file path as given.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid routes file.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The routes file path as given.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column (in characters) of the offending key or value.
        column: usize,
        /// What is wrong and how to fix it; never contains a value from the file.
        message: String,
    },
}

impl ConfigError {
    /// The `(line, column)` of an [`ConfigError::Invalid`] error.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ConfigError::Invalid { line, column, .. } => Some((*line, *column)),
            ConfigError::Read { .. } => None,
        }
    }
}

/// A problem with one key of a table (TOML or JSON), described without its value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.describe(None))]
pub struct FieldError {
    /// The offending key; nested keys are dotted (`response_format.type`).
    pub key: String,
    /// What is wrong with it.
    pub kind: FieldErrorKind,
}

/// The kinds of [`FieldError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// The key is not known in its table.
    UnknownKey {
        /// The keys the table accepts.
        valid: Vec<&'static str>,
    },
    /// The value has the wrong type or is out of range; `expected` completes
    /// "must be …" (e.g. "a number from 0 to 2").
    Expected(String),
    /// A required key is absent; `hint` explains how to fix it.
    Missing {
        /// How to fix it.
        hint: Option<String>,
    },
    /// The key was given under both its snake_case name and its camelCase alias.
    Duplicate {
        /// The other spelling that was also given.
        other: String,
    },
    /// The key may not be combined with another key of the same table.
    Conflict {
        /// The other key.
        other: String,
        /// How to fix it.
        hint: String,
    },
}

impl FieldError {
    /// A new error for `key`.
    pub fn new(key: impl Into<String>, kind: FieldErrorKind) -> Self {
        FieldError {
            key: key.into(),
            kind,
        }
    }

    /// Shorthand for [`FieldErrorKind::Expected`].
    pub fn expected(key: impl Into<String>, expected: impl Into<String>) -> Self {
        FieldError::new(key, FieldErrorKind::Expected(expected.into()))
    }

    /// Shorthand for [`FieldErrorKind::UnknownKey`].
    pub fn unknown(key: impl Into<String>, valid: &[&'static str]) -> Self {
        FieldError::new(
            key,
            FieldErrorKind::UnknownKey {
                valid: valid.to_vec(),
            },
        )
    }

    /// The same error with `prefix.` put in front of the key (for nested tables).
    pub fn nested_in(mut self, prefix: &str) -> Self {
        self.key = format!("{prefix}.{}", self.key);
        self
    }

    /// A one-line description; `table` is where the key lives, if known.
    pub fn describe(&self, table: Option<&TableName>) -> String {
        let loc = match table {
            Some(t) => format!(" {}", t.location()),
            None => String::new(),
        };
        let key = &self.key;
        match &self.kind {
            FieldErrorKind::UnknownKey { valid } => {
                format!(
                    "unknown key \"{key}\"{loc}; valid keys: {}",
                    valid.join(", ")
                )
            }
            FieldErrorKind::Expected(expected) => {
                format!("key \"{key}\"{loc} must be {expected}")
            }
            FieldErrorKind::Missing { hint } => match hint {
                Some(h) => format!("missing key \"{key}\"{loc}; {h}"),
                None => format!("missing key \"{key}\"{loc}"),
            },
            FieldErrorKind::Duplicate { other } => {
                format!("key \"{key}\"{loc} is given twice (also as \"{other}\"); keep one")
            }
            FieldErrorKind::Conflict { other, hint } => {
                format!("keys \"{key}\" and \"{other}\"{loc} cannot be used together; {hint}")
            }
        }
    }
}

/// The name of a TOML table, for messages: `[routes.openrouter.models."openai/gpt-5"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableName(Vec<String>);

impl TableName {
    /// The root table of the document.
    pub fn root() -> Self {
        TableName(Vec::new())
    }

    /// The sub-table `key` of this table.
    pub fn child(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(key.to_string());
        TableName(segments)
    }

    /// "in [a.b]" or "at the top level".
    pub fn location(&self) -> String {
        if self.0.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in {self}")
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, segment) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let bare = !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare {
                f.write_str(segment)?;
            } else {
                write!(f, "\"{}\"", segment.escape_default())?;
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_quote_non_bare_segments() {
        let t = TableName::root()
            .child("routes")
            .child("openrouter")
            .child("models")
            .child("openai/gpt-5:free");
        assert_eq!(
            t.to_string(),
            "[routes.openrouter.models.\"openai/gpt-5:free\"]"
        );
        assert_eq!(TableName::root().location(), "at the top level");
        assert_eq!(TableName::root().child("routes").location(), "in [routes]");
    }

    #[test]
    fn field_errors_describe_key_table_and_expectation() {
        let t = TableName::root().child("routes").child("openrouter");
        let e = FieldError::expected("timeout_ms", "a positive integer");
        assert_eq!(
            e.describe(Some(&t)),
            "key \"timeout_ms\" in [routes.openrouter] must be a positive integer"
        );
        let e = FieldError::unknown("ordr", &["order", "only"]);
        assert_eq!(
            e.to_string(),
            "unknown key \"ordr\"; valid keys: order, only"
        );
    }
}
