//! Refusing a model the route's loaded catalog says does not exist (`runtime set-model`,
//! `--model`), with the closest catalog ids as suggestions. Only on verified OpenRouter
//! routes, whose catalog is authoritative (a custom proxy's `/models` may not list every
//! model it routes). No catalog loaded, or an empty one, means "don't know" and allows the
//! model, as everywhere else; `openrouter/auto` (the router) is always allowed.

use ferry_config::wire_model;
use ferry_openrouter::Catalog;

use crate::engine::Engine;
use crate::EngineError;

/// OpenRouter's router pseudo-model, accepted whatever the catalog says.
const AUTO_ROUTER: &str = "openrouter/auto";
/// How many suggestions an error names.
const SUGGESTIONS: usize = 3;

/// The `n` catalog ids closest to `wanted` (Jaro-Winkler similarity, best first).
pub(crate) fn closest_ids(catalog: &Catalog, wanted: &str, n: usize) -> Vec<String> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = catalog
        .models()
        .iter()
        .map(|m| {
            (
                strsim::jaro_winkler(&wanted, &m.id.to_ascii_lowercase()),
                m.id.as_str(),
            )
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(n)
        .map(|(_, id)| id.to_string())
        .collect()
}

impl Engine {
    /// Refuses `model` on `route` when the route's loaded catalog does not list it.
    pub(crate) fn check_model_listed(&self, route: &str, model: &str) -> Result<(), EngineError> {
        let Ok(cfg) = self.inner.routes.route(route) else {
            return Ok(());
        };
        if !cfg.is_verified_openrouter() {
            return Ok(());
        }
        let Some(catalog) = self.inner.catalogs.get(route) else {
            return Ok(());
        };
        let wire = wire_model(cfg, model);
        if wire == AUTO_ROUTER || catalog.models().is_empty() || catalog.model(&wire).is_some() {
            return Ok(());
        }
        let closest = closest_ids(&catalog, &wire, SUGGESTIONS);
        Err(EngineError::bad_input(
            "unknown_model",
            format!(
                "model {wire} is not in route {route}'s model catalog; closest: {}. List models with `ferry models list --search WORD` (or --refresh when the catalog is outdated)",
                closest.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use ferry_openrouter::CatalogModel;
    use serde_json::json;

    use super::*;

    #[test]
    fn suggestions_are_the_nearest_ids_first() {
        let doc = json!({"data": [
            {"id": "openai/gpt-5.4-mini"}, {"id": "openai/gpt-5.4"},
            {"id": "anthropic/claude-sonnet-4-5"}, {"id": "google/gemini-3-pro"}
        ]});
        let catalog = Catalog::from_models_document(&doc, SystemTime::now()).unwrap();
        assert_eq!(
            catalog.models().len(),
            4,
            "{:?}",
            catalog
                .models()
                .iter()
                .map(|m: &CatalogModel| &m.id)
                .collect::<Vec<_>>()
        );
        let got = closest_ids(&catalog, "openai/gpt-5.4-minii", 2);
        assert_eq!(got, ["openai/gpt-5.4-mini", "openai/gpt-5.4"]);
    }
}
