//! Exact-JSON tests of request shaping: every rule, on verified and custom routes.

use super::*;
use ferry_config::{CacheControlTtl, ModelParams, ProviderRouting};
use serde_json::json;

fn req(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![json!({"role": "user", "content": "hi"})].into(),
        stream: true,
        ..ChatRequest::default()
    }
}

fn attribution(enabled: bool, referer: Option<&str>, categories: &[&str]) -> Attribution {
    Attribution {
        enabled,
        referer: referer.map(|r| url::Url::parse(r).unwrap()),
        title: "ferry".into(),
        categories: categories.iter().map(|c| c.to_string()).collect(),
    }
}

fn full_params() -> ModelParams {
    ModelParams {
        temperature: Some(0.5),
        top_p: Some(0.9),
        max_tokens: Some(100),
        seed: Some(7),
        stop: Some(vec!["END".into()]),
        response_format: Some(json!({"type": "json_object"})),
        cache_control_ttl: Some(CacheControlTtl::OneHour),
        response_cache: Some(true),
        response_cache_ttl_seconds: Some(300),
        response_cache_clear: Some(true),
        thinking: None,
    }
}

fn provider() -> ProviderRouting {
    let mut map = Map::new();
    map.insert("order".into(), json!(["anthropic"]));
    map.insert("allow_fallbacks".into(), json!(false));
    ProviderRouting(map)
}

/// A request that uses every knob at once.
fn loaded(model: &str) -> ChatRequest {
    let mut extra = Map::new();
    for key in STRIPPED_EXTRA_KEYS {
        extra.insert((*key).into(), json!("x"));
    }
    extra.insert("modalities".into(), json!(["image", "text"]));
    extra.insert("model".into(), json!("must/not-override"));
    ChatRequest {
        model: model.into(),
        messages: vec![
            json!({"role": "system", "content": "sys"}),
            json!({"role": "user", "content": "hi"}),
            json!({"role": "assistant", "content": "prefill"}),
        ]
        .into(),
        stream: false,
        tools: Some(std::sync::Arc::new(crate::ToolDefs::new(vec![
            json!({"type": "function", "function": {"name": "f", "parameters": {}}}),
        ]))),
        tool_choice: Some(json!("auto")),
        params: full_params(),
        thinking: Some(ThinkingLevel::High),
        provider: provider(),
        extra,
    }
}

#[test]
fn minimal_body() {
    assert_eq!(
        build_body(&req("openai/gpt-5.4-mini"), true).unwrap(),
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}], "stream": true})
    );
    assert_eq!(
        build_body(&req("openai/gpt-5.4-mini"), false).unwrap(),
        json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}], "stream": true})
    );
}

#[test]
fn verified_body_with_everything() {
    let body = build_body(&loaded("openai/gpt-5.4-mini"), true).unwrap();
    assert_eq!(
        body,
        json!({
            "model": "openai/gpt-5.4-mini",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "prefill"}
            ],
            "stream": false,
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
            "tool_choice": "auto",
            "temperature": 0.5,
            "top_p": 0.9,
            "max_tokens": 100,
            "seed": 7,
            "stop": ["END"],
            "response_format": {"type": "json_object"},
            "reasoning": {"effort": "high"},
            "provider": {"order": ["anthropic"], "allow_fallbacks": false},
            "modalities": ["image", "text"]
        })
    );
}

#[test]
fn custom_base_url_gets_plain_openai_request() {
    for model in [
        "openai/gpt-5.4-mini",
        "anthropic/claude-sonnet-4-5",
        "deepseek/deepseek-v4-pro",
    ] {
        let r = loaded(model);
        assert_eq!(
            build_body(&r, false).unwrap(),
            json!({
                "model": model,
                "messages": r.messages.to_vec().unwrap(),
                "stream": false,
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
                "tool_choice": "auto",
                "temperature": 0.5,
                "top_p": 0.9,
                "max_tokens": 100,
                "seed": 7,
                "stop": ["END"],
                "response_format": {"type": "json_object"},
                "modalities": ["image", "text"]
            }),
            "{model}"
        );
        assert!(build_headers(
            &r,
            false,
            &attribution(true, Some("https://x.org/"), &["a"])
        )
        .is_empty());
    }
}

