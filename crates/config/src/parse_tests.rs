//! Tests of routes.toml parsing and validation: one or more per rule of spec §3.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::{
    load_routes_file, parse_routes, AuthSource, CacheControlTtl, Capabilities, ConfigError,
    DriverKind, ModelSupport, NetworkConfig, RoutesFile, SpeakReplies, ThinkingLevel, TtsFormat,
};

const HEAD: &str = "[routes.openrouter]\ndefault_model = \"openai/gpt-5.4-mini\"\nauth_ref = \"openrouter.primary\"\n";

fn parse(text: &str) -> Result<RoutesFile, ConfigError> {
    parse_routes(text, Path::new("./routes.toml"))
}

fn ok(text: &str) -> RoutesFile {
    match parse(text) {
        Ok(r) => r,
        Err(e) => panic!("expected a valid file, got: {e}\n---\n{text}"),
    }
}

/// The error message of an invalid file.
fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// `(line, column)` of the error of an invalid file.
fn pos(text: &str) -> (usize, usize) {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.position().unwrap_or((0, 0)),
    }
}

/// HEAD plus more lines of the same route table.
fn route(extra: &str) -> String {
    format!("{HEAD}{extra}\n")
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "missing {p:?} in: {msg}");
    }
}

// ---- the example file and defaults ----------------------------------------------------

#[test]
fn example_file_is_one_route_that_sends_nothing_extra() {
    let text = include_str!("../../../routes.example.toml");
    let r = parse_routes(text, Path::new("routes.example.toml")).unwrap();
    assert_eq!(r.default_route, "openrouter");
    assert_eq!(r.route_ids(), vec!["openrouter"]);
    let or = r.default();
    assert_eq!(or.default_model, "openai/gpt-5.4-mini");
    assert_eq!(or.auth, AuthSource::Ref("openrouter.primary".into()));
    assert!(or.is_verified_openrouter());
    // Nothing is sent with every request unless the user asks for it.
    assert!(or.models.is_empty(), "{:?}", or.models);
    assert!(or.provider.0.is_empty(), "{:?}", or.provider);
    assert!(or.fallbacks.is_empty() && or.thinking.is_none() && or.system_prompt.is_none());
    assert_eq!(or.network, NetworkConfig::default());
}

