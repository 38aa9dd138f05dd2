//! Typed reads of `serde_json` values for the params and provider-routing parsers. Each
//! read either returns the value or a [`FieldError`] that names the key and the expected
//! type, never the value.

use serde_json::{Map, Value};

use crate::error::FieldError;

/// The value as an object, or `must be {expected}`.
pub(crate) fn object<'a>(
    key: &str,
    v: &'a Value,
    expected: &str,
) -> Result<&'a Map<String, Value>, FieldError> {
    v.as_object()
        .ok_or_else(|| FieldError::expected(key, expected))
}

/// Fails on the first key of `obj` that is not in `valid`.
pub(crate) fn only_keys(
    obj: &Map<String, Value>,
    valid: &[&'static str],
    prefix: Option<&str>,
) -> Result<(), FieldError> {
    for key in obj.keys() {
        if !valid.contains(&key.as_str()) {
            let err = FieldError::unknown(key.as_str(), valid);
            return Err(match prefix {
                Some(p) => err.nested_in(p),
                None => err,
            });
        }
    }
    Ok(())
}

/// A finite number (JSON numbers are always finite) within `min..=max`.
pub(crate) fn number_in(
    key: &str,
    v: &Value,
    min: f64,
    max: f64,
    expected: &str,
) -> Result<f64, FieldError> {
    match v.as_f64() {
        Some(n) if n >= min && n <= max => Ok(n),
        _ => Err(FieldError::expected(key, expected)),
    }
}

/// A boolean.
pub(crate) fn boolean(key: &str, v: &Value) -> Result<bool, FieldError> {
    v.as_bool()
        .ok_or_else(|| FieldError::expected(key, "true or false"))
}

/// A string.
pub(crate) fn string<'a>(key: &str, v: &'a Value, expected: &str) -> Result<&'a str, FieldError> {
    v.as_str()
        .ok_or_else(|| FieldError::expected(key, expected))
}

/// An array of non-empty strings.
pub(crate) fn string_array(key: &str, v: &Value) -> Result<Vec<String>, FieldError> {
    let expected = "an array of non-empty strings";
    let items = v
        .as_array()
        .ok_or_else(|| FieldError::expected(key, expected))?;
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(FieldError::expected(key, expected)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_report_key_and_expectation() {
        assert_eq!(number_in("t", &json!(1), 0.0, 2.0, "x"), Ok(1.0));
        let e = number_in("t", &json!(3), 0.0, 2.0, "a number from 0 to 2").unwrap_err();
        assert_eq!(e.to_string(), "key \"t\" must be a number from 0 to 2");
        assert!(number_in("t", &json!("1"), 0.0, 2.0, "x").is_err());
        assert!(boolean("b", &json!("true")).is_err());
        assert_eq!(
            string_array("a", &json!(["x", "y"])).unwrap(),
            vec!["x", "y"]
        );
        assert!(string_array("a", &json!(["x", ""])).is_err());
        assert!(string_array("a", &json!([1])).is_err());
        assert!(string_array("a", &json!("x")).is_err());
        let obj = json!({"a": 1, "zz": 2});
        let e = only_keys(obj.as_object().unwrap(), &["a"], Some("p")).unwrap_err();
        assert_eq!(e.key, "p.zz");
    }
}
