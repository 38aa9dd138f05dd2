//! ferry-config: the routes.toml grammar and validation (spec §3), and the selector
//! grammar and precedence that pick a route and model for each input.
//!
//! Entry points: [`load_routes_file`] / [`parse_routes`] produce a validated
//! [`RoutesFile`]; [`resolve_target`] and [`validate_selector`] turn selectors into a
//! [`Target`]; [`parse_model_params_json`] and [`parse_provider_routing_json`] validate
//! per-input JSON overrides with the same rules as the file. No error message ever
//! contains a value from the file or an override.

mod builtin;
mod error;
mod json_value;
mod key_list;
mod kinds;
mod names;
mod network;
mod params;
mod parse;
mod provider;
mod render;
mod route;
mod selector;
mod toml_tree;
mod urls;

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod selector_tests;

pub use builtin::{
    builtin_routes, BUILTIN_KEY_ENV, BUILTIN_KEY_REF, BUILTIN_ROUTES_TOML, BUILTIN_SOURCE,
};
pub use error::{ConfigError, FieldError, FieldErrorKind, TableName};
pub use key_list::join_keys;
pub use kinds::{
    CacheControlTtl, DriverKind, ModelSupport, SpeakReplies, ThinkingLevel, TtsFormat,
    UnknownVariant,
};
pub use names::{
    check_model_id, is_valid_category, is_valid_env_var_name, is_valid_route_id,
    is_valid_secret_ref,
};
pub use network::{NetworkConfig, ResolveEntry};
pub use params::{
    parse_model_params_json, ModelParams, ParamsError, MAX_STOP_SEQUENCES, OPENAI_PARAM_KEYS,
    PARAM_ALIASES, PARAM_KEYS,
};
pub use parse::{
    load_routes_file, parse_routes, ATTRIBUTION_KEYS, MEDIA_KEYS, MODEL_KEYS, NETWORK_KEYS,
    ROOT_KEYS, ROUTE_KEYS,
};
pub use provider::{
    parse_provider_routing_json, ProviderRouting, ProviderRoutingError, PROVIDER_ROUTING_KEYS,
    QUANTIZATIONS, SORT_STRATEGIES,
};
pub use render::{to_routes_toml, without_nulls, RenderError};
pub use route::{
    Attribution, AuthSource, Capabilities, MediaConfig, ModelConfig, Route, RoutesFile,
    DEFAULT_ATTRIBUTION_TITLE, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_TOOL_STEPS,
    DEFAULT_TIMEOUT_MS, MAX_ATTRIBUTION_CATEGORIES, MAX_TOOL_STEPS_LIMIT, ROUTES_FILE_VERSION,
};
pub use selector::{
    parse_selector, resolve_target, validate_selector, wire_model, SelectorError, SelectorInputs,
    SelectorOrigin, Target,
};
pub use urls::{LEGACY_OPENROUTER_BASE_URL, OPENROUTER_BASE_URL};
