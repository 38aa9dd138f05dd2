//! The tool definitions each route offers, built once when the engine starts and owned by
//! it: every request of a route shares them (the same ~5 KB of JSON on every call), and
//! routes offering the same set share one copy.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_config::RoutesFile;
use ferry_openrouter::ToolDefs;

use super::{definition, offered, ToolName};

/// Route id → the definitions it offers (`None`: every media capability is off).
pub(crate) struct RouteTools {
    by_route: HashMap<String, Option<Arc<ToolDefs>>>,
}

impl RouteTools {
    /// The definitions of every route of `routes`.
    pub(crate) fn new(routes: &RoutesFile) -> RouteTools {
        let mut sets: HashMap<Vec<ToolName>, Arc<ToolDefs>> = HashMap::new();
        let by_route = routes
            .routes
            .iter()
            .map(|(id, route)| {
                let tools = offered(&route.capabilities);
                let defs = (!tools.is_empty()).then(|| {
                    sets.entry(tools)
                        .or_insert_with_key(|t| {
                            Arc::new(ToolDefs::new(t.iter().copied().map(definition).collect()))
                        })
                        .clone()
                });
                (id.clone(), defs)
            })
            .collect();
        RouteTools { by_route }
    }

    /// The definitions `route` offers, if any.
    pub(crate) fn of(&self, route: &str) -> Option<Arc<ToolDefs>> {
        self.by_route.get(route).cloned().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_the_same_capabilities_share_one_set_and_none_offers_nothing() {
        let text = "version = 1\ndefault_route = \"a\"\n[routes.a]\ndefault_model = \"m/a\"\napi_key_env = \"K\"\n\
                    [routes.b]\ndefault_model = \"m/b\"\napi_key_env = \"K\"\n\
                    [routes.c]\ndefault_model = \"m/c\"\napi_key_env = \"K\"\nimage_generation = false\nimage_edit = false\naudio_generation = false\ntranscription = false\nvideo_generation = false\n";
        let routes = ferry_config::parse_routes(text, std::path::Path::new("routes.toml")).unwrap();
        let tools = RouteTools::new(&routes);
        let (a, b) = (tools.of("a").unwrap(), tools.of("b").unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        let names: Vec<&str> = a
            .iter()
            .filter_map(|d| d["function"]["name"].as_str())
            .collect();
        assert!(names.contains(&"generate_image"), "{names:?}");
        assert!(tools.of("c").is_none());
        assert!(tools.of("unknown").is_none());
    }
}