/// Every commented-out setting of the template is valid once uncommented (the
/// `api_key_env` alternative excepted: it replaces `auth_ref`).
#[test]
fn example_file_commented_settings_parse_when_uncommented() {
    let text = include_str!("../../../routes.example.toml");
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if !rest.starts_with("api_key_env = \"OPENROUTER_API_KEY\"")
                    && (rest.starts_with('[')
                        || rest
                            .split_once(" = ")
                            .is_some_and(|(k, _)| !k.contains(' '))) =>
            {
                rest.to_string()
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let r = parse_routes(&uncommented, Path::new("routes.example.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    assert_eq!(r.route_ids(), vec!["local", "openrouter"]);
    let or = r.default();
    assert_eq!(or.fallbacks, vec!["anthropic/claude-sonnet-4-5"]);
    assert_eq!(or.thinking, Some(ThinkingLevel::Medium));
    assert_eq!(or.attribution.categories, vec!["cli-agent"]);
    assert_eq!(or.provider.0.get("data_collection"), Some(&json!("deny")));
    let claude = or.model_config("anthropic/claude-sonnet-4-5").unwrap();
    assert_eq!(
        claude.params.cache_control_ttl,
        Some(CacheControlTtl::OneHour)
    );
    assert_eq!(
        claude.provider.0.get("order"),
        Some(&json!(["aws-bedrock", "anthropic"]))
    );
    let local = r.route("local").unwrap();
    assert_eq!(local.model_support, ModelSupport::Listed);
    assert_eq!(local.auth, AuthSource::Env("LOCAL_PROXY_KEY".into()));
    assert!(!local.is_verified_openrouter());
}

#[test]
fn minimal_file_gets_documented_defaults() {
    let r = ok(HEAD);
    assert_eq!(r.version, 1);
    assert_eq!(r.default_route, "openrouter");
    assert_eq!(r.path, PathBuf::from("./routes.toml"));
    let route = r.default();
    assert_eq!(route.id, "openrouter");
    assert_eq!(route.driver, DriverKind::OpenRouter);
    assert_eq!(route.model_support, ModelSupport::Any);
    assert_eq!(route.base_url, None);
    assert!(route.fallbacks.is_empty());
    assert_eq!(route.thinking, None);
    assert_eq!(route.timeout_ms, 120_000);
    assert_eq!(route.connect_timeout_ms, 10_000);
    assert_eq!(route.system_prompt, None);
    assert_eq!(route.speak_replies, SpeakReplies::Off);
    assert_eq!(
        route.capabilities,
        Capabilities {
            multimodal_input: true,
            native_web_search: false,
            image_generation: true,
            image_edit: true,
            audio_generation: true,
            transcription: true,
            video_generation: true,
        }
    );
    assert!(route.attribution.enabled);
    assert_eq!(route.attribution.title, "ferry");
    assert!(route.attribution.referer.is_none());
    assert!(route.attribution.categories.is_empty());
    assert!(route.provider.is_empty());
    assert_eq!(route.network, Default::default());
    assert_eq!(
        route.media.image_model,
        "google/gemini-3.1-flash-image-preview"
    );
    assert_eq!(route.media.tts_model, "hexgrad/kokoro-82m");
    assert_eq!(route.media.tts_voice, "af_alloy");
    assert_eq!(route.media.tts_format, TtsFormat::Mp3);
    assert_eq!(route.media.stt_model, "openai/gpt-4o-mini-transcribe");
    assert_eq!(route.media.video_model, "google/veo-3.1-fast");
    assert_eq!(route.media.image_timeout_ms, 180_000);
    assert_eq!(route.media.video_poll_ms, 2_000);
    assert_eq!(route.media.video_timeout_ms, 1_200_000);
    assert_eq!(route.max_tool_steps, 8);
    assert!(route.models.is_empty());
}

#[test]
fn serializes_without_path_and_with_auth_as_its_key() {
    let r = ok(HEAD);
    let v = serde_json::to_value(&r).unwrap();
    assert!(v.get("path").is_none());
    assert_eq!(
        v["routes"]["openrouter"]["auth"],
        json!({"auth_ref": "openrouter.primary"})
    );
    let r = ok("[routes.x]\ndefault_model = \"a/b\"\napi_key_env = \"K\"\n");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["routes"]["x"]["auth"], json!({"api_key_env": "K"}));
    assert_eq!(v["routes"]["x"]["thinking"], json!(null));
}

// ---- top level ---------------------------------------------------------------------------

#[test]
fn version_is_optional_but_must_be_one() {
    assert_eq!(ok(&format!("version = 1\n{HEAD}")).version, 1);
    let msg = err(&format!("version = 2\n{HEAD}"));
    assert_contains(
        &msg,
        &[
            "./routes.toml:1:11:",
            "key \"version\" at the top level must be 1",
        ],
    );
    err(&format!("version = \"1\"\n{HEAD}"));
    err(&format!("version = 1.0\n{HEAD}"));
}

#[test]
fn at_least_one_route_is_required() {
    let msg = err("version = 1\n");
    assert_contains(
        &msg,
        &["missing key \"routes\" at the top level", "[routes.NAME]"],
    );
    let msg = err("[routes]\n");
    assert_contains(&msg, &["defines no route"]);
    let msg = err("routes = 3\n");
    assert_contains(&msg, &["key \"routes\" at the top level must be a table"]);
    err("[[routes]]\ndefault_model = \"a/b\"\n");
}

#[test]
fn route_ids_must_be_non_empty_without_slash_or_whitespace() {
    for id in ["\"a/b\"", "\"a b\"", "\"\"", "\"a\\tb\""] {
        let text = format!("[routes.{id}]\ndefault_model = \"a/b\"\nauth_ref = \"r\"\n");
        let msg = err(&text);
        assert_contains(&msg, &["route id", "no `/`, whitespace"]);
        assert_eq!(pos(&text), (1, 9), "{id}");
    }
    ok("[routes.\"work.proxy-2\"]\ndefault_model = \"a/b\"\nauth_ref = \"r\"\n");
    let msg = err("[routes]\nopenrouter = 1\n");
    assert_contains(&msg, &["key \"openrouter\" in [routes] must be a table"]);
}

const TWO: &str = "[routes.a]\ndefault_model = \"x/y\"\nauth_ref = \"r\"\n[routes.b]\ndefault_model = \"x/z\"\nauth_ref = \"r\"\n";

#[test]
fn retention_days_is_a_number_of_days() {
    assert_eq!(ok(HEAD).retention_days, None);
    assert_eq!(
        ok(&format!("retention_days = 30\n{HEAD}")).retention_days,
        Some(30)
    );
    for bad in ["0", "-1", "\"30\"", "36501"] {
        let msg = err(&format!("retention_days = {bad}\n{HEAD}"));
        assert!(msg.contains("retention_days"), "{bad}: {msg}");
    }
}

#[test]
fn default_route_rules() {
    // One route: defaults to it.
    assert_eq!(ok(HEAD).default_route, "openrouter");
    // Several routes: required, and it must exist.
    let msg = err(TWO);
    assert_contains(
        &msg,
        &[
            "missing key \"default_route\" at the top level",
            "known routes: a, b",
        ],
    );
    assert_eq!(
        ok(&format!("default_route = \"b\"\n{TWO}")).default().id,
        "b"
    );
    let text = format!("default_route = \"c\"\n{TWO}");
    let msg = err(&text);
    assert_contains(
        &msg,
        &["default_route", "names no route", "known routes: a, b"],
    );
    assert!(!msg.contains("\"c\""), "{msg}");
    assert_eq!(pos(&text), (1, 17));
    // Also with a single route.
    err(&format!("default_route = \"other\"\n{HEAD}"));
    err(&format!("default_route = 1\n{HEAD}"));
}

// ---- unknown keys at every level -----------------------------------------------------------

#[test]
fn unknown_key_error_has_the_documented_format() {
    let text = format!("version = 1\n\n\n\n\n{HEAD}defualt_model = \"x\"\n");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.position(), Some((9, 1)));
    let msg = e.to_string();
    assert!(
        msg.starts_with("./routes.toml:9:1: unknown key \"defualt_model\" in [routes.openrouter]; valid keys: driver, default_model, "),
        "{msg}"
    );
}

#[test]
fn unknown_keys_are_rejected_in_every_table() {
    let cases: &[(String, &[&str], (usize, usize))] = &[
        (
            format!("defaut_route = \"x\"\n{HEAD}"),
            &["unknown key \"defaut_route\" at the top level", "valid keys: version, default_route, retention_days, routes"],
            (1, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.attribution]\ntitel = \"x\"\n"),
            &["unknown key \"titel\" in [routes.openrouter.attribution]", "valid keys: enabled, referer, title, categories"],
            (5, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.provider]\nordr = [\"a\"]\n"),
            &["unknown key \"ordr\" in [routes.openrouter.provider]", "valid keys: order, only, ignore, allow_fallbacks"],
            (5, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.network]\nproxi = \"x\"\n"),
            &["unknown key \"proxi\" in [routes.openrouter.network]", "valid keys: ca_file, resolve, proxy"],
            (5, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.media]\nimage_modle = \"x\"\n"),
            &["unknown key \"image_modle\" in [routes.openrouter.media]", "valid keys: image_model, tts_model"],
            (5, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.models.\"openai/gpt-5\"]\nparam = {{}}\n"),
            &["unknown key \"param\" in [routes.openrouter.models.\"openai/gpt-5\"]", "valid keys: provider, params"],
            (5, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.models.\"openai/gpt-5\".provider]\nonly = [\"a\"]\nignroe = [\"b\"]\n"),
            &["unknown key \"ignroe\" in [routes.openrouter.models.\"openai/gpt-5\".provider]"],
            (6, 1),
        ),
        (
            format!("{HEAD}[routes.openrouter.models.\"openai/gpt-5\"]\nparams = {{ temperature = 1, max_token = 3 }}\n"),
            &["unknown key \"max_token\" in [routes.openrouter.models.\"openai/gpt-5\".params]", "valid keys: temperature, top_p, max_tokens"],
            (5, 29),
        ),
    ];
    for (text, parts, at) in cases {
        let msg = err(text);
        assert_contains(&msg, parts);
        assert_eq!(pos(text), *at, "{msg}");
    }
}

