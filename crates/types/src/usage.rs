//! A model call's or a run's `usage` object, kept as the JSON text it arrived as.
//!
//! OpenRouter's usage object has some twenty members (token counts, their details, cost
//! and its details); a run carries it from the stream to its stored row, its terminal
//! event and its view. Kept as a tree it was parsed into maps of owned keys once and
//! written out three times — about a twentieth of a session run's instructions. Kept as
//! text it is checked once, its three numbers ferry reads (`prompt_tokens`,
//! `completion_tokens`, `cost`) are read in the same pass, and it is written as it came.
//! The wire shape is unchanged: a JSON object.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// A `usage` object: its JSON text, and the numbers ferry reads from it.
#[derive(Clone)]
pub struct UsageObject {
    text: Box<RawValue>,
    numbers: UsageNumbers,
}

/// The members of a usage object ferry reads, as a JSON tree's `as_u64` / `as_f64` read
/// them (a member of another type is absent; a repeated member's last value counts).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct UsageNumbers {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    cost: Option<f64>,
}

/// Why a text is not a usage object.
#[derive(Debug, thiserror::Error)]
#[error("a usage object must be a JSON object: {0}")]
pub struct UsageError(#[source] serde_json::Error);

impl UsageObject {
    /// Checks `text` (a JSON object) and reads its numbers.
    pub fn from_text(text: &str) -> Result<UsageObject, UsageError> {
        let numbers = serde_json::from_str::<UsageNumbers>(text).map_err(UsageError)?;
        let text = RawValue::from_string(text.to_owned()).map_err(UsageError)?;
        Ok(UsageObject { text, numbers })
    }

    /// The usage object `value` is; `None` when it is not an object.
    pub fn from_value(value: &Value) -> Option<UsageObject> {
        let object = value.as_object()?;
        let u64_of = |key: &str| object.get(key).and_then(Value::as_u64);
        let numbers = UsageNumbers {
            prompt_tokens: u64_of("prompt_tokens"),
            completion_tokens: u64_of("completion_tokens"),
            cost: object.get("cost").and_then(Value::as_f64),
        };
        let text = serde_json::value::to_raw_value(value).ok()?;
        Some(UsageObject { text, numbers })
    }

    /// The object as a JSON tree (for the rare reader that needs more than its numbers).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.text.get()).unwrap_or_default()
    }

    /// Its JSON text.
    pub fn as_str(&self) -> &str {
        self.text.get()
    }

    /// `prompt_tokens`, when an unsigned integer.
    pub fn prompt_tokens(&self) -> Option<u64> {
        self.numbers.prompt_tokens
    }

    /// `completion_tokens`, when an unsigned integer.
    pub fn completion_tokens(&self) -> Option<u64> {
        self.numbers.completion_tokens
    }

    /// `cost` (USD credits), when a number.
    pub fn cost(&self) -> Option<f64> {
        self.numbers.cost
    }
}

/// Equal when their trees are (texts may differ in spacing or a number's spelling).
impl PartialEq for UsageObject {
    fn eq(&self, other: &UsageObject) -> bool {
        self.text.get() == other.text.get() || self.to_value() == other.to_value()
    }
}

/// JSON has no NaN: equality of trees is an equivalence.
impl Eq for UsageObject {}

impl fmt::Debug for UsageObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UsageObject")
            .field(&self.text.get())
            .finish()
    }
}

impl Serialize for UsageObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(serializer)
    }
}

