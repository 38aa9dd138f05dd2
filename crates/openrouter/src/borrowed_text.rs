//! A serde helper for the cheap readers of upstream JSON ([`crate::chunk`], the
//! pass-through's probes): optional text fields that borrow from the payload instead of
//! allocating.

use std::borrow::Cow;

use serde::de::{self, Visitor};
use serde::Deserializer;

/// An optional string field, borrowed from the payload when it has no escapes: use as
/// `#[serde(default, borrow, deserialize_with = "borrowed_text::optional")]` on an
/// `Option<Cow<'a, str>>` (serde's own `Cow` impl borrows only outside an `Option`, so
/// such a field was always an allocated copy).
pub(crate) fn optional<'de, D>(d: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(Text)
        }
    }
    d.deserialize_option(Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(default, borrow, deserialize_with = "optional")]
        text: Option<Cow<'a, str>>,
    }

    fn read(json: &str) -> Option<Cow<'_, str>> {
        serde_json::from_str::<Probe>(json).unwrap().text
    }

    #[test]
    fn borrows_plain_text_copies_escaped_text_and_reads_null_and_absence_as_none() {
        assert!(matches!(
            read(r#"{"text":"plain"}"#),
            Some(Cow::Borrowed("plain"))
        ));
        assert!(matches!(read(r#"{"text":"a\"b"}"#), Some(Cow::Owned(s)) if s == "a\"b"));
        assert_eq!(read(r#"{"text":null}"#), None);
        assert_eq!(read("{}"), None);
        assert!(serde_json::from_str::<Probe>(r#"{"text":5}"#).is_err());
    }
}
