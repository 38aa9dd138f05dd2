//! A documented estimate of a request's input tokens, for Anthropic's
//! `POST /v1/messages/count_tokens` (OpenRouter has no such endpoint). It counts what the
//! model will read: every string in `system`, `messages` (text, tool inputs and results)
//! and `tools` (names, descriptions, schemas), about four characters a token, plus a few
//! tokens of framing per message and tool, and a flat 1,600 tokens per image or document
//! (Anthropic's figure for an image of about 1.15 megapixels). It is an estimate — within a
//! few percent for English prose, rougher for code and other languages — and never an
//! error: a client asking before it sends gets a usable number.

use serde_json::Value;

/// Characters per token of the estimate.
const CHARS_PER_TOKEN: usize = 4;
/// Framing tokens per message (role, separators).
const PER_MESSAGE: u64 = 3;
/// Framing tokens per tool definition.
const PER_TOOL: u64 = 8;
/// Tokens counted for one image or document block.
const PER_IMAGE: u64 = 1_600;

/// Estimated input tokens of an Anthropic Messages request body.
pub fn estimate_input_tokens(body: &Value) -> u64 {
    let mut count = Count::default();
    if let Some(system) = body.get("system") {
        count.value(system);
    }
    match body.get("messages") {
        Some(Value::Array(messages)) => {
            for m in messages {
                count.framing += PER_MESSAGE;
                if let Some(content) = m.get("content") {
                    count.value(content);
                }
            }
        }
        // The JSON text of a list no tree can hold (a lone surrogate escape, nesting
        // past serde's limit): its characters count as text.
        Some(Value::String(text)) => count.chars += text.chars().count(),
        _ => {}
    }
    let tools = body.get("tools").and_then(Value::as_array);
    for t in tools.into_iter().flatten() {
        count.framing += PER_TOOL;
        count.value(t);
    }
    count.total()
}

#[derive(Default)]
struct Count {
    chars: usize,
    framing: u64,
    images: u64,
}

impl Count {
    /// Counts the strings of `v` (keys of objects too: schemas are read as text), and
    /// image/document blocks at their flat rate instead of their base64 bytes.
    fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => self.chars += s.chars().count(),
            Value::Array(items) => items.iter().for_each(|i| self.value(i)),
            Value::Object(map) => {
                if matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("image" | "document")
                ) {
                    self.images += 1;
                    return;
                }
                for (k, item) in map {
                    if k == "cache_control" || k == "type" {
                        continue;
                    }
                    self.chars += k.len();
                    self.value(item);
                }
            }
            Value::Number(n) => self.chars += n.to_string().len(),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn total(&self) -> u64 {
        let text = self.chars.div_ceil(CHARS_PER_TOKEN) as u64;
        (text + self.framing + self.images * PER_IMAGE).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_text_framing_tools_and_images() {
        let body = json!({
            "model": "m",
            "system": [{"type": "text", "text": "12345678", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "abcd"},
                {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AAAA"}}]}
            ]
        });
        // "text" key + 8 chars + "abcd" = 4 + 8 + 4 = 16 chars = 4 tokens; 2 messages × 3; one image.
        assert_eq!(estimate_input_tokens(&body), 4 + 6 + 1_600);
        let with_tool =
            json!({"messages": [{"role": "user", "content": "abcd"}], "tools": [{"name": "Read"}]});
        // "abcd" + "name" + "Read" = 12 chars = 3 tokens; 3 + 8 framing.
        assert_eq!(estimate_input_tokens(&with_tool), 3 + 3 + 8);
        assert_eq!(estimate_input_tokens(&json!({})), 1);
    }
}