// ---- route keys ------------------------------------------------------------------------------

#[test]
fn type_errors_name_key_and_expected_type() {
    let msg = err(&route("timeout_ms = \"fast\""));
    assert!(
        msg.ends_with("key \"timeout_ms\" in [routes.openrouter] must be a positive integer"),
        "{msg}"
    );
    assert_eq!(pos(&route("timeout_ms = \"fast\"")), (4, 14));
    for bad in [
        "timeout_ms = 0",
        "timeout_ms = -5",
        "timeout_ms = 1.5",
        "connect_timeout_ms = 0",
    ] {
        err(&route(bad));
    }
    let r = ok(&route("timeout_ms = 5\nconnect_timeout_ms = 7"));
    assert_eq!(
        (r.default().timeout_ms, r.default().connect_timeout_ms),
        (5, 7)
    );
}

#[test]
fn driver_must_be_openrouter() {
    assert_eq!(
        ok(&route("driver = \"openrouter\"")).default().driver,
        DriverKind::OpenRouter
    );
    let msg = err(&route("driver = \"openai\""));
    assert_contains(
        &msg,
        &["key \"driver\" in [routes.openrouter] must be one of: openrouter"],
    );
    err(&route("driver = 1"));
}

#[test]
fn default_model_is_required_and_non_empty() {
    let text = "[routes.a]\nauth_ref = \"r\"\n";
    assert_contains(&err(text), &["missing key \"default_model\" in [routes.a]"]);
    for bad in ["\"\"", "\"a b\"", "\"/x\"", "1"] {
        err(&format!(
            "[routes.a]\nauth_ref = \"r\"\ndefault_model = {bad}\n"
        ));
    }
}

#[test]
fn model_support_values() {
    assert_eq!(
        ok(&route("model_support = \"listed\""))
            .default()
            .model_support,
        ModelSupport::Listed
    );
    assert_eq!(
        ok(&route("model_support = \"any\""))
            .default()
            .model_support,
        ModelSupport::Any
    );
    assert_contains(
        &err(&route("model_support = \"some\"")),
        &["must be one of: any, listed"],
    );
}

#[test]
fn auth_ref_and_api_key_env_are_exclusive_and_one_is_required() {
    let text = "[routes.a]\ndefault_model = \"x/y\"\nauth_ref = \"r\"\napi_key_env = \"K\"\n";
    let msg = err(text);
    assert_contains(
        &msg,
        &[
            "keys \"auth_ref\" and \"api_key_env\" in [routes.a] cannot be used together",
            "keep one",
        ],
    );
    assert_eq!(pos(text), (4, 1));
    let msg = err("[routes.a]\ndefault_model = \"x/y\"\n");
    assert_contains(
        &msg,
        &[
            "missing key \"auth_ref\" in [routes.a]",
            "auth_ref = ",
            "api_key_env = ",
            "secret",
            "environment variable",
        ],
    );
}