/// Read from any deserialiser (a stored event is read from a tree) as a tree first.
impl<'de> Deserialize<'de> for UsageObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UsageObject, D::Error> {
        let value = Value::deserialize(deserializer)?;
        UsageObject::from_value(&value)
            .ok_or_else(|| de::Error::invalid_type(unexpected(&value), &"a usage object"))
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("a number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

impl<'de> Deserialize<'de> for UsageNumbers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UsageNumbers, D::Error> {
        deserializer.deserialize_map(NumbersVisitor)
    }
}

struct NumbersVisitor;

impl<'de> Visitor<'de> for NumbersVisitor {
    type Value = UsageNumbers;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a usage object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UsageNumbers, A::Error> {
        let mut numbers = UsageNumbers::default();
        while let Some(key) = map.next_key::<Member>()? {
            match key {
                Member::PromptTokens => {
                    numbers.prompt_tokens = map.next_value::<Value>()?.as_u64();
                }
                Member::CompletionTokens => {
                    numbers.completion_tokens = map.next_value::<Value>()?.as_u64();
                }
                Member::Cost => numbers.cost = map.next_value::<Value>()?.as_f64(),
                Member::Other => {
                    map.next_value::<Checked>()?;
                }
            }
        }
        Ok(numbers)
    }
}

/// Any value, read as a JSON tree would read it (a number out of `f64`'s range is
/// refused, as a tree refuses it; serde's `IgnoredAny` would let it pass) and not kept.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// A member's key, told apart without keeping it.
enum Member {
    PromptTokens,
    CompletionTokens,
    Cost,
    Other,
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Member, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Member;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Member, E> {
                Ok(match key {
                    "prompt_tokens" => Member::PromptTokens,
                    "completion_tokens" => Member::CompletionTokens,
                    "cost" => Member::Cost,
                    _ => Member::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OPENROUTER: &str = r#"{"prompt_tokens":8,"completion_tokens":9,"total_tokens":17,"cost":6.5999999999999995e-6,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":0,"audio_tokens":0},"cost_details":{"upstream_inference_cost":null,"upstream_inference_prompt_cost":0,"upstream_inference_completions_cost":0},"completion_tokens_details":{"reasoning_tokens":0,"image_tokens":0,"audio_tokens":0}}"#;

    #[test]
    fn a_usage_object_is_written_as_it_came_and_reads_its_numbers() {
        let text =
            r#"{"cost": 0.0000066, "prompt_tokens":8 ,"completion_tokens":9,"x":[1,{"cost":2}]}"#;
        let usage = UsageObject::from_text(text).unwrap();
        assert_eq!(serde_json::to_string(&usage).unwrap(), text);
        assert_eq!(usage.as_str(), text);
        assert_eq!(usage.prompt_tokens(), Some(8));
        assert_eq!(usage.completion_tokens(), Some(9));
        assert_eq!(usage.cost(), Some(0.0000066));
        // Inside a bigger document, too.
        let wrapped = serde_json::to_string(&vec![usage.clone()]).unwrap();
        assert_eq!(wrapped, format!("[{text}]"));
    }

    /// The numbers read from the text are the ones a tree of it gives, whatever the text.
    #[test]
    fn numbers_are_read_as_a_tree_reads_them() {
        let cases = [
            OPENROUTER,
            r#"{}"#,
            r#"{"prompt_tokens":-1,"completion_tokens":2.5,"cost":"0.1"}"#,
            r#"{"prompt_tokens":null,"cost":3}"#,
            r#"{"prompt_tokens":1,"prompt_tokens":2,"cost":1e400}"#,
            r#"{"prompt_tokens":18446744073709551615,"completion_tokens":18446744073709551616}"#,
            r#"{"prompt\u005ftokens":4,"cost":{"total":1}}"#,
            r#"{"x":1e400}"#,
            r#"{"x":[{"y":-1e999}]}"#,
            r#"{"x":"\ud800"}"#,
        ];
        for text in cases {
            let Ok(tree) = serde_json::from_str::<Value>(text) else {
                assert!(UsageObject::from_text(text).is_err(), "{text}");
                continue;
            };
            let from_text = UsageObject::from_text(text).unwrap();
            let from_tree = UsageObject::from_value(&tree).unwrap();
            assert_eq!(from_text.numbers, from_tree.numbers, "{text}");
            assert_eq!(
                from_text.prompt_tokens(),
                tree.get("prompt_tokens").and_then(Value::as_u64)
            );
            assert_eq!(from_text.cost(), tree.get("cost").and_then(Value::as_f64));
            assert_eq!(from_text, from_tree, "{text}");
            assert_eq!(from_text.to_value(), tree);
        }
    }

    #[test]
    fn what_is_not_an_object_is_refused_with_why() {
        for text in ["[1]", "null", "3", r#""x""#, r#"{"a":"#, r#"{"a":1}x"#] {
            let err = UsageObject::from_text(text).unwrap_err();
            assert!(
                err.to_string().starts_with("a usage object must be"),
                "{err}"
            );
        }
        assert!(UsageObject::from_value(&json!([1])).is_none());
        let err = serde_json::from_value::<UsageObject>(json!(3)).unwrap_err();
        assert!(err.to_string().contains("expected a usage object"), "{err}");
    }

    #[test]
    fn it_reads_back_from_text_and_from_a_tree() {
        let usage = UsageObject::from_text(OPENROUTER).unwrap();
        let text = serde_json::to_string(&usage).unwrap();
        let again: UsageObject = serde_json::from_str(&text).unwrap();
        assert_eq!(again, usage);
        let tree = serde_json::to_value(&usage).unwrap();
        assert_eq!(tree, serde_json::from_str::<Value>(OPENROUTER).unwrap());
        let from_tree: UsageObject = serde_json::from_value(tree).unwrap();
        assert_eq!(from_tree, usage);
        assert_eq!(from_tree.cost(), Some(6.5999999999999995e-6));
    }
}
