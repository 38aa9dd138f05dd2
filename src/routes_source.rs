//! Which routes `serve` and `doctor` use: the file named with `--routes-file` /
//! `FERRY_ROUTES_FILE` (missing = error), else `./routes.toml` when it exists, else the
//! built-in default route (spec §3).

use std::path::{Path, PathBuf};

use ferry_config::{ConfigError, RoutesFile};

/// Where `serve` looks for a routes file when none is named.
pub const DEFAULT_ROUTES_FILE: &str = "./routes.toml";

/// Where the routes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutesSource {
    /// A routes file.
    File(PathBuf),
    /// No file was named and none exists at the default path.
    Builtin,
}

/// The routes to use and where they came from.
pub fn load(explicit: Option<&Path>) -> Result<(RoutesFile, RoutesSource), ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_ROUTES_FILE).exists() => PathBuf::from(DEFAULT_ROUTES_FILE),
        None => return Ok((ferry_config::builtin_routes()?, RoutesSource::Builtin)),
    };
    let routes = ferry_config::load_routes_file(&path)?;
    Ok((routes, RoutesSource::File(path)))
}

/// The one line that says the built-in route is in use and how to change that.
pub fn builtin_notice(routes: &RoutesFile) -> String {
    let route = routes.default();
    format!(
        "no routes file at {DEFAULT_ROUTES_FILE}: using the built-in default route {} (model {}; key from secret {} or else ${}); to configure routes, cp routes.example.toml routes.toml",
        route.id,
        route.default_model,
        ferry_config::BUILTIN_KEY_REF,
        ferry_config::BUILTIN_KEY_ENV,
    )
}
