//! The built-in default route `ferry serve` uses when no routes file exists at the default
//! path (spec §3): one OpenRouter route, default model `openrouter/auto`, its key from the
//! secret slot `openrouter.primary` or else `OPENROUTER_API_KEY` in the environment.

use std::path::Path;

use crate::error::ConfigError;
use crate::parse::parse_routes;
use crate::route::RoutesFile;

/// The environment variable the built-in route falls back to for its key.
pub const BUILTIN_KEY_ENV: &str = "OPENROUTER_API_KEY";
/// The secret slot the built-in route reads its key from first.
pub const BUILTIN_KEY_REF: &str = "openrouter.primary";
/// What the built-in route's `path` says (it was not loaded from a file).
pub const BUILTIN_SOURCE: &str = "(built-in default route)";

/// The built-in routes, as a routes file would say them.
pub const BUILTIN_ROUTES_TOML: &str = r#"version = 1
default_route = "openrouter"

[routes.openrouter]
driver = "openrouter"
default_model = "openrouter/auto"
model_support = "any"
auth_ref = "openrouter.primary"
"#;

/// The built-in default routes (parsed by the same rules as a routes file).
pub fn builtin_routes() -> Result<RoutesFile, ConfigError> {
    let mut file = parse_routes(BUILTIN_ROUTES_TOML, Path::new(BUILTIN_SOURCE))?;
    for route in file.routes.values_mut() {
        route.auth_env_fallback = Some(BUILTIN_KEY_ENV.to_string());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthSource;

    #[test]
    fn the_builtin_route_reads_the_stored_key_then_the_environment() {
        let file = builtin_routes().unwrap();
        let route = file.default();
        assert_eq!(route.id, "openrouter");
        assert_eq!(route.default_model, "openrouter/auto");
        assert!(route.is_verified_openrouter());
        assert_eq!(route.auth, AuthSource::Ref(BUILTIN_KEY_REF.to_string()));
        assert_eq!(route.auth_env_fallback.as_deref(), Some(BUILTIN_KEY_ENV));
    }
}