#[test]
fn auth_ref_follows_the_secret_ref_grammar() {
    let base = "[routes.a]\ndefault_model = \"x/y\"\n";
    assert_eq!(
        ok(&format!("{base}auth_ref = \"openrouter.primary-2_b\"\n"))
            .default()
            .auth,
        AuthSource::Ref("openrouter.primary-2_b".into())
    );
    for bad in ["\"\"", "\"Upper\"", "\".x\"", "\"a/b\"", "true"] {
        err(&format!("{base}auth_ref = {bad}\n"));
    }
    assert_contains(
        &err(&format!("{base}auth_ref = \"A\"\n")),
        &["[a-z0-9][a-z0-9._-]*"],
    );
    let msg = err(&format!("{base}auth_ref = \"sk-or-v1-0123abcdef\"\n"));
    assert_contains(&msg, &["not the key itself", "ferry secrets set"]);
    assert!(!msg.contains("0123abcdef"), "{msg}");
}

#[test]
fn api_key_env_must_be_a_variable_name() {
    let base = "[routes.a]\ndefault_model = \"x/y\"\n";
    assert_eq!(
        ok(&format!("{base}api_key_env = \"OPENROUTER_API_KEY\"\n"))
            .default()
            .auth,
        AuthSource::Env("OPENROUTER_API_KEY".into())
    );
    err(&format!("{base}api_key_env = \"1ABC\"\n"));
    err(&format!("{base}api_key_env = \"A-B\"\n"));
    let msg = err(&format!("{base}api_key_env = \"sk-or-v1-0123abcdef\"\n"));
    assert_contains(&msg, &["not the key itself"]);
    assert!(!msg.contains("0123abcdef"), "{msg}");
}

#[test]
fn base_url_forms() {
    let r = ok(&route("base_url = \"https://openrouter.ai/api/v1/\""));
    assert_eq!(
        r.default().base_url.as_ref().unwrap().as_str(),
        "https://openrouter.ai/api/v1"
    );
    assert!(r.default().is_verified_openrouter());
    let r = ok(&route("base_url = \"http://127.0.0.1:8080/v1\""));
    assert!(!r.default().is_verified_openrouter());
    assert_eq!(
        r.default().effective_base_url().as_str(),
        "http://127.0.0.1:8080/v1"
    );
    for bad in [
        "\"openrouter.ai/api/v1\"",
        "\"/api/v1\"",
        "\"ftp://openrouter.ai/api/v1\"",
        "\"https://user:pw@openrouter.ai/api/v1\"",
        "\"https://openrouter.ai/api/v1?x=1\"",
        "\"https://openrouter.ai/api/v1#top\"",
        "42",
    ] {
        let msg = err(&route(&format!("base_url = {bad}")));
        assert_contains(&msg, &["key \"base_url\" in [routes.openrouter] must be"]);
    }
}

#[test]
fn fallbacks_are_model_ids() {
    let r = ok(&route("fallbacks = [\"a/b\", \"c/d:free\"]"));
    assert_eq!(r.default().fallbacks, vec!["a/b", "c/d:free"]);
    let text = route("fallbacks = [\"a/b\", \"c d\"]");
    assert_contains(
        &err(&text),
        &["key \"fallbacks\" in [routes.openrouter] must be an array of model ids"],
    );
    assert_eq!(pos(&text), (4, 21));
    err(&route("fallbacks = \"a/b\""));
    err(&route("fallbacks = [1]"));
}

#[test]
fn thinking_levels_and_aliases() {
    for (text, level) in crate::kinds::THINKING_SPELLINGS {
        assert_eq!(
            ok(&route(&format!("thinking = \"{text}\"")))
                .default()
                .thinking,
            Some(*level)
        );
    }
    assert_contains(
        &err(&route("thinking = \"ultra\"")),
        &["key \"thinking\"", "off, minimal, low, medium, high, xhigh"],
    );
}

#[test]
fn system_prompt_and_speak_replies() {
    let r = ok(&route(
        "system_prompt = \"Be brief.\"\nspeak_replies = \"always\"",
    ));
    assert_eq!(r.default().system_prompt.as_deref(), Some("Be brief."));
    assert_eq!(r.default().speak_replies, SpeakReplies::Always);
    err(&route("system_prompt = 1"));
    assert_contains(
        &err(&route("speak_replies = \"sometimes\"")),
        &["one of: off, always"],
    );
}

#[test]
fn capability_overrides() {
    let r = ok(&route(
        "multimodal_input = false\nnative_web_search = true\nimage_generation = false\nimage_edit = false\naudio_generation = false\ntranscription = false\nvideo_generation = false",
    ));
    assert_eq!(
        r.default().capabilities,
        Capabilities {
            multimodal_input: false,
            native_web_search: true,
            image_generation: false,
            image_edit: false,
            audio_generation: false,
            transcription: false,
            video_generation: false,
        }
    );
    assert_contains(
        &err(&route("image_edit = \"no\"")),
        &["key \"image_edit\" in [routes.openrouter] must be true or false"],
    );
}