#[test]
fn media_output_fields_reach_a_custom_base_url_other_extras_do_not() {
    let mut r = req("google/gemini-3.1-flash-image-preview");
    r.stream = false;
    r.extra
        .insert("modalities".into(), json!(["image", "text"]));
    r.extra.insert(
        "image_config".into(),
        json!({"aspect_ratio": "16:9", "image_size": "2K"}),
    );
    r.extra.insert("plugins".into(), json!([{"id": "web"}]));
    let custom = build_body(&r, false).unwrap();
    assert_eq!(custom["modalities"], json!(["image", "text"]));
    assert_eq!(
        custom["image_config"],
        json!({"aspect_ratio": "16:9", "image_size": "2K"})
    );
    assert!(custom.get("plugins").is_none(), "OpenRouter-only extra");
    let verified = build_body(&r, true).unwrap();
    assert_eq!(verified["modalities"], json!(["image", "text"]));
    assert_eq!(verified["image_config"]["image_size"], "2K");
    assert_eq!(verified["plugins"], json!([{"id": "web"}]));
}

#[test]
fn openai_only_keys_are_never_forwarded() {
    let body = build_body(&loaded("openai/gpt-5.4-mini"), true).unwrap();
    for key in STRIPPED_EXTRA_KEYS {
        assert!(body.get(*key).is_none(), "{key} forwarded");
    }
    assert_eq!(body["model"], "openai/gpt-5.4-mini");
}

#[test]
fn thinking_maps_to_reasoning_effort_only() {
    let levels = [
        (ThinkingLevel::Minimal, "minimal"),
        (ThinkingLevel::Low, "low"),
        (ThinkingLevel::Medium, "medium"),
        (ThinkingLevel::High, "high"),
        (ThinkingLevel::Xhigh, "xhigh"),
    ];
    for (level, effort) in levels {
        let mut r = req("openai/gpt-5.4-mini");
        r.thinking = Some(level);
        let body = build_body(&r, true).unwrap();
        assert_eq!(body["reasoning"], json!({"effort": effort}));
        assert!(body.get("reasoning_effort").is_none());
        assert!(
            build_body(&r, false).unwrap().get("reasoning").is_none(),
            "custom base_url"
        );
    }
    let mut r = req("openai/gpt-5.4-mini");
    r.thinking = Some(ThinkingLevel::Off);
    assert!(build_body(&r, true).unwrap().get("reasoning").is_none());
    r.thinking = None;
    assert!(build_body(&r, true).unwrap().get("reasoning").is_none());
    r.params.thinking = Some(ThinkingLevel::Low);
    assert_eq!(
        build_body(&r, true).unwrap()["reasoning"],
        json!({"effort": "low"}),
        "params fallback"
    );
}

#[test]
fn reasoning_skipped_for_auto_xai_and_hunter_alpha() {
    for model in [
        "openrouter/auto",
        "x-ai/grok-4",
        "x-ai/grok-4:free",
        "openrouter/hunter-alpha",
    ] {
        let mut r = req(model);
        r.thinking = Some(ThinkingLevel::High);
        r.extra.insert("reasoning".into(), json!({"effort": "low"}));
        let body = build_body(&r, true).unwrap();
        assert!(body.get("reasoning").is_none(), "{model}");
        assert!(body.get("reasoning_effort").is_none(), "{model}");
    }
}

#[test]
fn attribution_headers() {
    let r = req("openai/gpt-5.4-mini");
    assert_eq!(
        build_headers(&r, true, &attribution(true, None, &[])),
        vec![("X-OpenRouter-Title".to_string(), "ferry".to_string())]
    );
    assert_eq!(
        build_headers(
            &r,
            true,
            &attribution(
                true,
                Some("https://example.org/app"),
                &["cli-agent", "programming-app", "third"]
            )
        ),
        vec![
            (
                "HTTP-Referer".to_string(),
                "https://example.org/app".to_string()
            ),
            ("X-OpenRouter-Title".to_string(), "ferry".to_string()),
            (
                "X-OpenRouter-Categories".to_string(),
                "cli-agent,programming-app".to_string()
            ),
        ]
    );
    assert!(build_headers(
        &r,
        true,
        &attribution(false, Some("https://example.org/"), &["cli-agent"])
    )
    .is_empty());
}

