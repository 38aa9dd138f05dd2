//! The top-level fields of an OpenAI-style chat request, as the facade sees them: which
//! ferry interprets itself, which OpenRouter accepts and are forwarded, which are
//! OpenAI-only and stripped, and which nobody knows (rejected, as OpenAI itself does).
//! Derived from OpenRouter's `ChatRequest` schema (`openrouter-openapi.yaml`).

use ferry_config::{join_keys, OPENAI_PARAM_KEYS};

use super::STRIPPED_EXTRA_KEYS;

/// How the facade treats one top-level request field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldClass {
    /// Interpreted by ferry (selector, messages, tools, params, reasoning, provider routing).
    Handled,
    /// Accepted by OpenRouter: forwarded as given.
    Forwarded,
    /// OpenAI-only: silently dropped, never forwarded (spec §8).
    OpenAiOnly,
    /// Not a chat-completions field of OpenRouter or OpenAI.
    Unknown,
}

/// Fields ferry interprets besides the params: the selector, the conversation, tools,
/// reasoning (mapped to a thinking level) and provider routing (merged route < model <
/// request).
const CONTROL_KEYS: &[&str] = &[
    "model",
    "messages",
    "stream",
    "tools",
    "tool_choice",
    "reasoning",
    "reasoning_effort",
    "provider",
];

/// Fields ferry interprets: [`CONTROL_KEYS`] and the params it merges with the route's
/// ([`OPENAI_PARAM_KEYS`]).
pub const HANDLED_KEYS: &[&str] =
    &join_keys::<{ CONTROL_KEYS.len() + OPENAI_PARAM_KEYS.len() }>(CONTROL_KEYS, OPENAI_PARAM_KEYS);

/// Fields OpenRouter accepts that ferry forwards untouched (on verified routes).
pub const FORWARDED_KEYS: &[&str] = &[
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "top_k",
    "top_a",
    "min_p",
    "max_completion_tokens",
    "parallel_tool_calls",
    "stream_options",
    "user",
    "metadata",
    "modalities",
    "image_config",
    "audio",
    "prediction",
    "models",
    "plugins",
    "route",
    "session_id",
    "usage",
    "transforms",
    "cache_control",
    "debug",
    "trace",
    "stop_server_tools_when",
];

/// The forwarded fields that belong to OpenAI's own Chat Completions API: the only extra
/// fields a custom `base_url` (a plain OpenAI-compatible server) receives.
pub const PORTABLE_KEYS: &[&str] = &[
    "frequency_penalty",
    "presence_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "max_completion_tokens",
    "parallel_tool_calls",
    "stream_options",
    "user",
    "metadata",
    "prediction",
];

/// OpenAI-only fields dropped besides [`STRIPPED_EXTRA_KEYS`]: `n` (OpenRouter returns one
/// choice; `n` > 1 is refused before this), deprecated function calling, OpenAI's own web
/// search and safety identifiers, and OpenAI prompt-cache controls.
pub const OPENAI_ONLY_KEYS: &[&str] = &[
    "n",
    "functions",
    "function_call",
    "web_search_options",
    "safety_identifier",
    "prompt_cache_options",
];

/// Classifies a top-level field.
pub fn classify_field(key: &str) -> FieldClass {
    if HANDLED_KEYS.contains(&key) {
        FieldClass::Handled
    } else if FORWARDED_KEYS.contains(&key) {
        FieldClass::Forwarded
    } else if STRIPPED_EXTRA_KEYS.contains(&key) || OPENAI_ONLY_KEYS.contains(&key) {
        FieldClass::OpenAiOnly
    } else {
        FieldClass::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_disjoint_and_complete() {
        for k in HANDLED_KEYS {
            assert_eq!(classify_field(k), FieldClass::Handled, "{k}");
        }
        for k in FORWARDED_KEYS {
            assert_eq!(classify_field(k), FieldClass::Forwarded, "{k}");
        }
        for k in PORTABLE_KEYS {
            assert!(
                FORWARDED_KEYS.contains(k),
                "{k} must be forwarded to be portable"
            );
        }
        // `reasoning_effort` is stripped from the body but read by ferry as a thinking level.
        for k in STRIPPED_EXTRA_KEYS.iter().chain(OPENAI_ONLY_KEYS) {
            if *k != "reasoning_effort" {
                assert_eq!(classify_field(k), FieldClass::OpenAiOnly, "{k}");
            }
        }
        assert_eq!(classify_field("temprature"), FieldClass::Unknown);
    }
}