// ---- attribution -----------------------------------------------------------------------------

#[test]
fn attribution_values() {
    let r = ok(&format!(
        "{HEAD}[routes.openrouter.attribution]\nenabled = false\nreferer = \"https://example.org/app\"\ntitle = \"My App\"\ncategories = [\"cli-agent\", \"programming-app\"]\n"
    ));
    let a = &r.default().attribution;
    assert!(!a.enabled);
    assert_eq!(
        a.referer.as_ref().unwrap().as_str(),
        "https://example.org/app"
    );
    assert_eq!(a.title, "My App");
    assert_eq!(a.categories, vec!["cli-agent", "programming-app"]);
}

#[test]
fn attribution_categories_limit_and_format() {
    let t = |v: &str| format!("{HEAD}[routes.openrouter.attribution]\ncategories = {v}\n");
    ok(&t("[]"));
    let msg = err(&t("[\"a\", \"b\", \"c\"]"));
    assert_contains(
        &msg,
        &["key \"categories\" in [routes.openrouter.attribution] must be an array of at most 2"],
    );
    for bad in [
        "[\"CLI\"]",
        "[\"cli_agent\"]",
        "[\"-cli\"]",
        "[\"cli--agent\"]",
        "[\"\"]",
        "[1]",
        "\"cli-agent\"",
    ] {
        err(&t(bad));
    }
    assert_eq!(pos(&t("[\"ok\", \"Bad\"]")), (5, 21));
}

#[test]
fn attribution_referer_and_title_rules() {
    let t = |kv: &str| format!("{HEAD}[routes.openrouter.attribution]\n{kv}\n");
    for bad in [
        "referer = \"example.org\"",
        "referer = \"https://u:p@example.org\"",
        "referer = 1",
    ] {
        assert_contains(&err(&t(bad)), &["key \"referer\""]);
    }
    for bad in [
        "title = \"\"",
        "title = \"tab\\there\"",
        "title = \"caf\u{e9}\"",
        "title = 1",
    ] {
        assert_contains(&err(&t(bad)), &["key \"title\"", "printable ASCII"]);
    }
    err(&t("enabled = \"yes\""));
}

// ---- provider routing -------------------------------------------------------------------------

#[test]
fn route_provider_routing_is_validated_and_kept() {
    let r = ok(&format!(
        "{HEAD}[routes.openrouter.provider]\norder = [\"anthropic\"]\nallow_fallbacks = false\nsort = {{ by = \"throughput\", partition = \"none\" }}\nmax_price = {{ prompt = 1, completion = \"2.5\" }}\n"
    ));
    assert_eq!(
        serde_json::Value::Object(r.default().provider.0.clone()),
        json!({"order": ["anthropic"], "allow_fallbacks": false,
               "sort": {"by": "throughput", "partition": "none"},
               "max_price": {"prompt": 1, "completion": "2.5"}})
    );
}

#[test]
fn provider_routing_bad_types_are_positioned() {
    let t = |kv: &str| format!("{HEAD}[routes.openrouter.provider]\n{kv}\n");
    let cases = [
        (
            "order = \"anthropic\"",
            "key \"order\" in [routes.openrouter.provider] must be an array of non-empty strings",
            (5, 9),
        ),
        (
            "allow_fallbacks = \"yes\"",
            "key \"allow_fallbacks\" in [routes.openrouter.provider] must be true or false",
            (5, 19),
        ),
        (
            "data_collection = \"sometimes\"",
            "must be \"allow\" or \"deny\"",
            (5, 19),
        ),
        ("sort = \"fastest\"", "key \"sort\"", (5, 8)),
        (
            "sort = { by = \"price\", partiton = \"none\" }",
            "unknown key \"sort.partiton\" in [routes.openrouter.provider]",
            (5, 24),
        ),
        (
            "max_price = { prompt = \"cheap\" }",
            "key \"max_price.prompt\"",
            (5, 24),
        ),
        (
            "quantizations = [\"fp7\"]",
            "key \"quantizations\"",
            (5, 17),
        ),
        (
            "preferred_max_latency = \"low\"",
            "key \"preferred_max_latency\"",
            (5, 25),
        ),
        ("zdr = 1", "key \"zdr\"", (5, 7)),
    ];
    for (kv, part, at) in cases {
        let text = t(kv);
        assert_contains(&err(&text), &[part]);
        assert_eq!(pos(&text), at, "{kv}");
    }
    assert_contains(
        &err(&route("provider = \"anthropic\"")),
        &["key \"provider\" in [routes.openrouter] must be a table"],
    );
    assert_contains(
        &err(&t("max_price = { prompt = 1979-05-27 }")),
        &["key \"max_price.prompt\" in [routes.openrouter.provider] holds a date/time"],
    );
    assert_contains(
        &err(&t("preferred_max_latency = nan")),
        &["must be a finite number"],
    );
}

