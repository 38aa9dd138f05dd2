//! routes.toml → [`RoutesFile`]: the grammar and validation rules of spec §3, applied
//! table by table with positioned errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use toml_edit::ImDocument;

use crate::error::{ConfigError, FieldError, FieldErrorKind};
use crate::key_list::join_keys;
use crate::kinds::{DriverKind, ModelSupport, SpeakReplies, ThinkingLevel, TtsFormat};
use crate::names::{
    check_model_id, is_valid_category, is_valid_env_var_name, is_valid_route_id,
    is_valid_secret_ref, looks_like_api_key,
};
use crate::network::{NetworkConfig, ResolveEntry, RESOLVE_EXPECTED};
use crate::params::parse_params_object;
use crate::provider::{parse_provider_object, ProviderRouting};
use crate::route::{
    Attribution, AuthSource, Capabilities, MediaConfig, ModelConfig, Route, RoutesFile,
    DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_TOOL_STEPS, DEFAULT_TIMEOUT_MS,
    MAX_ATTRIBUTION_CATEGORIES, MAX_TOOL_STEPS_LIMIT, ROUTES_FILE_VERSION,
};
use crate::toml_tree::{Source, View};
use crate::urls::{parse_url, trim_trailing_slashes, UrlRule};

/// Keys of the top level.
pub const ROOT_KEYS: &[&str] = &["version", "default_route", "retention_days", "routes"];

/// Keys of `[routes.X]` before the capability flags.
const ROUTE_SETTING_KEYS: &[&str] = &[
    "driver",
    "default_model",
    "model_support",
    "auth_ref",
    "api_key_env",
    "management_auth_ref",
    "base_url",
    "fallbacks",
    "thinking",
    "timeout_ms",
    "connect_timeout_ms",
    "system_prompt",
    "speak_replies",
    "max_tool_steps",
];

/// Keys of `[routes.X]` that are tables (after the capability flags).
const ROUTE_TABLE_KEYS: &[&str] = &["attribution", "provider", "network", "media", "models"];

/// Keys of `[routes.X]`, in documentation order: settings, capability flags, tables.
pub const ROUTE_KEYS: &[&str] =
    &join_keys::<{ ROUTE_SETTING_KEYS.len() + Capabilities::KEYS.len() + ROUTE_TABLE_KEYS.len() }>(
        &join_keys::<{ ROUTE_SETTING_KEYS.len() + Capabilities::KEYS.len() }>(
            ROUTE_SETTING_KEYS,
            Capabilities::KEYS,
        ),
        ROUTE_TABLE_KEYS,
    );

/// Keys of `[routes.X.attribution]`.
pub const ATTRIBUTION_KEYS: &[&str] = &["enabled", "referer", "title", "categories"];
/// Keys of `[routes.X.network]`.
pub const NETWORK_KEYS: &[&str] = &["ca_file", "resolve", "proxy"];
/// Keys of `[routes.X.media]`.
pub const MEDIA_KEYS: &[&str] = &[
    "image_model",
    "tts_model",
    "tts_voice",
    "tts_format",
    "stt_model",
    "video_model",
    "image_timeout_ms",
    "video_poll_ms",
    "video_timeout_ms",
];
/// Keys of `[routes.X.models."M"]`.
pub const MODEL_KEYS: &[&str] = &["provider", "params"];

const AUTH_HINT: &str = "set auth_ref = \"openrouter.primary\" to use a key stored with `ferry secrets set`, or api_key_env = \"OPENROUTER_API_KEY\" to read the key from an environment variable";

/// Reads and parses a routes file.
pub fn load_routes_file(path: &Path) -> Result<RoutesFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_routes(&text, path)
}

