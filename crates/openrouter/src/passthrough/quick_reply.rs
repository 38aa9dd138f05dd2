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
//!
//! [`read_chunk`] reads a streamed `chat.completion.chunk` the same way for the stream's
//! tap: its first choice's `delta` (or `message`), whether it carries output, and its
//! finish reason; no choice at all (a usage chunk) is fine there.

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
    let top = Top::read(body)?;
    let choice = top.first?;
    if choice.delta.flatten().is_some() {
        return None;
    }
    let message = choice.message.flatten()?;
    Some(QuickReply {
        model: top.model.flatten(),
        usage: top.usage.flatten(),
        text: message.content.unwrap_or(Cow::Borrowed("")),
        finish_reason: choice.finish_reason.flatten(),
    })
}

/// What a plain `chat.completion.chunk` says.
#[derive(Debug, PartialEq)]
pub(crate) struct QuickChunk<'a> {
    /// `model`, when a string.
    pub model: Option<&'a str>,
    /// `usage`, when an object.
    pub usage: Option<Usage>,
    /// The first choice (index 0), when there is one.
    pub first: Option<QuickChoice<'a>>,
}

/// The first choice of a [`QuickChunk`].
#[derive(Debug, PartialEq)]
pub(crate) struct QuickChoice<'a> {
    /// Its `delta`, else its `message`, when either is an object.
    pub part: Option<Part<'a>>,
    /// Its `finish_reason`, when a string.
    pub finish_reason: Option<&'a str>,
}

/// A choice's `delta` or `message`.
#[derive(Debug, PartialEq, Default)]
pub(crate) struct Part<'a> {
    /// `content`, when a string.
    pub content: Option<Cow<'a, str>>,
    /// Whether it carries anything a client would show or act on (as
    /// [`super::probe::MessageProbe::has_output`] says).
    pub output: bool,
}