// ---- network ------------------------------------------------------------------------------------

#[test]
fn network_settings() {
    let text = format!(
        "{HEAD}[routes.openrouter.network]\nca_file = \"certs/root.pem\"\nresolve = [\"openrouter.ai:443:127.0.0.1\", \"openrouter.ai:8443:[::1]\"]\nproxy = \"socks5://127.0.0.1:1080\"\n"
    );
    let r = parse_routes(&text, Path::new("/etc/ferry/routes.toml")).unwrap();
    let n = &r.default().network;
    assert_eq!(
        n.ca_file.as_deref(),
        Some(Path::new("/etc/ferry/certs/root.pem"))
    );
    assert_eq!(n.resolve.len(), 2);
    assert_eq!(n.resolve[0].to_string(), "openrouter.ai:443:127.0.0.1");
    assert_eq!(n.resolve[1].port, 8443);
    assert_eq!(n.proxy.as_ref().unwrap().scheme(), "socks5");

    // Relative to a relative routes path; absolute paths stay as they are.
    let t = |v: &str| format!("{HEAD}[routes.openrouter.network]\nca_file = {v}\n");
    let r = parse_routes(&t("\"ca.pem\""), Path::new("conf/routes.toml")).unwrap();
    assert_eq!(
        r.default().network.ca_file.as_deref(),
        Some(Path::new("conf/ca.pem"))
    );
    let r = parse_routes(&t("\"ca.pem\""), Path::new("routes.toml")).unwrap();
    assert_eq!(
        r.default().network.ca_file.as_deref(),
        Some(Path::new("ca.pem"))
    );
    let r = parse_routes(&t("\"/abs/ca.pem\""), Path::new("conf/routes.toml")).unwrap();
    assert_eq!(
        r.default().network.ca_file.as_deref(),
        Some(Path::new("/abs/ca.pem"))
    );
    err(&t("\"\""));
    err(&t("1"));
}

#[test]
fn network_resolve_and_proxy_errors() {
    let t = |kv: &str| format!("{HEAD}[routes.openrouter.network]\n{kv}\n");
    let text = t("resolve = [\"openrouter.ai:443:127.0.0.1\", \"openrouter.ai:443:::1\"]");
    assert_contains(&err(&text), &["key \"resolve\" in [routes.openrouter.network] must be an array of \"HOST:PORT:ADDRESS[:TARGET_PORT]\""]);
    assert_eq!(pos(&text), (5, 43));
    err(&t("resolve = \"openrouter.ai:443:127.0.0.1\""));
    err(&t("resolve = [\"openrouter.ai:443\"]"));
    for bad in [
        "\"proxy.internal:3128\"",
        "\"ftp://proxy:21\"",
        "\"http://user:pw@proxy:3128\"",
    ] {
        assert_contains(&err(&t(&format!("proxy = {bad}"))), &["key \"proxy\""]);
    }
    ok(&t("proxy = \"http://proxy.internal:3128\""));
}

// ---- media --------------------------------------------------------------------------------------

#[test]
fn media_settings() {
    let r = ok(&format!(
        "{HEAD}[routes.openrouter.media]\nimage_model = \"black-forest-labs/flux.2-pro\"\ntts_model = \"openai/gpt-4o-mini-tts\"\ntts_voice = \"alloy\"\ntts_format = \"pcm\"\nstt_model = \"openai/whisper-1\"\nvideo_model = \"google/veo-3.1\"\nimage_timeout_ms = 60000\nvideo_poll_ms = 500\nvideo_timeout_ms = 600000\n"
    ));
    let m = &r.default().media;
    assert_eq!(m.image_model, "black-forest-labs/flux.2-pro");
    assert_eq!(m.tts_model, "openai/gpt-4o-mini-tts");
    assert_eq!(m.tts_voice, "alloy");
    assert_eq!(m.tts_format, TtsFormat::Pcm);
    assert_eq!(m.stt_model, "openai/whisper-1");
    assert_eq!(m.video_model, "google/veo-3.1");
    assert_eq!(m.image_timeout_ms, 60_000);
    assert_eq!(m.video_poll_ms, 500);
    assert_eq!(m.video_timeout_ms, 600_000);
    let t = |kv: &str| format!("{HEAD}[routes.openrouter.media]\n{kv}\n");
    assert_contains(
        &err(&t("tts_format = \"wav\"")),
        &["key \"tts_format\"", "one of: mp3, pcm"],
    );
    for bad in [
        "image_timeout_ms = 0",
        "video_poll_ms = -1",
        "video_timeout_ms = \"long\"",
        "image_model = \"\"",
        "tts_voice = \" \"",
        "video_model = 3",
    ] {
        err(&t(bad));
    }
}

#[test]
fn max_tool_steps_is_bounded() {
    let r = ok(&format!("{HEAD}max_tool_steps = 3\n"));
    assert_eq!(r.default().max_tool_steps, 3);
    for bad in [
        "max_tool_steps = 0",
        "max_tool_steps = 65",
        "max_tool_steps = \"8\"",
    ] {
        let e = err(&format!("{HEAD}{bad}\n"));
        assert!(e.contains("max_tool_steps"), "{e}");
    }
    let e = err(&format!("{HEAD}max_tool_steps = 65\n"));
    assert!(e.contains("from 1 to 64"), "{e}");
}

