//! Tests of the selector grammar and the target precedence.

use std::path::Path;

use crate::{
    parse_routes, parse_selector, resolve_target, validate_selector, wire_model, RoutesFile,
    SelectorError, SelectorInputs, SelectorOrigin, Target,
};

/// Two routes: `openrouter` (default, any model) and `work` (listed models only).
fn routes() -> RoutesFile {
    let text = r#"
default_route = "openrouter"

[routes.openrouter]
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"

[routes.work]
base_url = "http://127.0.0.1:9000/v1"
default_model = "anthropic/claude-sonnet-4-5"
fallbacks = ["openai/gpt-5.4"]
model_support = "listed"
api_key_env = "WORK_KEY"

[routes.work.models."qwen/qwen3-32b:free"]
"#;
    match parse_routes(text, Path::new("routes.toml")) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

fn target(route: &str, model: &str) -> Target {
    Target {
        route: route.into(),
        model: model.into(),
    }
}

fn resolve(inputs: SelectorInputs) -> Result<Target, SelectorError> {
    resolve_target(&routes(), &inputs)
}

// ---- grammar ------------------------------------------------------------------------------

#[test]
fn route_prefix_is_split_off_only_for_known_routes() {
    let r = routes();
    let p = |s: &str| parse_selector(&r, s).unwrap();
    assert_eq!(
        p("openrouter/openai/gpt-5.4-mini"),
        (Some("openrouter".into()), "openai/gpt-5.4-mini".into())
    );
    assert_eq!(
        p("work/qwen/qwen3-32b:free"),
        (Some("work".into()), "qwen/qwen3-32b:free".into())
    );
    assert_eq!(
        p("openai/gpt-5.4-mini"),
        (None, "openai/gpt-5.4-mini".into())
    );
    assert_eq!(p("auto"), (None, "auto".into()));
    assert_eq!(
        p("openrouter/auto"),
        (Some("openrouter".into()), "auto".into())
    );
    assert_eq!(
        p("openrouter/openrouter/auto"),
        (Some("openrouter".into()), "openrouter/auto".into())
    );
    assert_eq!(p("  openai/gpt-5  "), (None, "openai/gpt-5".into()));
}

#[test]
fn unknown_route_prefix_with_two_slashes_is_rejected() {
    let r = routes();
    let e = parse_selector(&r, "openroutr/openai/gpt-5.4-mini").unwrap_err();
    assert_eq!(
        e,
        SelectorError::UnknownRoute {
            origin: SelectorOrigin::Input,
            route: "openroutr".into(),
            known: "openrouter, work".into()
        }
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("unknown route \"openroutr\" in selector; known routes: openrouter, work"),
        "{msg}"
    );
    assert!(msg.contains("ferry runtime get"), "{msg}");
}

#[test]
fn bad_selector_forms() {
    let r = routes();
    type Check = fn(&SelectorError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("", |e| matches!(e, SelectorError::Empty { .. })),
        ("   ", |e| matches!(e, SelectorError::Empty { .. })),
        (
            "openrouter/",
            |e| matches!(e, SelectorError::EmptyModel { route, .. } if route == "openrouter"),
        ),
        ("openrouter/ x", |e| {
            matches!(e, SelectorError::InvalidModel { .. })
        }),
        ("openai/gpt 5", |e| {
            matches!(e, SelectorError::InvalidModel { .. })
        }),
        ("/gpt-5", |e| {
            matches!(e, SelectorError::InvalidModel { .. })
        }),
        ("openai/", |e| {
            matches!(e, SelectorError::InvalidModel { .. })
        }),
        ("openai//gpt", |e| {
            matches!(e, SelectorError::InvalidModel { .. })
        }),
        ("openrouter//gpt", |e| {
            matches!(e, SelectorError::InvalidModel { .. })
        }),
        (
            "a/b/c",
            |e| matches!(e, SelectorError::UnknownRoute { route, .. } if route == "a"),
        ),
    ];
    for (s, check) in cases {
        let e = parse_selector(&r, s).unwrap_err();
        assert!(check(&e), "{s:?} gave {e:?}");
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.contains("e.g.") || msg.contains("see `ferry runtime get`"),
            "no hint: {msg}"
        );
    }
}

// ---- precedence ---------------------------------------------------------------------------

