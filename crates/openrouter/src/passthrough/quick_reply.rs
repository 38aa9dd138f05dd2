//! A one-pass reading of a non-streaming `chat.completion` body of the usual shape: it
//! checks that the whole body is JSON and takes what the pass-through acts on (model,
//! usage, the first choice's text and finish reason) in a single scan, without serde's
//! per-field dispatch or any allocation for a reply without escapes.
//!
//! It answers only for the plain shape: no `error`, a `choices` array whose first choice
//! (index 0) has a `message` with string or null `content`, no duplicated field that the
//! serde probe ([`super::probe::ReplyProbe`]) reads. Anything else — an error, content
//! parts, an escaped key, a field of an unexpected type, a body that is not JSON — gives
//! `None`, and the caller reads the body with the serde probe, which says exactly what is
//! wrong. Where it answers, it answers what the serde probe would (a property test
//! compares the two).

use std::borrow::Cow;

use super::probe::{Usage, UsageProbe};
use crate::json_scan::{once, Scan};

/// What a plain `chat.completion` body says.
#[derive(Debug, PartialEq)]
pub(crate) struct QuickReply<'a> {
    /// `model`, when a string.
    pub model: Option<&'a str>,
    /// `usage`, when an object.
    pub usage: Option<Usage>,
    /// The first choice's `message.content` (`""` when null or absent).
    pub text: Cow<'a, str>,
    /// The first choice's `finish_reason`, when a string.
    pub finish_reason: Option<&'a str>,
}

/// Reads `body` if it is a valid JSON `chat.completion` of the plain shape; `None` means
/// "use the serde probe".
pub(crate) fn read(body: &[u8]) -> Option<QuickReply<'_>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut scan = Scan::new(text);
    let mut top = Top::default();
    scan.object(|scan, key| top.member(scan, key))?;
    scan.end()?;
    let choice = top.first?;
    let message = choice.message?;
    Some(QuickReply {
        model: top.model.flatten(),
        usage: top.usage.flatten(),
        text: message.unwrap_or(Cow::Borrowed("")),
        finish_reason: choice.finish_reason.flatten(),
    })
}

/// The top-level fields read so far (`Some` once seen: a second one means "use serde").
#[derive(Default)]
struct Top<'a> {
    model: Option<Option<&'a str>>,
    usage: Option<Option<Usage>>,
    choices: Option<()>,
    error: Option<()>,
    first: Option<Choice<'a>>,
}

/// The fields of one choice.
#[derive(Default)]
struct Choice<'a> {
    index: Option<Option<u64>>,
    error: Option<()>,
    finish_reason: Option<Option<&'a str>>,
    delta: Option<()>,
    /// `Some(content)` once `message` was read; content `None` when null or absent.
    message: Option<Option<Cow<'a, str>>>,
}

impl<'a> Top<'a> {
    fn member(&mut self, scan: &mut Scan<'a>, key: &str) -> Option<()> {
        match key {
            "model" => once(&mut self.model, scan.plain_text_or_null()),
            "error" => once(&mut self.error, scan.null()),
            "usage" => once(&mut self.usage, scan.usage()),
            "choices" => {
                let mut first = None;
                let read = scan.array(|scan| {
                    let choice = scan.choice()?;
                    if first.is_none() && choice.index.flatten().unwrap_or(0) == 0 {
                        first = Some(choice);
                    }
                    Some(())
                });
                self.first = first;
                once(&mut self.choices, read)
            }
            _ => scan.skip_value(),
        }
    }
}

impl<'a> Scan<'a> {
    /// `usage`: an object (its token counts and cost) or null.
    fn usage(&mut self) -> Option<Option<Usage>> {
        if self.is_null() {
            return Some(None);
        }
        let (mut prompt, mut completion, mut cost) = (None, None, None);
        self.object(|scan, key| match key {
            "prompt_tokens" => once(&mut prompt, scan.number_or_null()),
            "completion_tokens" => once(&mut completion, scan.number_or_null()),
            "cost" => once(&mut cost, scan.number_or_null()),
            _ => scan.skip_value(),
        })?;
        let probe = UsageProbe {
            prompt_tokens: prompt.flatten(),
            completion_tokens: completion.flatten(),
            cost: cost.flatten(),
        };
        Some(Some(probe.summary()))
    }