// ---- models -------------------------------------------------------------------------------------

#[test]
fn model_tables_with_slash_and_colon_ids() {
    let r = ok(&format!(
        "{HEAD}[routes.openrouter.models.\"meta-llama/llama-3.3-70b-instruct:free\"]\nparams = {{ maxTokens = 100, topP = 0.5, cacheControlTtl = \"5m\", responseCache = true, responseCacheTtlSeconds = 90000, responseCacheClear = true }}\nprovider = {{ only = [\"groq\"] }}\n[routes.openrouter.models.auto]\n"
    ));
    let route = r.default();
    let m = route
        .model_config("meta-llama/llama-3.3-70b-instruct:free")
        .unwrap();
    assert_eq!(m.params.max_tokens, Some(100));
    assert_eq!(m.params.top_p, Some(0.5));
    assert_eq!(
        m.params.cache_control_ttl,
        Some(CacheControlTtl::FiveMinutes)
    );
    assert_eq!(m.params.response_cache, Some(true));
    assert_eq!(m.params.response_cache_ttl_seconds, Some(90000));
    assert_eq!(m.params.response_cache_clear, Some(true));
    assert_eq!(m.provider.0.get("only"), Some(&json!(["groq"])));
    assert!(route.model_config("auto").unwrap().params.is_empty());
    assert!(route.is_model_listed("auto"));
}

#[test]
fn params_errors_are_positioned_and_name_the_table() {
    let t = |kv: &str| format!("{HEAD}[routes.openrouter.models.\"a/b\".params]\n{kv}\n");
    let text = t("temperature = 3");
    assert!(
        err(&text).ends_with("key \"temperature\" in [routes.openrouter.models.\"a/b\".params] must be a number from 0 to 2"),
        "{}",
        err(&text)
    );
    assert_eq!(pos(&text), (5, 15));
    let text = t("max_tokens = 1\nmaxTokens = 2");
    assert_contains(&err(&text), &["given twice"]);
    assert_eq!(pos(&text), (6, 13));
    let text = t("response_format = { type = \"json_schema\", json_schema = { schema = {} } }");
    assert_contains(
        &err(&text),
        &["missing key \"response_format.json_schema.name\""],
    );
    let text = t("response_format = { type = \"xml\" }");
    assert_contains(&err(&text), &["key \"response_format.type\""]);
    assert_eq!(pos(&text), (5, 28));
    err(&t("response_cache_ttl_seconds = 1.5"));
    err(&t("stop = [\"a\", \"b\", \"c\", \"d\", \"e\"]"));
    err(&t("thinking = \"maximum\""));
    err(&t("seed = 1979-05-27"));
    assert_contains(
        &err(&format!(
            "{HEAD}[routes.openrouter.models.\"a/b\"]\nparams = 1\n"
        )),
        &["key \"params\" in [routes.openrouter.models.\"a/b\"] must be a table"],
    );
}

#[test]
fn model_keys_must_be_model_ids_and_tables() {
    let text = format!("{HEAD}[routes.openrouter.models]\n\"a b\" = {{}}\n");
    assert_contains(
        &err(&text),
        &["a key of [routes.openrouter.models] must be a model id without whitespace"],
    );
    assert_eq!(pos(&text), (5, 1));
    assert_contains(
        &err(&format!("{HEAD}[routes.openrouter.models]\n\"a/b\" = 1\n")),
        &["key \"a/b\" in [routes.openrouter.models] must be a table"],
    );
    err(&route("models = []"));
}

// ---- syntax errors and secrecy ------------------------------------------------------------------

#[test]
fn toml_syntax_errors_give_line_and_column() {
    let text = format!("{HEAD}timeout_ms = = 3\n");
    let e = parse(&text).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("./routes.toml:4:"), "{msg}");
    assert_contains(&msg, &["TOML syntax error"]);
    assert_eq!(e.position(), Some((4, 14)));

    let text = "[routes.a]\ndefault_model = \"unterminated\nauth_ref = \"r\"\n";
    assert_eq!(pos(text), (2, 30));
    assert_contains(&err(text), &["invalid basic string"]);

    let text = format!("{HEAD}[routes.openrouter]\n");
    assert_contains(&err(&text), &["./routes.toml:4:", "duplicate key or table"]);
}