/// Parses routes.toml text; `path` is used in messages and to resolve relative paths.
pub fn parse_routes(text: &str, path: &Path) -> Result<RoutesFile, ConfigError> {
    let src = Source { text, path };
    let doc = ImDocument::parse(text).map_err(|e| src.syntax_error(&e))?;
    let root = View::root(&src, doc.as_table());
    root.check_keys(ROOT_KEYS)?;

    if root.has("version") {
        let ok =
            root.positive_int("version").ok().flatten() == Some(u64::from(ROUTES_FILE_VERSION));
        if !ok {
            return Err(root.expected(
                "version",
                "1 (the only routes file version this ferry understands)",
            ));
        }
    }

    let routes_view = root.table("routes")?.ok_or_else(|| {
        root.missing(
            "routes",
            Some("add at least one [routes.NAME] table (see routes.example.toml)"),
        )
    })?;
    let ids = routes_view.keys();
    if ids.is_empty() {
        return Err(src.error_at(
            routes_view.at,
            "[routes] defines no route; add at least one [routes.NAME] table (see routes.example.toml)",
        ));
    }
    let mut routes = BTreeMap::new();
    for id in &ids {
        if !is_valid_route_id(id) {
            return Err(src.error_at(
                routes_view.key_offset(id),
                "a route id in [routes] must be non-empty and contain no `/`, whitespace or control characters",
            ));
        }
        let view = routes_view
            .table(id)?
            .ok_or_else(|| routes_view.expected(id, "a table"))?;
        routes.insert(id.to_string(), parse_route(id, &view)?);
    }

    let known = ids.join(", ");
    let default_route = match root.string("default_route", "a route id (a string)")? {
        Some(d) if routes.contains_key(d) => d.to_string(),
        Some(_) => {
            return Err(root.error_at_value(
                "default_route",
                format!("key \"default_route\" at the top level names no route of this file; known routes: {known}"),
            ))
        }
        None if ids.len() == 1 => ids[0].to_string(),
        None => {
            return Err(root.missing(
                "default_route",
                Some(&format!(
                    "with several routes, name the default one (known routes: {known})"
                )),
            ))
        }
    };

    let retention_days = match root.positive_int("retention_days")? {
        None => None,
        Some(n) => Some(
            u32::try_from(n)
                .ok()
                .filter(|d| *d <= 36_500)
                .ok_or_else(|| {
                    root.expected("retention_days", "a number of days from 1 to 36500")
                })?,
        ),
    };

    Ok(RoutesFile {
        version: ROUTES_FILE_VERSION,
        default_route,
        routes,
        retention_days,
        path: path.to_path_buf(),
    })
}

/// `key` parsed with `FromStr`, or `must be one of …`.
fn enum_value<T: FromStr>(
    view: &View<'_>,
    key: &str,
    valid: &[&str],
) -> Result<Option<T>, ConfigError> {
    let expected = format!("one of: {}", valid.join(", "));
    match view.string(key, &expected)? {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| view.expected(key, &expected)),
    }
}

/// A model id at `key`.
fn model_id(view: &View<'_>, key: &str) -> Result<Option<String>, ConfigError> {
    match view.string(key, "a model id (a string)")? {
        None => Ok(None),
        Some(m) => match check_model_id(m) {
            Ok(()) => Ok(Some(m.to_string())),
            Err(rule) => Err(view.expected(key, rule)),
        },
    }
}