    /// One element of `choices`.
    fn choice(&mut self) -> Option<Choice<'a>> {
        let mut choice = Choice::default();
        self.object(|scan, key| match key {
            "index" => once(&mut choice.index, scan.number_or_null()),
            "error" => once(&mut choice.error, scan.null()),
            "finish_reason" => once(&mut choice.finish_reason, scan.plain_text_or_null()),
            "delta" => once(&mut choice.delta, scan.null()),
            "message" => once(&mut choice.message, scan.message()),
            _ => scan.skip_value(),
        })?;
        Some(choice)
    }

    /// A choice's `message` (an object): its content, `None` when null or absent.
    fn message(&mut self) -> Option<Option<Cow<'a, str>>> {
        let mut content: Option<Option<Cow<'a, str>>> = None;
        // The probe's other fields: any value, or (the lists) an array or null.
        let mut seen = [None; 5];
        self.object(|scan, key| match key {
            "content" => once(&mut content, scan.text_or_null()),
            "reasoning" => once(&mut seen[0], scan.skip_value()),
            "reasoning_details" => once(&mut seen[1], scan.skip_array_or_null()),
            "tool_calls" => once(&mut seen[2], scan.skip_array_or_null()),
            "images" => once(&mut seen[3], scan.skip_array_or_null()),
            "audio" => once(&mut seen[4], scan.skip_value()),
            _ => scan.skip_value(),
        })?;
        Some(content.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passthrough::probe::ReplyProbe;

    /// Model, usage, text and finish reason, as both readers give them.
    type Read = (Option<String>, Option<Usage>, String, Option<String>);

    /// What the serde probe makes of `body`, in the quick reader's terms (`None` where
    /// it fails or the quick reader would decline).
    fn by_serde(body: &str) -> Option<Read> {
        let probe: ReplyProbe = serde_json::from_str(body).ok()?;
        if probe.error.as_ref().is_some_and(|e| !e.is_null()) {
            return None;
        }
        let choice = probe.first_choice()?;
        if choice.error.as_ref().is_some_and(|e| !e.is_null()) {
            return None;
        }
        let message = choice.message.as_ref()?;
        Some((
            probe.model.as_deref().map(str::to_owned),
            probe.usage.as_ref().map(|u| u.summary()),
            message.text().unwrap_or_default().into_owned(),
            choice.finish_reason.as_deref().map(str::to_owned),
        ))
    }

    fn quick(body: &[u8]) -> Option<Read> {
        read(body).map(|q| {
            (
                q.model.map(str::to_owned),
                q.usage,
                q.text.into_owned(),
                q.finish_reason.map(str::to_owned),
            )
        })
    }

    const REPLY: &str = r#"{"id":"gen-1796430090-JG6QNzkvY4wQV88s5bka","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion","created":1796430090,"choices":[{"logprobs":null,"finish_reason":"stop","native_finish_reason":"stop","index":0,"message":{"role":"assistant","content":"echo: hello there, how are you today","refusal":null,"reasoning":null}}],"system_fingerprint":null,"usage":{"prompt_tokens":8,"completion_tokens":9,"total_tokens":17,"cost":6.5999999999999995e-6,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":0,"audio_tokens":0},"cost_details":{"upstream_inference_cost":null,"upstream_inference_prompt_cost":0,"upstream_inference_completions_cost":0},"completion_tokens_details":{"reasoning_tokens":0,"image_tokens":0,"audio_tokens":0}}}"#;

    #[test]
    fn reads_openrouters_reply() {
        let q = read(REPLY.as_bytes()).expect("the plain shape");
        assert_eq!(q.model, Some("openai/gpt-5.4-mini"));
        assert_eq!(q.text, "echo: hello there, how are you today");
        assert_eq!(q.finish_reason, Some("stop"));
        assert_eq!(
            q.usage,
            Some(Usage {
                prompt_tokens: 8,
                completion_tokens: 9,
                cost: Some(6.5999999999999995e-6)
            })
        );
        assert!(matches!(q.text, Cow::Borrowed(_)));
        assert_eq!(quick(REPLY.as_bytes()), by_serde(REPLY));
    }

    #[test]
    fn declines_what_serde_must_judge() {
        for body in [
            r#"{"error":{"message":"no"},"choices":[]}"#,
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"choices":[{"index":0,"error":{"code":500},"message":{"content":"a"}}]}"#,
            r#"{"choices":[{"index":0}]}"#,
            r#"{"choices":[]}"#,
            r#"{"choices":null}"#,
            r#"{"model":"a","model":"b","choices":[{"message":{}}]}"#,
            r#"{"mod\u0065l":"a","choices":[{"message":{}}]}"#,
            r#"{"choices":[{"message":{"tool_calls":{}}}]}"#,
            r#"{"choices":[{"message":{"content":"a"}}]} x"#,
            r#"{"choices":[{"message":{"content":"a"}}],}"#,
            r#"{"choices":[{"message":{"content":"a\u00"}}]}"#,
            r#"{"choices":[{"message":{"content":"a"}}],"usage":{"cost":01}}"#,
            r#"[]"#,
            "",
        ] {
            assert_eq!(read(body.as_bytes()), None, "{body}");
        }
        let mut deep = String::from(r#"{"choices":[{"message":{}}],"x":"#);
        deep.push_str(&"[".repeat(100));
        deep.push_str(&"]".repeat(100));
        deep.push('}');
        assert_eq!(read(deep.as_bytes()), None);
    }

    #[test]
    fn escapes_are_unescaped_where_they_count() {
        let body = r#"{"choices":[{"index":0,"message":{"content":"line\none \"q\" \u00e9 \ud83d\ude00"},"finish_reason":null}],"usage":null}"#;
        let q = read(body.as_bytes()).unwrap();
        assert_eq!(q.text, "line\none \"q\" é 😀");
        assert_eq!(q.finish_reason, None);
        assert_eq!(quick(body.as_bytes()), by_serde(body));
        // A lone surrogate is not JSON serde accepts.
        let lone = r#"{"choices":[{"message":{"content":"\ud83d"}}]}"#;
        assert_eq!(read(lone.as_bytes()), None);
        assert_eq!(by_serde(lone), None);
    }

    /// Every body made by cutting, doubling or replacing a byte of OpenRouter's reply (and
    /// of a variant with escapes and a second choice) is read the same by both: where
    /// the quick reader answers, serde answers the same; where serde fails, the quick
    /// reader declines.
    #[test]
    fn answers_as_the_serde_probe_does() {
        let variant = r#"{"model":"m","choices":[{"index":1,"message":{"content":"no"}},{"index":0,"finish_reason":"length","message":{"role":"assistant","content":"tab\there","tool_calls":[],"reasoning":"r"}}],"usage":{"prompt_tokens":1.5e1,"completion_tokens":-3,"cost":0}}"#;
        let mut checked = 0;
        for base in [REPLY, variant] {
            assert!(read(base.as_bytes()).is_some());
            for body in crate::json_scan::one_edit_away(base) {
                let quick = quick(&body);
                let serde = std::str::from_utf8(&body).ok().and_then(by_serde);
                if quick.is_some() {
                    assert_eq!(quick, serde, "{}", String::from_utf8_lossy(&body));
                }
                if serde_json::from_slice::<ReplyProbe>(&body).is_err() {
                    assert!(quick.is_none(), "{}", String::from_utf8_lossy(&body));
                }
                checked += 1;
            }
        }
        assert!(checked > 30_000);
    }
}
