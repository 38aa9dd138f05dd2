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

use super::probe::Usage;

/// Nesting deeper than this is left to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

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
    let mut scan = Scan {
        b: body,
        s: text,
        i: 0,
        depth: 0,
    };
    let mut top = Top::default();
    scan.ws();
    scan.object(|scan, key| top.member(scan, key))?;
    scan.ws();
    if scan.i != body.len() {
        return None;
    }
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

/// Puts a field the serde probe reads into its slot; `None` when it was there already
/// (serde refuses a duplicated field) or could not be read.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

struct Scan<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// A string at the cursor: its raw contents, and when it has escapes, the whole
    /// token with its quotes (the escapes are then checked by serde_json, whose rules for
    /// them are the ones that count).
    fn string(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.skip_plain_text();
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    // The escaped byte is never the closing quote.
                    self.i += 2;
                }
                0x00..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        let raw = self.s.get(start..self.i)?;
        self.i += 1;
        if !escaped {
            return Some((raw, None));
        }
        let token = self.s.get(start - 1..self.i)?;
        serde_json::from_str::<serde::de::IgnoredAny>(token).ok()?;
        Some((raw, Some(token)))
    }

    /// Moves the cursor inside a string to its next quote, backslash or control byte
    /// (or the end), eight bytes at a time.
    fn skip_plain_text(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // A byte of `w` that is zero sets its high bit here. A byte above a zero one may
        // too (the borrow), but the lowest bit set is always a true zero byte, so the
        // lowest bit of the three tests below is the first special byte.
        let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
        let special = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        let mut i = self.i;
        while let Some(chunk) = self.b.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            let hits = zero_byte(w ^ (ONES * u64::from(b'"')))
                | zero_byte(w ^ (ONES * u64::from(b'\\')))
                | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
            if hits != 0 {
                self.i = i + (hits.trailing_zeros() / 8) as usize;
                return;
            }
            i += 8;
        }
        while self.b.get(i).is_some_and(|&c| !special(c)) {
            i += 1;
        }
        self.i = i;
    }

    /// A number at the cursor, by JSON's grammar; its text.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        self.s.get(start..self.i)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    /// Any value, checked and skipped.
    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|scan, _| scan.skip_value()),
            b'[' => self.array(|scan| scan.skip_value()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// An object; `member` is called with each key (without escapes: a key with escapes
    /// might spell a field, so it gives `None`) and must consume the value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.sequence(b'{', b'}', |scan| {
            scan.ws();
            let (key, None) = scan.string()? else {
                return None;
            };
            scan.ws();
            scan.eat(b':')?;
            member(scan, key)
        })
    }

    /// An array; `element` must consume each element.
    fn array(&mut self, element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.sequence(b'[', b']', element)
    }

    /// `open`, items separated by commas, `close`; `item` must consume each item.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.ws();
        self.eat(open)?;
        self.enter()?;
        self.ws();
        if self.eat(close).is_none() {
            loop {
                item(self)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    c if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn null(&mut self) -> Option<()> {
        self.ws();
        self.literal(b"null")
    }

    fn is_null(&mut self) -> bool {
        self.ws();
        self.literal(b"null").is_some()
    }

    /// A string without escapes, or null (`None`).
    fn plain_text_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.is_null() {
            return Some(None);
        }
        match self.string()? {
            (text, None) => Some(Some(text)),
            (_, Some(_)) => None,
        }
    }

    /// An array or null (serde's `Option<Vec<IgnoredAny>>`).
    fn skip_array_or_null(&mut self) -> Option<()> {
        if self.is_null() {
            return Some(());
        }
        self.array(|scan| scan.skip_value())
    }

    /// A number read as serde reads an `f64` field, or null.
    fn f64_or_null(&mut self) -> Option<Option<f64>> {
        if self.is_null() {
            return Some(None);
        }
        Some(Some(serde_json::from_str(self.number()?).ok()?))
    }

    /// `usage`: an object (its token counts and cost) or null.
    fn usage(&mut self) -> Option<Option<Usage>> {
        if self.is_null() {
            return Some(None);
        }
        let (mut prompt, mut completion, mut cost) = (None, None, None);
        self.object(|scan, key| {
            let slot = match key {
                "prompt_tokens" => &mut prompt,
                "completion_tokens" => &mut completion,
                "cost" => &mut cost,
                _ => return scan.skip_value(),
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(scan.f64_or_null()?);
            Some(())
        })?;
        let count = |v: Option<Option<f64>>| {
            v.flatten()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .unwrap_or(0.0) as u64
        };
        Some(Some(Usage {
            prompt_tokens: count(prompt),
            completion_tokens: count(completion),
            cost: cost.flatten().filter(|c| c.is_finite()),
        }))
    }

    /// One element of `choices`.
    fn choice(&mut self) -> Option<Choice<'a>> {
        let mut choice = Choice::default();
        self.object(|scan, key| match key {
            "index" => {
                let index = if scan.is_null() {
                    Some(None)
                } else {
                    scan.number()
                        .and_then(|n| serde_json::from_str::<u64>(n).ok())
                        .map(Some)
                };
                once(&mut choice.index, index)
            }
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
        let mut seen = [false; 5];
        self.object(|scan, key| {
            let slot = match key {
                "content" => {
                    if content.is_some() {
                        return None;
                    }
                    content = Some(if scan.is_null() {
                        None
                    } else {
                        Some(match scan.string()? {
                            (raw, None) => Cow::Borrowed(raw),
                            (_, Some(token)) => Cow::Owned(serde_json::from_str(token).ok()?),
                        })
                    });
                    return Some(());
                }
                "reasoning" => 0,
                "reasoning_details" => 1,
                "tool_calls" => 2,
                "images" => 3,
                "audio" => 4,
                _ => return scan.skip_value(),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
            match slot {
                1..=3 => scan.skip_array_or_null(),
                _ => scan.skip_value(),
            }
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
        let replacements: &[u8] = b"\"\\{}[],:0123456789-+.eEtrufalsn \x01\xc3";
        let mut checked = 0;
        for base in [REPLY, variant] {
            assert!(read(base.as_bytes()).is_some());
            let bytes = base.as_bytes();
            for at in 0..bytes.len() {
                let mut candidates: Vec<Vec<u8>> = vec![
                    [&bytes[..at], &bytes[at + 1..]].concat(),
                    [&bytes[..=at], &bytes[at..]].concat(),
                    bytes[..at].to_vec(),
                ];
                for &r in replacements {
                    let mut v = bytes.to_vec();
                    v[at] = r;
                    candidates.push(v);
                }
                for body in candidates {
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
        }
        assert!(checked > 30_000);
    }
}
