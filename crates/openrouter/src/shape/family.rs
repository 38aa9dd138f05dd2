//! Model families that need special request shaping, recognised from the wire model id
//! (a `:variant` suffix such as `:free` or `:thinking` is ignored).

use ferry_config::ThinkingLevel;

/// The family of a model id, as far as shaping cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `anthropic/…`: prompt-cache markers, prefill removal under reasoning.
    Anthropic,
    /// `deepseek/deepseek-v4-flash|pro`: reasoning effort mapping and replay.
    DeepSeekV4,
    /// `google/gemini…`: thought-signature sanitation.
    Gemini,
    /// Models that must never get a `reasoning` field (`openrouter/auto`, `x-ai/…`,
    /// `openrouter/hunter-alpha`).
    NoReasoning,
    Other,
}

/// `model` without its `:variant` suffix.
fn base_id(model: &str) -> &str {
    model.split_once(':').map_or(model, |(base, _)| base)
}

impl Family {
    pub fn of(model: &str) -> Family {
        let base = base_id(model.trim());
        if base.starts_with("anthropic/") {
            Family::Anthropic
        } else if matches!(
            base,
            "deepseek/deepseek-v4-flash" | "deepseek/deepseek-v4-pro"
        ) {
            Family::DeepSeekV4
        } else if base.starts_with("google/gemini") {
            Family::Gemini
        } else if base.starts_with("x-ai/")
            || matches!(base, "openrouter/auto" | "openrouter/hunter-alpha")
        {
            Family::NoReasoning
        } else {
            Family::Other
        }
    }

    /// The `reasoning.effort` to send for `thinking`, or `None` for no `reasoning` field.
    pub fn reasoning_effort(self, thinking: Option<ThinkingLevel>) -> Option<&'static str> {
        let level = thinking?;
        match (self, level) {
            (_, ThinkingLevel::Off) | (Family::NoReasoning, _) => None,
            (Family::DeepSeekV4, ThinkingLevel::Xhigh) => Some("xhigh"),
            (Family::DeepSeekV4, _) => Some("high"),
            (_, level) => Some(level.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(Family::of("anthropic/claude-sonnet-4-5"), Family::Anthropic);
        assert_eq!(
            Family::of("anthropic/claude-sonnet-4-5:thinking"),
            Family::Anthropic
        );
        assert_eq!(Family::of("deepseek/deepseek-v4-flash"), Family::DeepSeekV4);
        assert_eq!(
            Family::of("deepseek/deepseek-v4-pro:free"),
            Family::DeepSeekV4
        );
        assert_eq!(Family::of("deepseek/deepseek-v4-proto"), Family::Other);
        assert_eq!(Family::of("deepseek/deepseek-r1"), Family::Other);
        assert_eq!(Family::of("google/gemini-3.1-pro-preview"), Family::Gemini);
        assert_eq!(Family::of("google/gemma-3-27b-it"), Family::Other);
        assert_eq!(Family::of("x-ai/grok-4"), Family::NoReasoning);
        assert_eq!(Family::of("openrouter/auto"), Family::NoReasoning);
        assert_eq!(Family::of("openrouter/hunter-alpha"), Family::NoReasoning);
        assert_eq!(Family::of("openrouter/other"), Family::Other);
        assert_eq!(Family::of("openai/gpt-5.4-mini"), Family::Other);
    }

    #[test]
    fn efforts() {
        use ThinkingLevel::*;
        let other = Family::Other;
        assert_eq!(other.reasoning_effort(None), None);
        assert_eq!(other.reasoning_effort(Some(Off)), None);
        for (level, effort) in [
            (Minimal, "minimal"),
            (Low, "low"),
            (Medium, "medium"),
            (High, "high"),
            (Xhigh, "xhigh"),
        ] {
            assert_eq!(other.reasoning_effort(Some(level)), Some(effort));
            assert_eq!(Family::NoReasoning.reasoning_effort(Some(level)), None);
        }
        let ds = Family::DeepSeekV4;
        assert_eq!(ds.reasoning_effort(Some(Minimal)), Some("high"));
        assert_eq!(ds.reasoning_effort(Some(Medium)), Some("high"));
        assert_eq!(ds.reasoning_effort(Some(High)), Some("high"));
        assert_eq!(ds.reasoning_effort(Some(Xhigh)), Some("xhigh"));
        assert_eq!(ds.reasoning_effort(Some(Off)), None);
    }
}