#[test]
fn nothing_given_means_the_default_route_and_model() {
    assert_eq!(
        resolve(SelectorInputs::default()).unwrap(),
        target("openrouter", "openai/gpt-5.4-mini")
    );
}

#[test]
fn runtime_model_beats_the_route_default() {
    let t = resolve(SelectorInputs {
        runtime_model: Some("openrouter/anthropic/claude-opus-4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("openrouter", "anthropic/claude-opus-4"));
    // A bare runtime model is on the default route.
    let t = resolve(SelectorInputs {
        runtime_model: Some("x-ai/grok-4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("openrouter", "x-ai/grok-4"));
    // A runtime model on another route moves the route too.
    let t = resolve(SelectorInputs {
        runtime_model: Some("work/openai/gpt-5.4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "openai/gpt-5.4"));
}

#[test]
fn session_pin_beats_runtime_model() {
    let t = resolve(SelectorInputs {
        session_pin: Some("openrouter/google/gemini-3-pro"),
        runtime_model: Some("openrouter/anthropic/claude-opus-4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("openrouter", "google/gemini-3-pro"));
    // Pin on `work` picks the route; the runtime model (on openrouter) is then ignored.
    let t = resolve(SelectorInputs {
        session_pin: Some("work/openai/gpt-5.4"),
        runtime_model: Some("openrouter/anthropic/claude-opus-4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "openai/gpt-5.4"));
}

#[test]
fn input_model_beats_pin_and_runtime() {
    let t = resolve(SelectorInputs {
        model: Some("openrouter/meta-llama/llama-4"),
        session_pin: Some("work/openai/gpt-5.4"),
        runtime_model: Some("openrouter/anthropic/claude-opus-4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("openrouter", "meta-llama/llama-4"));
    // A bare input model stays on the pin's route.
    let t = resolve(SelectorInputs {
        model: Some("qwen/qwen3-32b:free"),
        session_pin: Some("work/openai/gpt-5.4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "qwen/qwen3-32b:free"));
    // ... or on the runtime model's route when there is no pin.
    let t = resolve(SelectorInputs {
        model: Some("openai/gpt-5.4"),
        runtime_model: Some("work/qwen/qwen3-32b:free"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "openai/gpt-5.4"));
}

#[test]
fn input_provider_picks_the_route_and_its_default_model() {
    let t = resolve(SelectorInputs {
        provider: Some("work"),
        session_pin: Some("openrouter/google/gemini-3-pro"),
        runtime_model: Some("openrouter/anthropic/claude-opus-4"),
        ..Default::default()
    });
    // Neither stored selector is on `work`, so the route default applies.
    assert_eq!(t.unwrap(), target("work", "anthropic/claude-sonnet-4-5"));
    // A pin on the provider's route supplies the model.
    let t = resolve(SelectorInputs {
        provider: Some("work"),
        session_pin: Some("work/openai/gpt-5.4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "openai/gpt-5.4"));
    // Provider plus a bare model.
    let t = resolve(SelectorInputs {
        provider: Some("work"),
        model: Some("qwen/qwen3-32b:free"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "qwen/qwen3-32b:free"));
    // Provider agreeing with the prefix is fine.
    let t = resolve(SelectorInputs {
        provider: Some("work"),
        model: Some("work/openai/gpt-5.4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("work", "openai/gpt-5.4"));
}

#[test]
fn provider_errors() {
    let e = resolve(SelectorInputs {
        provider: Some("nope"),
        ..Default::default()
    })
    .unwrap_err();
    assert!(
        matches!(&e, SelectorError::UnknownProvider { route, known } if route == "nope" && known == "openrouter, work")
    );
    assert!(e.to_string().contains("known routes: openrouter, work"));
    let e = resolve(SelectorInputs {
        provider: Some("work"),
        model: Some("openrouter/openai/gpt-5.4"),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(
        e,
        SelectorError::ProviderConflict {
            provider: "work".into(),
            prefix: "openrouter".into()
        }
    );
    assert!(e.to_string().contains("contradicts"));
}

#[test]
fn stored_selectors_are_read_only_when_they_can_decide_something() {
    // A stale pin (its route was removed) is irrelevant when the input decides everything.
    let t = resolve(SelectorInputs {
        model: Some("openrouter/openai/gpt-5.4"),
        session_pin: Some("gone/openai/gpt-5.4"),
        ..Default::default()
    });
    assert_eq!(t.unwrap(), target("openrouter", "openai/gpt-5.4"));
    // ... but is an error naming its origin when it would be used.
    let e = resolve(SelectorInputs {
        session_pin: Some("gone/openai/gpt-5.4"),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(
        &e,
        SelectorError::UnknownRoute {
            origin: SelectorOrigin::SessionPin,
            ..
        }
    ));
    assert!(e.to_string().contains("pinned"), "{e}");
    let e = resolve(SelectorInputs {
        runtime_model: Some("gone/openai/gpt-5.4"),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("runtime set-model"), "{e}");
}

// ---- listed models ------------------------------------------------------------------------

#[test]
fn listed_routes_reject_unlisted_models() {
    for m in [
        "work/anthropic/claude-sonnet-4-5",
        "work/openai/gpt-5.4",
        "work/qwen/qwen3-32b:free",
    ] {
        assert!(validate_selector(&routes(), m).is_ok(), "{m}");
    }
    let e = validate_selector(&routes(), "work/x-ai/grok-4").unwrap_err();
    assert_eq!(
        e,
        SelectorError::ModelNotListed {
            route: "work".into(),
            model: "x-ai/grok-4".into(),
            listed: "anthropic/claude-sonnet-4-5, openai/gpt-5.4, qwen/qwen3-32b:free".into()
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("[routes.work.models]"), "{msg}");
    // The check applies to every source of the model.
    let e = resolve(SelectorInputs {
        provider: Some("work"),
        model: Some("x-ai/grok-4"),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(e, SelectorError::ModelNotListed { .. }));
    let e = resolve(SelectorInputs {
        runtime_model: Some("work/x-ai/grok-4"),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(e, SelectorError::ModelNotListed { .. }));
    // "any" routes accept everything.
    assert!(validate_selector(&routes(), "x-ai/grok-4").is_ok());
}

#[test]
fn validate_selector_puts_bare_models_on_the_default_route() {
    let r = routes();
    assert_eq!(
        validate_selector(&r, "openai/gpt-5").unwrap(),
        target("openrouter", "openai/gpt-5")
    );
    let t = validate_selector(&r, "work/openai/gpt-5.4").unwrap();
    assert_eq!(t.selector(), "work/openai/gpt-5.4");
    assert_eq!(t.to_string(), "work/openai/gpt-5.4");
    // The canonical form parses back to the same target.
    assert_eq!(validate_selector(&r, &t.selector()).unwrap(), t);
    assert!(validate_selector(&r, "").is_err());
    assert!(validate_selector(&r, "nope/a/b").is_err());
}

#[test]
fn wire_model_maps_auto_on_openrouter_routes() {
    let r = routes();
    let or = r.route("openrouter").unwrap();
    assert_eq!(wire_model(or, "auto"), "openrouter/auto");
    assert_eq!(wire_model(or, "openai/gpt-5.4-mini"), "openai/gpt-5.4-mini");
    assert_eq!(wire_model(or, "openrouter/auto"), "openrouter/auto");
    // The route prefix never reaches the wire.
    let t = validate_selector(&r, "openrouter/openai/gpt-5.4-mini").unwrap();
    assert_eq!(wire_model(or, &t.model), "openai/gpt-5.4-mini");
    let t = validate_selector(&r, "openrouter/auto").unwrap();
    assert_eq!(wire_model(or, &t.model), "openrouter/auto");
    // On the verified OpenRouter endpoint a bare id is one of OpenRouter's own models.
    let t = validate_selector(&r, "openrouter/hunter-alpha").unwrap();
    assert_eq!(t.model, "hunter-alpha");
    assert_eq!(wire_model(or, &t.model), "openrouter/hunter-alpha");
}

#[test]
fn wire_model_keeps_bare_ids_on_custom_base_urls() {
    let text = "version = 1\n[routes.proxy]\ndefault_model = \"gpt-4o\"\napi_key_env = \"K\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";
    let r = crate::parse_routes(text, std::path::Path::new("routes.toml")).unwrap();
    let proxy = r.route("proxy").unwrap();
    assert_eq!(wire_model(proxy, "gpt-4o"), "gpt-4o");
    assert_eq!(wire_model(proxy, "auto"), "openrouter/auto");
}