fn parse_route(id: &str, view: &View<'_>) -> Result<Route, ConfigError> {
    view.check_keys(ROUTE_KEYS)?;
    let src = view.src;

    let driver = enum_value::<DriverKind>(view, "driver", DriverKind::VALID)?
        .unwrap_or(DriverKind::OpenRouter);
    let default_model = model_id(view, "default_model")?.ok_or_else(|| {
        view.missing(
            "default_model",
            Some("add default_model = \"vendor/model\", e.g. \"openai/gpt-5.4-mini\""),
        )
    })?;
    let model_support =
        enum_value(view, "model_support", ModelSupport::VALID)?.unwrap_or(ModelSupport::Any);
    let auth = parse_auth(view)?;

    let base_url = match view.string("base_url", UrlRule::BaseUrl.expected())? {
        None => None,
        Some(s) => Some(trim_trailing_slashes(
            parse_url(s, UrlRule::BaseUrl)
                .ok_or_else(|| view.expected("base_url", UrlRule::BaseUrl.expected()))?,
        )),
    };

    let mut fallbacks = Vec::new();
    let fallbacks_expected = "an array of model ids (strings)";
    for (m, offset) in view
        .string_array("fallbacks", fallbacks_expected)?
        .unwrap_or_default()
    {
        if let Err(rule) = check_model_id(m) {
            return Err(src.error_at(
                offset,
                FieldError::expected(
                    "fallbacks",
                    format!("an array of model ids; each must be {rule}"),
                )
                .describe(Some(&view.name)),
            ));
        }
        fallbacks.push(m.to_string());
    }

    let management_auth_ref = parse_management_ref(view)?;
    let thinking = enum_value::<ThinkingLevel>(view, "thinking", ThinkingLevel::VALID)?;
    let timeout_ms = view
        .positive_int("timeout_ms")?
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let connect_timeout_ms = view
        .positive_int("connect_timeout_ms")?
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS);
    let system_prompt = view
        .string("system_prompt", "a string")?
        .map(str::to_string);
    let speak_replies =
        enum_value(view, "speak_replies", SpeakReplies::VALID)?.unwrap_or(SpeakReplies::Off);
    let max_tool_steps = match view.positive_int("max_tool_steps")? {
        Some(n) if n > MAX_TOOL_STEPS_LIMIT => {
            return Err(view.expected(
                "max_tool_steps",
                &format!("an integer from 1 to {MAX_TOOL_STEPS_LIMIT}"),
            ))
        }
        Some(n) => n as u32,
        None => DEFAULT_MAX_TOOL_STEPS,
    };

    let mut capabilities = Capabilities::defaults_for(driver);
    for key in Capabilities::KEYS {
        if let (Some(value), Some(flag)) = (view.boolean(key)?, capabilities.flag_mut(key)) {
            *flag = value;
        }
    }

    let attribution = match view.table("attribution")? {
        Some(t) => parse_attribution(&t)?,
        None => Attribution::default(),
    };
    let provider = parse_provider_table(view, "provider")?;
    let network = match view.table("network")? {
        Some(t) => parse_network(&t)?,
        None => NetworkConfig::default(),
    };
    let media = match view.table("media")? {
        Some(t) => parse_media(&t)?,
        None => MediaConfig::default(),
    };
    let models = match view.table("models")? {
        Some(t) => parse_models(&t)?,
        None => BTreeMap::new(),
    };

    Ok(Route {
        id: id.to_string(),
        driver,
        default_model,
        model_support,
        auth,
        auth_env_fallback: None,
        management_auth_ref,
        base_url,
        fallbacks,
        thinking,
        timeout_ms,
        connect_timeout_ms,
        system_prompt,
        speak_replies,
        max_tool_steps,
        capabilities,
        attribution,
        provider,
        network,
        media,
        models,
    })
}