#[test]
fn values_are_never_echoed() {
    const SECRET: &str = "sk-or-v1-SECRET";
    let t = |kv: &str| route(&kv.replace("$S", SECRET));
    let sub = |table: &str, kv: &str| {
        format!(
            "{HEAD}[routes.openrouter.{table}]\n{}\n",
            kv.replace("$S", SECRET)
        )
    };
    let texts = [
        t("timeout_ms = \"$S\""),
        t("driver = \"$S\""),
        t("base_url = \"$S\""),
        t("base_url = \"https://$S@openrouter.ai/api/v1\""),
        t("thinking = \"$S\""),
        t("model_support = \"$S\""),
        t("speak_replies = \"$S\""),
        t("image_edit = \"$S\""),
        t("fallbacks = [\"a b $S\"]"),
        "[routes.a]\ndefault_model = \"x/y\"\nauth_ref = \"sk-or-v1-SECRET\"\n".to_string(),
        "[routes.a]\ndefault_model = \"x/y\"\napi_key_env = \"sk-or-v1-SECRET\"\n".to_string(),
        "[routes.a]\ndefault_model = \"x/y\"\nauth_ref = \"SK-or-v1-SECRET\"\n".to_string(),
        "[routes.a]\ndefault_model = \"sk-or-v1-SECRET\"\nauth_ref = \"r\"\napi_key_env = \"K\"\n"
            .to_string(),
        format!("default_route = \"{SECRET}\"\n{HEAD}"),
        format!("version = \"{SECRET}\"\n{HEAD}"),
        sub("attribution", "categories = [\"$S\"]"),
        sub("attribution", "referer = \"$S\""),
        sub("attribution", "title = \"$S\\n\""),
        sub("network", "resolve = [\"$S\"]"),
        sub("network", "proxy = \"http://user:$S@proxy:3128\""),
        sub("media", "tts_format = \"$S\""),
        sub("provider", "sort = \"$S\""),
        sub("provider", "max_price = { prompt = \"$S\" }"),
        sub("models.\"a/b\".params", "temperature = \"$S\""),
        sub("models.\"a/b\".params", "cache_control_ttl = \"$S\""),
        // Syntax errors: a bare value, an unterminated string, a bad escape.
        t("timeout_ms = $S"),
        t("system_prompt = \"$S"),
        t("system_prompt = \"\\q $S\""),
        format!("{HEAD}$S = 1\n[routes.openrouter]\n").replace("$S", SECRET),
    ];
    for text in texts {
        let msg = err(&text);
        assert!(!msg.contains("SECRET"), "value echoed: {msg}");
        assert!(!msg.contains("sk-or"), "value echoed: {msg}");
    }
}

// ---- reading files ------------------------------------------------------------------------------

#[test]
fn load_routes_file_reads_and_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.toml");
    let e = load_routes_file(&path).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    let msg = e.to_string();
    assert_contains(
        &msg,
        &[
            "cannot read routes file",
            "routes.toml",
            "routes.example.toml",
            "ferry onboard",
        ],
    );
    std::fs::write(&path, HEAD).unwrap();
    let r = load_routes_file(&path).unwrap();
    assert_eq!(r.path, path);
    std::fs::write(&path, "version = 3\n").unwrap();
    let msg = load_routes_file(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}:1:11:", path.display())),
        "{msg}"
    );
}

// ---- route helpers ------------------------------------------------------------------------------

#[test]
fn verified_openrouter_and_effective_base_url() {
    let base = |url: Option<&str>| {
        let extra = url
            .map(|u| format!("base_url = \"{u}\""))
            .unwrap_or_default();
        ok(&route(&extra)).default().clone()
    };
    let r = base(None);
    assert!(r.is_verified_openrouter());
    assert_eq!(
        r.effective_base_url().as_str(),
        "https://openrouter.ai/api/v1"
    );
    for u in [
        "https://openrouter.ai/api/v1",
        "https://openrouter.ai/api/v1/",
        "https://openrouter.ai/v1",
        "https://openrouter.ai/v1/",
        "https://OpenRouter.ai:443/api/v1",
    ] {
        let r = base(Some(u));
        assert!(r.is_verified_openrouter(), "{u}");
        assert_eq!(
            r.effective_base_url().as_str(),
            "https://openrouter.ai/api/v1",
            "{u}"
        );
    }
    for u in [
        "http://openrouter.ai/api/v1",
        "https://openrouter.ai/api/v2",
        "https://openrouter.ai.evil.test/api/v1",
        "https://openrouter.ai:8443/api/v1",
        "https://openrouter.ai",
    ] {
        assert!(!base(Some(u)).is_verified_openrouter(), "{u}");
    }
    assert_eq!(
        base(Some("https://proxy.test/x/"))
            .effective_base_url()
            .as_str(),
        "https://proxy.test/x"
    );
}

#[test]
fn listed_models() {
    let r = ok(&route("fallbacks = [\"f/1\", \"openai/gpt-5.4-mini\"]\nmodel_support = \"listed\"\n[routes.openrouter.models.\"m/1\"]"));
    let route = r.default();
    for m in ["openai/gpt-5.4-mini", "f/1", "m/1"] {
        assert!(route.is_model_listed(m), "{m}");
        assert!(route.accepts_model(m), "{m}");
    }
    assert!(!route.is_model_listed("x/y"));
    assert!(!route.accepts_model("x/y"));
    assert_eq!(
        route.listed_models(),
        vec!["openai/gpt-5.4-mini", "f/1", "m/1"]
    );
    assert!(route.model_config("m/1").is_some());
    assert!(route.model_config("f/1").is_none());
    let any = ok(HEAD);
    assert!(any.default().accepts_model("x/y"));
}