#[test]
fn response_cache_headers() {
    let mut r = req("openai/gpt-5.4-mini");
    let off = attribution(false, None, &[]);
    r.params = full_params();
    assert_eq!(
        build_headers(&r, true, &off),
        vec![
            ("X-OpenRouter-Cache".to_string(), "true".to_string()),
            ("X-OpenRouter-Cache-TTL".to_string(), "300".to_string()),
            ("X-OpenRouter-Cache-Clear".to_string(), "true".to_string()),
        ]
    );
    assert!(build_headers(&r, false, &off).is_empty(), "custom base_url");
    r.params = ModelParams {
        response_cache: Some(false),
        response_cache_ttl_seconds: Some(0),
        response_cache_clear: Some(false),
        ..ModelParams::default()
    };
    assert_eq!(
        build_headers(&r, true, &off),
        vec![
            ("X-OpenRouter-Cache".to_string(), "false".to_string()),
            ("X-OpenRouter-Cache-TTL".to_string(), "1".to_string()),
        ]
    );
    r.params = ModelParams {
        response_cache_ttl_seconds: Some(1_000_000),
        ..ModelParams::default()
    };
    assert_eq!(
        build_headers(&r, true, &off),
        vec![("X-OpenRouter-Cache-TTL".to_string(), "86400".to_string())]
    );
    r.params = ModelParams::default();
    assert!(build_headers(&r, true, &off).is_empty());
}

#[test]
fn anthropic_cache_markers_and_prefill_removal_with_reasoning() {
    let body = build_body(&loaded("anthropic/claude-sonnet-4-5"), true).unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": "hi"}
        ])
    );
    assert_eq!(body["reasoning"], json!({"effort": "high"}));
}

#[test]
fn anthropic_without_reasoning_keeps_prefill() {
    let mut r = loaded("anthropic/claude-sonnet-4-5");
    r.thinking = Some(ThinkingLevel::Off);
    r.params.cache_control_ttl = None;
    let body = build_body(&r, true).unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "prefill"}
        ])
    );
    assert!(body.get("reasoning").is_none());
}

#[test]
fn anthropic_ttl_none_means_no_markers() {
    let mut r = loaded("anthropic/claude-sonnet-4-5");
    r.params.cache_control_ttl = Some(CacheControlTtl::None);
    let body = build_body(&r, true).unwrap();
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "sys"})
    );
}

#[test]
fn non_anthropic_models_get_no_markers() {
    let body = build_body(&loaded("openai/gpt-5.4-mini"), true).unwrap();
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "sys"})
    );
}

fn deepseek_history() -> Vec<Value> {
    vec![
        json!({"role": "user", "content": "q1"}),
        json!({"role": "assistant", "content": "a1"}),
        json!({"role": "assistant", "content": "a2", "reasoning": "why"}),
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}),
        json!({"role": "tool", "tool_call_id": "t", "content": "ok"}),
        json!({"role": "user", "content": "q2"}),
    ]
}

#[test]
fn deepseek_v4_reasoning_effort_and_replay() {
    for (level, effort) in [
        (ThinkingLevel::Low, "high"),
        (ThinkingLevel::High, "high"),
        (ThinkingLevel::Xhigh, "xhigh"),
    ] {
        for model in [
            "deepseek/deepseek-v4-flash",
            "deepseek/deepseek-v4-pro:nitro",
        ] {
            let mut r = req(model);
            r.thinking = Some(level);
            r.messages = deepseek_history().into();
            let body = build_body(&r, true).unwrap();
            assert_eq!(
                body["reasoning"],
                json!({"effort": effort}),
                "{model} {level:?}"
            );
            assert_eq!(
                body["messages"],
                json!([
                    {"role": "user", "content": "q1"},
                    {"role": "assistant", "content": "a1", "reasoning_content": ""},
                    {"role": "assistant", "content": "a2", "reasoning": "why", "reasoning_content": "why"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "t", "content": "ok"},
                    {"role": "user", "content": "q2"}
                ])
            );
            assert_eq!(
                build_body(&r, false).unwrap()["messages"],
                json!(deepseek_history()),
                "custom base_url"
            );
        }
    }
}

#[test]
fn deepseek_v4_off_strips_reasoning() {
    let mut r = req("deepseek/deepseek-v4-pro");
    r.thinking = Some(ThinkingLevel::Off);
    r.extra
        .insert("reasoning".into(), json!({"effort": "high"}));
    r.messages = vec![
        json!({"role": "assistant", "content": "a", "reasoning_content": "x"}),
        json!({"role": "user", "content": "q"}),
    ]
    .into();
    let body = build_body(&r, true).unwrap();
    assert!(body.get("reasoning").is_none());
    assert_eq!(
        body["messages"],
        json!([{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}])
    );
}

#[test]
fn gemini_thought_signatures_sanitized_only_on_verified() {
    let mut r = req("google/gemini-3.1-pro-preview");
    r.messages = vec![json!({
        "role": "assistant", "content": null,
        "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"},
            "extra_content": {"google": {"thought_signature": "***"}}}],
        "reasoning_details": [{"type": "reasoning.encrypted", "id": "a", "data": "***"}]
    })]
    .into();
    let body = build_body(&r, true).unwrap();
    assert_eq!(
        body["messages"],
        json!([{
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            "reasoning_details": []
        }])
    );
    assert_eq!(
        build_body(&r, false).unwrap()["messages"],
        json!(r.messages.to_vec().unwrap())
    );
}

