//! The default `/models` catalog and `/key` data, and the `output_modalities` filter.

use serde_json::{json, Value};

/// The default `data` array of `GET /models`: a text-only model, two vision models, an
/// image-only model (`output_modalities: ["image"]`) and a text+image model.
pub(crate) fn default_models() -> Value {
    json!([
        model(
            "meta-llama/llama-3.3-70b-instruct",
            "Meta: Llama 3.3 70B Instruct",
            131_072,
            &["text"],
            &["text"],
            ("0.00000013", "0.0000004", "0"),
            &[
                "max_tokens",
                "temperature",
                "top_p",
                "stop",
                "seed",
                "tools",
                "tool_choice",
                "response_format"
            ],
        ),
        model(
            "openai/gpt-5.4-mini",
            "OpenAI: GPT-5.4 Mini",
            400_000,
            &["text", "image", "file"],
            &["text"],
            ("0.00000025", "0.000002", "0"),
            &[
                "max_tokens",
                "reasoning",
                "include_reasoning",
                "tools",
                "tool_choice",
                "structured_outputs",
                "response_format",
                "seed"
            ],
        ),
        model(
            "anthropic/claude-sonnet-4-5",
            "Anthropic: Claude Sonnet 4.5",
            1_000_000,
            &["text", "image", "file"],
            &["text"],
            ("0.000003", "0.000015", "0.0048"),
            &[
                "max_tokens",
                "temperature",
                "top_p",
                "stop",
                "reasoning",
                "include_reasoning",
                "tools",
                "tool_choice"
            ],
        ),
        model(
            "black-forest-labs/flux.2-pro",
            "Black Forest Labs: FLUX.2 Pro",
            46_864,
            &["text", "image"],
            &["image"],
            ("0", "0", "0.03"),
            &["seed"],
        ),
        model(
            "google/gemini-2.5-flash-image",
            "Google: Gemini 2.5 Flash Image",
            32_768,
            &["image", "text"],
            &["image", "text"],
            ("0.0000003", "0.0000025", "0.001238"),
            &[
                "max_tokens",
                "temperature",
                "top_p",
                "seed",
                "response_format",
                "structured_outputs"
            ],
        ),
    ])
}

/// A text model that takes `reasoning` and `tools` (see [`crate::FakeOpenRouter::add_models`]).
pub(crate) fn text_model(id: &str) -> Value {
    model(
        id,
        id,
        128_000,
        &["text"],
        &["text"],
        ("0.000001", "0.000002", "0"),
        &[
            "reasoning",
            "include_reasoning",
            "tools",
            "tool_choice",
            "max_tokens",
            "temperature",
        ],
    )
}

fn model(
    id: &str,
    name: &str,
    context_length: u64,
    input: &[&str],
    output: &[&str],
    (prompt, completion, image): (&str, &str, &str),
    supported_parameters: &[&str],
) -> Value {
    json!({
        "id": id,
        "canonical_slug": id,
        "name": name,
        "created": 1_760_000_000u64,
        "description": format!("{name} (fake catalog entry)."),
        "context_length": context_length,
        "architecture": {
            "modality": format!("{}->{}", input.join("+"), output.join("+")),
            "input_modalities": input,
            "output_modalities": output,
            "tokenizer": "Other",
            "instruct_type": null,
        },
        "pricing": {
            "prompt": prompt,
            "completion": completion,
            "request": "0",
            "image": image,
            "web_search": "0",
            "internal_reasoning": "0",
        },
        "top_provider": {
            "context_length": context_length,
            "max_completion_tokens": 32_768,
            "is_moderated": false,
        },
        "per_request_limits": null,
        "supported_parameters": supported_parameters,
        "default_parameters": {},
    })
}

/// The default `data` object of `GET /key`.
pub(crate) fn default_key_info() -> Value {
    json!({
        "label": "sk-or-v1-fak...e00",
        "limit": null,
        "limit_remaining": null,
        "limit_reset": null,
        "include_byok_in_limit": false,
        "usage": 0.0,
        "usage_daily": 0.0,
        "usage_weekly": 0.0,
        "usage_monthly": 0.0,
        "byok_usage": 0.0,
        "is_free_tier": false,
        "is_provisioning_key": false,
        "is_management_key": false,
        "expires_at": null,
    })
}

/// Which output modalities a `/models` request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModalityFilter {
    /// `output_modalities=all`.
    All,
    /// A comma-separated list (default: `text`); a model matches if it outputs any of them.
    AnyOf(Vec<String>),
}

impl ModalityFilter {
    /// Parses the `output_modalities` query value (absent means `text`).
    pub(crate) fn from_query(value: Option<&str>) -> ModalityFilter {
        match value.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("all") => ModalityFilter::All,
            Some(v) if !v.is_empty() => ModalityFilter::AnyOf(
                v.split(',')
                    .map(|m| m.trim().to_ascii_lowercase())
                    .filter(|m| !m.is_empty())
                    .collect(),
            ),
            _ => ModalityFilter::AnyOf(vec!["text".to_owned()]),
        }
    }

    /// The models of `data` (a JSON array) that pass; a non-array is returned unchanged.
    pub(crate) fn apply(&self, data: &Value) -> Value {
        let (ModalityFilter::AnyOf(wanted), Value::Array(models)) = (self, data) else {
            return data.clone();
        };
        Value::Array(
            models
                .iter()
                .filter(|m| outputs(m).iter().any(|o| wanted.iter().any(|w| w == o)))
                .cloned()
                .collect(),
        )
    }
}

/// A model's `architecture.output_modalities` (a model without one outputs text).
fn outputs(model: &Value) -> Vec<&str> {
    match model
        .pointer("/architecture/output_modalities")
        .and_then(Value::as_array)
    {
        Some(list) => list.iter().filter_map(Value::as_str).collect(),
        None => vec!["text"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &Value) -> Vec<&str> {
        v.as_array()
            .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn default_filter_keeps_text_outputs_only() {
        let all = default_models();
        let text = ModalityFilter::from_query(None).apply(&all);
        assert!(!ids(&text).contains(&"black-forest-labs/flux.2-pro"));
        assert!(ids(&text).contains(&"google/gemini-2.5-flash-image"));
        assert_eq!(ids(&text).len(), 4);
        assert_eq!(ModalityFilter::from_query(Some("all")).apply(&all), all);
        let image = ModalityFilter::from_query(Some("image")).apply(&all);
        assert_eq!(
            ids(&image),
            vec![
                "black-forest-labs/flux.2-pro",
                "google/gemini-2.5-flash-image"
            ]
        );
    }

    #[test]
    fn modality_strings_follow_the_lists() {
        let all = default_models();
        assert_eq!(all[3]["architecture"]["modality"], "text+image->image");
        assert_eq!(all[0]["architecture"]["modality"], "text->text");
    }
}
