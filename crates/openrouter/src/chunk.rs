//! One chat stream chunk, as the accumulator ([`crate::stream`]) reads it: the fields it
//! uses, with the text fields borrowed from the payload.
//!
//! A well-formed chunk is deserialised straight into these types, without building a JSON
//! tree (the tree of a ~300-byte chunk, with its map of owned keys, cost about five times
//! as much and was most of a session run's parsing). A chunk that does not fit them (a
//! number where a string belongs, a duplicated key, …) is parsed as a tree and read from
//! it with the tree's leniency ([`Chunk::from_tree`]): a field of the wrong type is
//! absent. Both ways give the same chunk for the same payload, which the tests check.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use ferry_types::UsageObject;

use crate::borrowed_text;
use crate::json_scan::{once, Scan};

/// The fields of a chunk the accumulator reads.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub(crate) struct Chunk<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub model: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub provider: Option<Cow<'a, str>>,
    /// Only an object counts (another value reads as none).
    #[serde(default, deserialize_with = "usage_object")]
    pub usage: Option<UsageObject>,
    /// A mid-stream error (null: none).
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default, borrow)]
    pub choices: Option<Vec<Choice<'a>>>,
}

/// One entry of `choices`.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub(crate) struct Choice<'a> {
    /// Absent or null: 0.
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default)]
    pub error: Option<Value>,
    /// `delta` when present (even null, which then carries nothing), else `message`.
    #[serde(default, borrow, deserialize_with = "present")]
    pub delta: Option<Option<Delta<'a>>>,
    #[serde(default, borrow)]
    pub message: Option<Delta<'a>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// The output a `delta` (or a non-streamed `message`) carries.
#[derive(Debug, Default, Deserialize, PartialEq)]
pub(crate) struct Delta<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub reasoning: Option<Cow<'a, str>>,
    #[serde(default)]
    pub reasoning_details: Option<Vec<Value>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text::optional")]
    pub content: Option<Cow<'a, str>>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
    #[serde(default)]
    pub images: Option<Vec<Value>>,
}

/// Tells a field that is present but null (`Some(None)`) from an absent one (`None`, by
/// `default`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `usage` when it is an object, kept as its text (a tree would re-spell its numbers);
/// none for null or another value. A chunk is read from its text, which the raw value
/// borrows.
fn usage_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UsageObject>, D::Error> {
    usage_of_raw(<&RawValue>::deserialize(d)?.get()).map_err(serde::de::Error::custom)
}

/// The usage object a member's raw value is (both readers read `usage` so): none when it
/// is not an object.
fn usage_of_raw(raw: &str) -> Result<Option<UsageObject>, ferry_types::UsageError> {
    if !raw.starts_with('{') {
        return Ok(None);
    }
    UsageObject::from_text(raw).map(Some)
}

/// Why a payload is not a chunk.
#[derive(Debug, PartialEq)]
pub(crate) enum ChunkError {
    /// Not JSON at all (serde_json's message).
    Json(String),
    /// JSON, but not an object.
    NotObject,
}

/// What the quick reader remembers of a stream's last chunk: its text up to the first
/// member that carries something (`choices`, `usage` or `error`), and which of `id`,
/// `model` and `provider` that text held. OpenRouter repeats the same `id`, `provider`,
/// `model`, `object` and `created` at the head of every chunk of a stream; a chunk that
/// begins with the same bytes is read from where they end, since the members there say
/// what they said in the chunk before, which the accumulator already holds (setting
/// `id`, `model` or `provider` again to the same text changes nothing). Those members
/// then read as absent; any other member of the chunk reads as it always does.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChunkHead {
    text: Vec<u8>,
    /// `id`, `model`, `provider`: whether the head held each.
    held: [bool; 3],
}