fn parse_auth(view: &View<'_>) -> Result<AuthSource, ConfigError> {
    let has_ref = view.has("auth_ref");
    let has_env = view.has("api_key_env");
    if has_ref && has_env {
        let (first, second) = if view.key_offset("auth_ref") <= view.key_offset("api_key_env") {
            ("auth_ref", "api_key_env")
        } else {
            ("api_key_env", "auth_ref")
        };
        let err = FieldError::new(
            first,
            FieldErrorKind::Conflict {
                other: second.to_string(),
                hint: "keep one: auth_ref = \"REF\" uses a key stored with `ferry secrets set`, api_key_env = \"VAR\" reads the key from an environment variable".to_string(),
            },
        );
        return Err(view
            .src
            .error_at(view.key_offset(second), err.describe(Some(&view.name))));
    }
    if let Some(r) = view.string("auth_ref", "a secret ref (a string)")? {
        if looks_like_api_key(r) {
            return Err(view.expected(
                "auth_ref",
                "the name of a stored secret (e.g. \"openrouter.primary\"), not the key itself; store the key with `ferry secrets set openrouter.primary --provider openrouter --stdin`",
            ));
        }
        if !is_valid_secret_ref(r) {
            return Err(view.expected(
                "auth_ref",
                "a secret ref matching [a-z0-9][a-z0-9._-]* (e.g. \"openrouter.primary\")",
            ));
        }
        return Ok(AuthSource::Ref(r.to_string()));
    }
    if let Some(e) = view.string("api_key_env", "an environment variable name (a string)")? {
        if looks_like_api_key(e) {
            return Err(view.expected(
                "api_key_env",
                "the name of an environment variable (e.g. \"OPENROUTER_API_KEY\"), not the key itself",
            ));
        }
        if !is_valid_env_var_name(e) {
            return Err(view.expected(
                "api_key_env",
                "an environment variable name matching [A-Za-z_][A-Za-z0-9_]* (e.g. \"OPENROUTER_API_KEY\")",
            ));
        }
        return Ok(AuthSource::Env(e.to_string()));
    }
    Err(view.missing("auth_ref", Some(AUTH_HINT)))
}

/// `management_auth_ref`: the stored OpenRouter management key that provisions upstream
/// keys for virtual keys (`ferry keys create --upstream-limit`).
fn parse_management_ref(view: &View<'_>) -> Result<Option<String>, ConfigError> {
    let Some(r) = view.string("management_auth_ref", "a secret ref (a string)")? else {
        return Ok(None);
    };
    if looks_like_api_key(r) {
        return Err(view.expected(
            "management_auth_ref",
            "the name of a stored secret (e.g. \"openrouter.management\"), not the key itself; store the management key with `ferry secrets set openrouter.management --provider openrouter --stdin`",
        ));
    }
    if !is_valid_secret_ref(r) {
        return Err(view.expected(
            "management_auth_ref",
            "a secret ref matching [a-z0-9][a-z0-9._-]* (e.g. \"openrouter.management\")",
        ));
    }
    Ok(Some(r.to_string()))
}

fn parse_attribution(view: &View<'_>) -> Result<Attribution, ConfigError> {
    view.check_keys(ATTRIBUTION_KEYS)?;
    let mut a = Attribution::default();
    if let Some(enabled) = view.boolean("enabled")? {
        a.enabled = enabled;
    }
    if let Some(s) = view.string("referer", UrlRule::Referer.expected())? {
        a.referer = Some(
            parse_url(s, UrlRule::Referer)
                .ok_or_else(|| view.expected("referer", UrlRule::Referer.expected()))?,
        );
    }
    let title_expected =
        "a non-empty string of printable ASCII characters (it is sent as an HTTP header)";
    if let Some(t) = view.string("title", title_expected)? {
        let ok = !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if !ok {
            return Err(view.expected("title", title_expected));
        }
        a.title = t.to_string();
    }
    let cat_expected = "an array of at most 2 lowercase-hyphenated categories like \"cli-agent\" (OpenRouter's limit)";
    if let Some(cats) = view.string_array("categories", cat_expected)? {
        if cats.len() > MAX_ATTRIBUTION_CATEGORIES {
            return Err(view.expected("categories", cat_expected));
        }
        for (c, offset) in cats {
            if !is_valid_category(c) {
                return Err(view.src.error_at(
                    offset,
                    FieldError::expected("categories", cat_expected).describe(Some(&view.name)),
                ));
            }
            a.categories.push(c.to_string());
        }
    }
    Ok(a)
}