#[test]
fn provider_routing_only_when_non_empty_and_verified() {
    let mut r = req("openai/gpt-5.4-mini");
    assert!(build_body(&r, true).unwrap().get("provider").is_none());
    r.provider = provider();
    assert_eq!(
        build_body(&r, true).unwrap()["provider"],
        json!({"order": ["anthropic"], "allow_fallbacks": false})
    );
    assert!(build_body(&r, false).unwrap().get("provider").is_none());
}

#[test]
fn custom_base_url_gets_only_portable_extra_fields() {
    let mut r = req("openai/gpt-5.4-mini");
    r.extra.insert("frequency_penalty".into(), json!(0.5));
    r.extra.insert("user".into(), json!("u1"));
    r.extra.insert("top_k".into(), json!(40));
    r.extra.insert("plugins".into(), json!([{"id": "web"}]));
    r.extra.insert("service_tier".into(), json!("flex"));
    let body = build_body(&r, false).unwrap();
    assert_eq!(body["frequency_penalty"], 0.5);
    assert_eq!(body["user"], "u1");
    for dropped in ["top_k", "plugins", "service_tier"] {
        assert!(
            body.get(dropped).is_none(),
            "{dropped} sent to a custom base_url"
        );
    }
    let body = build_body(&r, true).unwrap();
    assert_eq!(body["top_k"], 40);
    assert_eq!(body["plugins"], json!([{"id": "web"}]));
    assert!(body.get("service_tier").is_none());
}

#[test]
fn messages_and_tools_sent_as_text_encode_as_their_values_do() {
    let tools = vec![
        json!({"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}}),
        json!({"type": "function", "function": {"name": "b", "description": "x\"y"}}),
    ];
    let tools_text = bytes::Bytes::from(serde_json::to_vec_pretty(&tools).unwrap());
    for model in [
        "openai/gpt-5.4-mini",
        "anthropic/claude-sonnet-4-5",
        "deepseek/deepseek-v4-pro",
        "google/gemini-3.1-pro-preview",
        "x-ai/grok-4",
    ] {
        for verified in [true, false] {
            for with_tools in [true, false] {
                let mut listed = loaded(model);
                listed.thinking = Some(ThinkingLevel::High);
                listed.tools =
                    with_tools.then(|| std::sync::Arc::new(crate::ToolDefs::new(tools.clone())));
                listed.tool_choice = with_tools.then(|| json!("auto"));
                let mut texted = listed.clone();
                let list = listed.messages.to_vec().unwrap();
                // Pretty-printed, as a client may send it: forwarded as written.
                texted.messages = Messages::Text(serde_json::to_vec_pretty(&list).unwrap().into());
                texted.tools = with_tools
                    .then(|| std::sync::Arc::new(crate::ToolDefs::from_text(tools_text.clone())));
                let case = format!("{model}, verified {verified}, tools {with_tools}");
                let a: Value =
                    serde_json::from_slice(&encode_body(&listed, verified).unwrap()).unwrap();
                let b: Value =
                    serde_json::from_slice(&encode_body(&texted, verified).unwrap()).unwrap();
                assert_eq!(a, b, "{case}");
                assert_eq!(
                    a.as_object().unwrap().keys().collect::<Vec<_>>(),
                    b.as_object().unwrap().keys().collect::<Vec<_>>(),
                    "{case}: the same fields in the same order"
                );
                if with_tools {
                    assert_eq!(&texted.tools.unwrap()[..], &tools[..], "the text read back");
                }
            }
        }
    }
}

#[test]
fn messages_text_a_tree_cannot_hold_fails_only_where_it_must_be_shaped() {
    let mut r = req("openai/gpt-5.4-mini");
    r.messages = Messages::Text(bytes::Bytes::from_static(
        br#"[{"role":"user","content":"\ud800"}]"#,
    ));
    let body = encode_body(&r, true).unwrap();
    assert!(
        body.windows(8).any(|w| w == br#""\ud800""#),
        "forwarded as written"
    );
    r.model = "anthropic/claude-sonnet-4-5".into();
    assert!(encode_body(&r, true).is_err(), "cannot be shaped");
    assert!(
        encode_body(&r, false).is_ok(),
        "a custom base_url is not shaped"
    );
}