/// Reads a streamed chunk's `data` if it is valid JSON of the plain shape (no error, a
/// string or null `content`); `None` means "use the serde probe".
pub(crate) fn read_chunk(data: &[u8]) -> Option<QuickChunk<'_>> {
    let top = Top::read(data)?;
    top.choices?;
    Some(QuickChunk {
        model: top.model.flatten(),
        usage: top.usage.flatten(),
        first: top.first.map(|c| QuickChoice {
            part: c.delta.flatten().or(c.message.flatten()),
            finish_reason: c.finish_reason.flatten(),
        }),
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
    /// `Some` once `delta` was read; `Some(None)` when null.
    delta: Option<Option<Part<'a>>>,
    /// `Some` once `message` was read; `Some(None)` when null.
    message: Option<Option<Part<'a>>>,
}

impl<'a> Top<'a> {
    /// A whole JSON object's top-level fields.
    fn read(body: &'a [u8]) -> Option<Top<'a>> {
        let text = std::str::from_utf8(body).ok()?;
        let mut scan = Scan::new(text);
        let mut top = Top::default();
        scan.object(|scan, key| top.member(scan, key))?;
        scan.end()?;
        Some(top)
    }

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
            "delta" => once(&mut choice.delta, scan.part_or_null()),
            "message" => once(&mut choice.message, scan.part_or_null()),
            _ => scan.skip_value(),
        })?;
        Some(choice)
    }

    /// A choice's `message` or `delta`: an object (its content and whether it carries
    /// output), or null.
    fn part_or_null(&mut self) -> Option<Option<Part<'a>>> {
        if self.is_null() {
            return Some(None);
        }
        let mut content: Option<Option<Cow<'a, str>>> = None;
        // The probe's other fields, each read once: whether it carries output.
        let mut seen = [None; 5];
        self.object(|scan, key| match key {
            "content" => once(&mut content, scan.text_or_null()),
            "reasoning" => once(
                &mut seen[0],
                scan.text_or_null()
                    .map(|t| t.is_some_and(|t| !t.is_empty())),
            ),
            "reasoning_details" => once(&mut seen[1], scan.some_elements_or_null()),
            "tool_calls" => once(&mut seen[2], scan.some_elements_or_null()),
            "images" => once(&mut seen[3], scan.some_elements_or_null()),
            "audio" => once(
                &mut seen[4],
                match scan.is_null() {
                    true => Some(false),
                    false => scan.skip_value().map(|()| true),
                },
            ),
            _ => scan.skip_value(),
        })?;
        let content = content.flatten();
        let output = content.as_ref().is_some_and(|c| !c.is_empty()) || seen.contains(&Some(true));
        Some(Some(Part { content, output }))
    }

    /// An array (whether it has elements) or null (`false`).
    fn some_elements_or_null(&mut self) -> Option<bool> {
        if self.is_null() {
            return Some(false);
        }
        let mut any = false;
        self.array(|scan| {
            any = true;
            scan.skip_value()
        })?;
        Some(any)
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
        assert!([REPLY, variant]
            .iter()
            .all(|b| read(b.as_bytes()).is_some()));
        assert!(agrees_with_serde(&[REPLY, variant], quick, by_serde) > 30_000);
    }

    /// Over every body one edit away from each of `bases`: where `quick` answers, `serde`
    /// answers the same; where the serde probe fails, `quick` declines. How many bodies.
    fn agrees_with_serde<T: PartialEq + std::fmt::Debug>(
        bases: &[&str],
        quick: fn(&[u8]) -> Option<T>,
        serde: fn(&str) -> Option<T>,
    ) -> usize {
        let mut checked = 0;
        for base in bases {
            for body in crate::json_scan::one_edit_away(base) {
                let q = quick(&body);
                let text = String::from_utf8_lossy(&body);
                if q.is_some() {
                    let s = std::str::from_utf8(&body).ok().and_then(serde);
                    assert_eq!(q, s, "{text}");
                }
                if serde_json::from_slice::<ReplyProbe>(&body).is_err() {
                    assert!(q.is_none(), "{text}");
                }
                checked += 1;
            }
        }
        checked
    }

    /// A chunk's model, usage, and first choice (output, text, finish reason), as both
    /// readers give them.
    type ChunkRead = (
        Option<String>,
        Option<Usage>,
        Option<(bool, Option<String>, Option<String>)>,
    );

    /// What the serde probe (as the stream's tap reads it) makes of `data`; `None` where
    /// it fails or carries an error (which the quick reader leaves to it).
    fn chunk_by_serde(data: &str) -> Option<ChunkRead> {
        let probe: ReplyProbe = serde_json::from_str(data).ok()?;
        if probe.error.as_ref().is_some_and(|e| !e.is_null()) {
            return None;
        }
        let first = match probe.first_choice() {
            None => None,
            Some(c) if c.error.as_ref().is_some_and(|e| !e.is_null()) => return None,
            Some(c) => {
                let part = c.delta.as_ref().or(c.message.as_ref());
                Some((
                    part.is_some_and(|p| p.has_output()),
                    part.and_then(|p| p.text()).map(|t| t.into_owned()),
                    c.finish_reason.as_deref().map(str::to_owned),
                ))
            }
        };
        Some((
            probe.model.as_deref().map(str::to_owned),
            probe.usage.as_ref().map(|u| u.summary()),
            first,
        ))
    }

    fn chunk_quick(data: &[u8]) -> Option<ChunkRead> {
        read_chunk(data).map(|q| {
            (
                q.model.map(str::to_owned),
                q.usage,
                q.first.map(|c| {
                    let output = c.part.as_ref().is_some_and(|p| p.output);
                    let text = c.part.and_then(|p| p.content).map(Cow::into_owned);
                    (output, text, c.finish_reason.map(str::to_owned))
                }),
            )
        })
    }

    /// Every chunk one edit away from OpenRouter's (a role chunk, a text chunk, a tool
    /// call's, a finish with usage, and one with escapes and reasoning) is read the same
    /// by both: where the quick reader answers, serde answers the same; where serde
    /// fails, the quick reader declines.
    #[test]
    fn reads_chunks_as_the_serde_probe_does() {
        let chunks = [
            r#"{"id":"gen-1","provider":"OpenAI","model":"openai/gpt-5.4-mini","object":"chat.completion.chunk","created":1796430090,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"native_finish_reason":null,"logprobs":null}]}"#,
            r#"{"id":"gen-1","model":"openai/gpt-5.4-mini","choices":[{"index":0,"delta":{"content":"echo:"},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}],"reasoning_details":[],"images":null,"audio":null}}]}"#,
            r#"{"id":"gen-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":9,"cost":6.5e-6}}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"no"}},{"delta":null,"message":{"content":"a\n\"b\"","reasoning":"\u00e9"},"finish_reason":"length"}],"usage":null,"error":null}"#,
            r#"{"id":"gen-1","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":9,"cost":0}}"#,
        ];
        for base in chunks {
            assert!(read_chunk(base.as_bytes()).is_some(), "{base}");
            assert_eq!(chunk_quick(base.as_bytes()), chunk_by_serde(base), "{base}");
        }
        assert!(agrees_with_serde(&chunks, chunk_quick, chunk_by_serde) > 30_000);
    }
}