fn parse_provider_table(view: &View<'_>, key: &str) -> Result<ProviderRouting, ConfigError> {
    match view.json_table(key)? {
        None => Ok(ProviderRouting::default()),
        Some(json) => match json.as_object() {
            Some(obj) => parse_provider_object(obj).map_err(|e| view.nested_field_error(key, e)),
            None => Err(view.expected(key, "a table")),
        },
    }
}

fn parse_network(view: &View<'_>) -> Result<NetworkConfig, ConfigError> {
    view.check_keys(NETWORK_KEYS)?;
    let mut n = NetworkConfig::default();
    let ca_expected =
        "a path to a PEM file (relative paths resolve against the routes file's directory)";
    if let Some(p) = view.string("ca_file", ca_expected)? {
        if p.is_empty() {
            return Err(view.expected("ca_file", ca_expected));
        }
        let p = Path::new(p);
        n.ca_file = Some(if p.is_relative() {
            view.src
                .path
                .parent()
                .map_or_else(|| p.to_path_buf(), |dir| dir.join(p))
        } else {
            p.to_path_buf()
        });
    }
    for (entry, offset) in view
        .string_array("resolve", RESOLVE_EXPECTED)?
        .unwrap_or_default()
    {
        let parsed = ResolveEntry::parse(entry).ok_or_else(|| {
            view.src.error_at(
                offset,
                FieldError::expected("resolve", RESOLVE_EXPECTED).describe(Some(&view.name)),
            )
        })?;
        n.resolve.push(parsed);
    }
    if let Some(s) = view.string("proxy", UrlRule::Proxy.expected())? {
        n.proxy = Some(
            parse_url(s, UrlRule::Proxy)
                .ok_or_else(|| view.expected("proxy", UrlRule::Proxy.expected()))?,
        );
    }
    Ok(n)
}

fn parse_media(view: &View<'_>) -> Result<MediaConfig, ConfigError> {
    view.check_keys(MEDIA_KEYS)?;
    let mut m = MediaConfig::default();
    for (key, slot) in [
        ("image_model", &mut m.image_model),
        ("tts_model", &mut m.tts_model),
        ("stt_model", &mut m.stt_model),
        ("video_model", &mut m.video_model),
    ] {
        if let Some(id) = model_id(view, key)? {
            *slot = id;
        }
    }
    let voice_expected = "a non-empty voice name";
    if let Some(v) = view.string("tts_voice", voice_expected)? {
        if v.trim().is_empty() {
            return Err(view.expected("tts_voice", voice_expected));
        }
        m.tts_voice = v.to_string();
    }
    if let Some(f) = enum_value::<TtsFormat>(view, "tts_format", TtsFormat::VALID)? {
        m.tts_format = f;
    }
    if let Some(ms) = view.positive_int("image_timeout_ms")? {
        m.image_timeout_ms = ms;
    }
    if let Some(ms) = view.positive_int("video_poll_ms")? {
        m.video_poll_ms = ms;
    }
    if let Some(ms) = view.positive_int("video_timeout_ms")? {
        m.video_timeout_ms = ms;
    }
    Ok(m)
}

fn parse_models(view: &View<'_>) -> Result<BTreeMap<String, ModelConfig>, ConfigError> {
    let mut models = BTreeMap::new();
    for model in view.keys() {
        if let Err(rule) = check_model_id(model) {
            return Err(view.src.error_at(
                view.key_offset(model),
                format!("a key of {} must be {rule}", view.name),
            ));
        }
        let t = view
            .table(model)?
            .ok_or_else(|| view.expected(model, "a table with provider and params"))?;
        t.check_keys(MODEL_KEYS)?;
        let provider = parse_provider_table(&t, "provider")?;
        let params = match t.json_table("params")? {
            None => Default::default(),
            Some(json) => match json.as_object() {
                Some(obj) => {
                    parse_params_object(obj).map_err(|e| t.nested_field_error("params", e))?
                }
                None => return Err(t.expected("params", "a table")),
            },
        };
        models.insert(model.to_string(), ModelConfig { provider, params });
    }
    Ok(models)
}