impl<'a> Chunk<'a> {
    /// Reads `data` (trimmed, not empty), the fast way when it fits; `tree` keeps the
    /// parsed tree the slow way borrows from; `head` is the stream's [`ChunkHead`].
    pub fn parse(
        data: &'a str,
        tree: &'a mut Option<Value>,
        head: &mut ChunkHead,
    ) -> Result<Chunk<'a>, ChunkError> {
        // The usual chunk in one scan ([`quick`]); what it declines, serde reads.
        if let Some(chunk) = quick(data, head) {
            return Ok(chunk);
        }
        // Only an object can fit; a `[…]` would otherwise be read as a struct's fields.
        if data.starts_with('{') {
            if let Ok(chunk) = serde_json::from_str::<Chunk<'a>>(data) {
                return Ok(chunk);
            }
        }
        let parsed = tree.insert(
            serde_json::from_str::<Value>(data).map_err(|e| ChunkError::Json(e.to_string()))?,
        );
        parsed
            .as_object()
            .map(Chunk::from_tree)
            .ok_or(ChunkError::NotObject)
    }

    /// The chunk read leniently from a parsed object: a field of another type than
    /// expected is absent, a `choices` entry that is not an object carries nothing.
    pub fn from_tree(obj: &'a Map<String, Value>) -> Chunk<'a> {
        Chunk {
            id: text(obj.get("id")),
            model: text(obj.get("model")),
            provider: text(obj.get("provider")),
            usage: obj.get("usage").and_then(UsageObject::from_value),
            error: obj.get("error").filter(|e| !e.is_null()).cloned(),
            choices: obj
                .get("choices")
                .and_then(Value::as_array)
                .map(|choices| choices.iter().map(Choice::from_tree).collect()),
        }
    }
}

impl<'a> Choice<'a> {
    fn from_tree(choice: &'a Value) -> Choice<'a> {
        Choice {
            // A non-integer index reads as 0, as it always has.
            index: choice
                .get("index")
                .filter(|i| !i.is_null())
                .map(|i| i.as_u64().unwrap_or(0)),
            error: choice.get("error").filter(|e| !e.is_null()).cloned(),
            delta: choice
                .get("delta")
                .map(|d| (!d.is_null()).then(|| Delta::from_tree(d))),
            message: choice.get("message").map(Delta::from_tree),
            finish_reason: text(choice.get("finish_reason")),
        }
    }

    /// The choice's output: its `delta`, or its `message` when it has no `delta`.
    pub fn output(&mut self) -> Option<Delta<'a>> {
        match self.delta.take() {
            Some(delta) => delta,
            None => self.message.take(),
        }
    }
}

impl<'a> Delta<'a> {
    fn from_tree(delta: &'a Value) -> Delta<'a> {
        let list = |key| delta.get(key).and_then(Value::as_array).cloned();
        Delta {
            reasoning: text(delta.get("reasoning")),
            reasoning_details: list("reasoning_details"),
            content: text(delta.get("content")),
            tool_calls: list("tool_calls"),
            images: list("images"),
        }
    }
}

/// The usual chunk (text and reasoning deltas, a finish reason, usage; no error, tool
/// calls, images or reasoning details, no `message`) read in one scan by
/// [`crate::json_scan`], as serde would read it into [`Chunk`]; `None` for any other
/// payload, which serde then reads (a property test holds the two to the same answers).
///
/// A chunk that begins with `head`'s text is read from where it ends; otherwise, once read,
/// its own head replaces `head`.
fn quick<'d>(data: &'d str, head: &mut ChunkHead) -> Option<Chunk<'d>> {
    let mut scan = Scan::new(data);
    let (mut id, mut model, mut provider) = (None, None, None);
    let (mut usage, mut error, mut choices) = (None, None, None);
    // Where this chunk's head ends, and what it held.
    let mut own_head: Option<(usize, [bool; 3])> = None;
    let resume = !head.text.is_empty() && data.as_bytes().starts_with(&head.text);
    if resume {
        // Held in the head: read already (as null, so a repeat is refused as before).
        for (slot, held) in [&mut id, &mut model, &mut provider]
            .into_iter()
            .zip(head.held)
        {
            if held {
                *slot = Some(None);
            }
        }
    }
    let member = |scan: &mut Scan<'d>, key: &str, at: usize| {
        if !resume && own_head.is_none() && matches!(key, "usage" | "error" | "choices") {
            own_head = Some((at, [id.is_some(), model.is_some(), provider.is_some()]));
        }
        match key {
            "id" => once(&mut id, scan.text_or_null()),
            "model" => once(&mut model, scan.text_or_null()),
            "provider" => once(&mut provider, scan.text_or_null()),
            // Kept as its text when an object; another value reads as none.
            "usage" => once(
                &mut usage,
                scan.raw_value().and_then(|raw| usage_of_raw(raw).ok()),
            ),
            "error" => once(&mut error, scan.null()),
            "choices" => {
                let mut read = Vec::with_capacity(1);
                let done = scan.array(|scan| {
                    read.push(quick_choice(scan)?);
                    Some(())
                });
                once(&mut choices, done.map(|()| read))
            }
            _ => scan.skip_value(),
        }
    };
    if resume {
        scan.object_from(head.text.len(), member)?;
    } else {
        scan.object_at(member)?;
    }
    scan.end()?;
    if let (false, Some((at, held))) = (resume, own_head) {
        head.text.clear();
        head.text.extend_from_slice(&data.as_bytes()[..at]);
        head.held = held;
    }
    Some(Chunk {
        id: id.flatten(),
        model: model.flatten(),
        provider: provider.flatten(),
        usage: usage.flatten(),
        error: None,
        choices,
    })
}

/// One element of `choices`, for [`quick`].
fn quick_choice<'a>(scan: &mut Scan<'a>) -> Option<Choice<'a>> {
    let (mut index, mut error, mut delta, mut finish_reason) = (None, None, None, None);
    scan.object(|scan, key| match key {
        "index" => once(&mut index, scan.number_or_null()),
        "error" => once(&mut error, scan.null()),
        "finish_reason" => once(&mut finish_reason, scan.text_or_null()),
        "delta" => {
            let read = if scan.is_null() {
                Some(None)
            } else {
                quick_delta(scan).map(Some)
            };
            once(&mut delta, read)
        }
        // A whole `message` in a chunk is rare: serde reads it.
        "message" => None,
        _ => scan.skip_value(),
    })?;
    Some(Choice {
        index: index.flatten(),
        error: None,
        delta,
        message: None,
        finish_reason: finish_reason.flatten(),
    })
}

/// A `delta` object of text and reasoning, for [`quick`].
fn quick_delta<'a>(scan: &mut Scan<'a>) -> Option<Delta<'a>> {
    let (mut reasoning, mut content, mut lists) = (None, None, [None; 3]);
    scan.object(|scan, key| match key {
        "reasoning" => once(&mut reasoning, scan.text_or_null()),
        "content" => once(&mut content, scan.text_or_null()),
        // Present only as null here (a list is read by serde, into values).
        "reasoning_details" => once(&mut lists[0], scan.null()),
        "tool_calls" => once(&mut lists[1], scan.null()),
        "images" => once(&mut lists[2], scan.null()),
        _ => scan.skip_value(),
    })?;
    Some(Delta {
        reasoning: reasoning.flatten(),
        reasoning_details: None,
        content: content.flatten(),
        tool_calls: None,
        images: None,
    })
}

fn text(value: Option<&Value>) -> Option<Cow<'_, str>> {
    value.and_then(Value::as_str).map(Cow::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunk read the fast way, and the same payload read from its tree.
    fn both(data: &str) -> (Chunk<'_>, Chunk<'static>) {
        let fast = serde_json::from_str::<Chunk>(data).expect("fits the fast way");
        let tree: &'static Value = Box::leak(Box::new(serde_json::from_str(data).unwrap()));
        (fast, Chunk::from_tree(tree.as_object().unwrap()))
    }

    #[test]
    fn both_ways_read_the_same_chunks() {
        for data in [
            r#"{"id":"gen-1","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1,"choices":[{"index":0,"delta":{"role":"assistant","content":" hello"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#,
            r#"{"id":"gen-1","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":9,"cost":6.6e-6}}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning":"th\"ink","reasoning_details":[{"type":"reasoning.text","index":0,"text":"a"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"get","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"second"}},{"index":0,"message":{"content":"whole","images":[{"type":"image_url"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":null,"message":{"content":"not read"}}]}"#,
            r#"{"error":{"code":502,"message":"boom"},"choices":[{"index":0,"error":null,"delta":{"content":""}}]}"#,
            r#"{"usage":null,"error":null,"id":"","choices":null}"#,
        ] {
            let (fast, slow) = both(data);
            assert_eq!(fast, slow, "{data}");
        }
    }

    #[test]
    fn a_chunk_that_does_not_fit_is_read_from_its_tree() {
        let mut tree = None;
        let data = r#"{"id":7,"model":"m","choices":[{"index":-1,"delta":{"content":"x"}},"junk",{"index":0,"finish_reason":5,"delta":{"content":["y"]}}]}"#;
        let mut chunk = Chunk::parse(data, &mut tree, &mut ChunkHead::default()).unwrap();
        assert_eq!(chunk.id, None);
        assert_eq!(chunk.model.as_deref(), Some("m"));
        let choices = chunk.choices.as_mut().unwrap();
        assert_eq!(choices[0].index, Some(0), "a negative index reads as 0");
        assert_eq!(choices[1].output(), None);
        assert_eq!(choices[2].finish_reason, None);
        assert_eq!(choices[2].output().unwrap().content, None);
        drop(chunk);
        assert!(tree.is_some(), "read the slow way");
    }

    #[test]
    fn a_well_formed_chunk_builds_no_tree_and_borrows_its_text() {
        let mut tree = None;
        let data = r#"{"id":"gen-1","choices":[{"index":0,"delta":{"content":" hello"}}]}"#;
        let mut chunk = Chunk::parse(data, &mut tree, &mut ChunkHead::default()).unwrap();
        let content = chunk.choices.as_mut().unwrap()[0].output().unwrap().content;
        assert!(matches!(content, Some(Cow::Borrowed(" hello"))));
        drop(chunk);
        assert!(tree.is_none(), "no tree was built");
    }

    /// Every payload made by cutting, doubling or replacing a byte of OpenRouter's chunks
    /// is read the same by the quick reader and by serde: where the quick reader answers,
    /// serde gives the same chunk; where serde cannot read it into a [`Chunk`], the quick
    /// reader declines.
    #[test]
    fn the_quick_reader_answers_as_serde_does() {
        let chunks = [
            r#"{"id":"gen-1796430090-8dFKGuN4bxY77H9dJZGg","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1796430090,"choices":[{"index":0,"delta":{"role":"assistant","content":" hello"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#,
            r#"{"id":"g","choices":[{"index":0,"delta":{"content":"a\nb \"q\" \u00e9","reasoning":null,"tool_calls":null},"finish_reason":"stop"}],"usage":null,"error":null}"#,
            r#"{"choices":[{"index":1,"delta":null},{"delta":{"reasoning":"think"}}]}"#,
            r#"{"id":"gen-1","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":9,"total_tokens":17,"cost":6.5999999999999995e-6,"prompt_tokens_details":{"cached_tokens":0},"cost_details":{"upstream_inference_cost":null}}}"#,
        ];
        let mut checked = 0;
        for base in chunks {
            assert!(fresh(base).is_some(), "{base}");
            for body in crate::json_scan::one_edit_away(base) {
                checked += 1;
                let Ok(data) = std::str::from_utf8(&body) else {
                    continue;
                };
                let by_serde = serde_json::from_str::<Chunk>(data).ok();
                if let Some(q) = fresh(data) {
                    assert_eq!(Some(q), by_serde, "{data}");
                }
                if by_serde.is_none() {
                    assert_eq!(fresh(data), None, "{data}");
                }
            }
        }
        assert!(checked > 15_000);
    }

    /// The quick reader with nothing remembered of a chunk before.
    fn fresh(data: &str) -> Option<Chunk<'_>> {
        quick(data, &mut ChunkHead::default())
    }

    const FIRST: &str = r#"{"id":"gen-1796544832-9qvE7uxJhzx5q63EsuXV","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1796544832,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#;

    /// Every payload one edit away from a stream's later chunks (a delta, the usage
    /// chunk), read after the stream's first chunk, answers as serde reads it, except that
    /// the members of the head it repeats read as absent (they say what the first chunk
    /// said, which the accumulator holds); where serde cannot read it, the reader declines.
    #[test]
    fn a_chunk_read_after_the_head_it_repeats_answers_as_serde_does() {
        let mut learned = ChunkHead::default();
        let first = quick(FIRST, &mut learned).expect("the first chunk is quick");
        assert_eq!(
            std::str::from_utf8(&learned.text).unwrap(),
            &FIRST[..FIRST.find(r#""choices""#).unwrap()]
        );
        assert_eq!(learned.held, [true, true, true]);
        let (mut resumed, mut checked) = (0, 0);
        for base in [
            r#"{"id":"gen-1796544832-9qvE7uxJhzx5q63EsuXV","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1796544832,"choices":[{"index":0,"delta":{"role":"assistant","content":" hello"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#,
            r#"{"id":"gen-1796544832-9qvE7uxJhzx5q63EsuXV","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1796544832,"choices":[],"usage":{"prompt_tokens":8,"completion_tokens":9,"cost":6.5999999999999995e-6,"prompt_tokens_details":{"cached_tokens":0}},"id":"x"}"#,
        ] {
            for body in std::iter::once(base.as_bytes().to_vec())
                .chain(crate::json_scan::one_edit_away(base))
            {
                let Ok(data) = std::str::from_utf8(&body) else {
                    continue;
                };
                checked += 1;
                let repeats = data.as_bytes().starts_with(&learned.text);
                let by_serde = serde_json::from_str::<Chunk>(data).ok();
                let mut head = learned.clone();
                match quick(data, &mut head) {
                    Some(q) => {
                        let mut expected = by_serde.expect("serde reads what the reader reads");
                        if repeats {
                            resumed += 1;
                            assert_eq!(
                                (&expected.id, &expected.model, &expected.provider),
                                (&first.id, &first.model, &first.provider),
                                "{data}"
                            );
                            (expected.id, expected.model, expected.provider) = (None, None, None);
                        }
                        assert_eq!(q, expected, "{data}");
                    }
                    None => assert!(by_serde.is_none() || !repeats || fresh(data).is_none()),
                }
            }
        }
        // The usage chunk repeats `id` after its head: refused by both, as a duplicate.
        assert!(checked > 8_000 && resumed > 1_000, "{checked} {resumed}");
    }

    #[test]
    fn a_chunk_that_repeats_no_head_is_read_whole_and_teaches_its_own() {
        let mut head = ChunkHead::default();
        quick(FIRST, &mut head).unwrap();
        let other = r#"{"id":"gen-2","model":"m","choices":[{"index":0,"delta":{"content":"x"}}]}"#;
        let chunk = quick(other, &mut head).unwrap();
        assert_eq!(chunk.id.as_deref(), Some("gen-2"));
        assert_eq!(head.text, br#"{"id":"gen-2","model":"m","#);
        assert_eq!(head.held, [true, true, false]);
        let again = quick(other, &mut head).unwrap();
        assert_eq!((again.id, again.model), (None, None), "read after the head");
        // A head is only a prefix: a chunk that merely begins with it is still checked.
        assert_eq!(
            quick(r#"{"id":"gen-2","model":"m","id":"z"}"#, &mut head),
            None
        );
        assert_eq!(quick(r#"{"id":"gen-2","model":"m",}"#, &mut head), None);
    }

    #[test]
    fn the_quick_reader_leaves_lists_and_errors_to_serde() {
        for data in [
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}"#,
            r#"{"error":{"message":"x"}}"#,
            r#"{"choices":[{"index":0,"message":{"content":"whole"}}]}"#,
            r#"{"id":"a","id":"b"}"#,
            r#"{"choices":null}"#,
        ] {
            assert_eq!(fresh(data), None, "{data}");
        }
    }

    #[test]
    fn payloads_that_are_not_chunks_say_why() {
        let mut tree = None;
        assert_eq!(
            Chunk::parse("[1,2]", &mut tree, &mut ChunkHead::default()),
            Err(ChunkError::NotObject)
        );
        let mut tree = None;
        assert_eq!(
            Chunk::parse("[]", &mut tree, &mut ChunkHead::default()),
            Err(ChunkError::NotObject)
        );
        let mut tree = None;
        assert!(matches!(
            Chunk::parse("{\"id\":", &mut tree, &mut ChunkHead::default()),
            Err(ChunkError::Json(_))
        ));
    }
}
