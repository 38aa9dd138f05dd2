//! The session input body (spec §6) and its validation into a [`RunPlan`]: everything a
//! run needs, decided up front so that a bad selector or parameter is a synchronous 400
//! instead of a failed run.

use ferry_config::{
    parse_model_params_json, parse_provider_routing_json, resolve_target, ModelParams,
    ProviderRouting, RoutesFile, SelectorInputs, ThinkingLevel,
};
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// `POST /v1/sessions/{id}/input` and `/runs` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRequest {
    /// The user's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Attached assets or files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<serde_json::Value>,
    /// A route id (`--provider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// A model or selector (`--model`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Per-input fallback chain (`--fallback-model`), replacing the route's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks: Option<Vec<String>>,
    /// Thinking level (`--thinking`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Model parameters overriding the route's (`temperature`, `max_tokens`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// Provider routing overriding the route's and the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_routing: Option<serde_json::Value>,
    /// Speak the answer (`--speak`): true forces a spoken reply, false suppresses one
    /// the route or session would make; absent follows `speak_replies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speak: Option<bool>,
}

/// One model in the fallback chain, resolved to a route.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedModel {
    /// Route id.
    pub route: String,
    /// Model as configured (route prefix removed), before wire mapping.
    pub model: String,
}

/// A validated input: target chain, parameters and the new user message.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// First the target, then the fallbacks in order.
    pub chain: Vec<PlannedModel>,
    /// Per-input parameter overrides.
    pub params: ModelParams,
    /// Per-input thinking override.
    pub thinking: Option<ThinkingLevel>,
    /// Per-input provider routing override.
    pub provider_routing: ProviderRouting,
    /// The user message appended to history (attachment references are added by the
    /// engine once the attachments are stored).
    pub user_message: serde_json::Value,
    /// Per-input spoken-reply override.
    pub speak: Option<bool>,
}

impl InputRequest {
    /// Validates the input against the routes, the session's pin and the runtime model.
    pub fn plan(
        &self,
        routes: &RoutesFile,
        session_pin: Option<&str>,
        runtime_model: Option<&str>,
    ) -> Result<RunPlan, EngineError> {
        let content = self.content.as_deref().unwrap_or("");
        if content.trim().is_empty() && self.attachments.is_empty() {
            return Err(EngineError::bad_input(
                "empty_input",
                "the input has no content: pass text (e.g. `ferry sessions input demo \"hello\"`) or use --stdin",
            ));
        }
        let target = resolve_target(
            routes,
            &SelectorInputs {
                provider: self.provider.as_deref(),
                model: self.model.as_deref(),
                session_pin,
                runtime_model,
            },
        )
        .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;

        let chain = plan_chain(routes, &target, self.fallbacks.as_deref())?;

        let params = match &self.params {
            Some(v) => parse_model_params_json(v)
                .map_err(|e| EngineError::bad_input("invalid_params", e.to_string()))?,
            None => ModelParams::default(),
        };
        let thinking = match &self.thinking {
            Some(t) => Some(t.parse::<ThinkingLevel>().map_err(|_| {
                EngineError::bad_input(
                    "invalid_thinking",
                    format!(
                        "unknown thinking level {t:?}: use off, minimal, low, medium, high or xhigh (max and adaptive are accepted aliases)"
                    ),
                )
            })?),
            None => None,
        };
        let provider_routing = match &self.provider_routing {
            Some(v) => parse_provider_routing_json(v)
                .map_err(|e| EngineError::bad_input("invalid_provider_routing", e.to_string()))?,
            None => ProviderRouting::default(),
        };
        Ok(RunPlan {
            chain,
            params,
            thinking,
            provider_routing,
            user_message: serde_json::json!({"role": "user", "content": content}),
            speak: self.speak,
        })
    }
}

/// The model chain of one request: the target, then its fallbacks in order (`fallbacks`
/// replaces the route's own list when given), each resolved relative to the target's
/// route, without duplicates.
pub fn plan_chain(
    routes: &RoutesFile,
    target: &ferry_config::Target,
    fallbacks: Option<&[String]>,
) -> Result<Vec<PlannedModel>, EngineError> {
    let route = routes
        .route(&target.route)
        .ok_or_else(|| EngineError::Internal(format!("route {} vanished", target.route)))?;
    let fallback_selectors = fallbacks.unwrap_or(&route.fallbacks);
    let mut chain = vec![PlannedModel {
        route: target.route.clone(),
        model: target.model.clone(),
    }];
    // The target as a session pin, for fallbacks written relative to it; built only when
    // there are fallbacks to resolve (most requests have none).
    let pin = if fallback_selectors.is_empty() {
        String::new()
    } else {
        format!("{}/{}", target.route, target.model)
    };
    for selector in fallback_selectors {
        let fb = resolve_target(
            routes,
            &SelectorInputs {
                provider: None,
                model: Some(selector),
                session_pin: Some(&pin),
                runtime_model: None,
            },
        )
        .map_err(|e| EngineError::bad_input("invalid_fallback", format!("fallback model: {e}")))?;
        let planned = PlannedModel {
            route: fb.route,
            model: fb.model,
        };
        if !chain.contains(&planned) {
            chain.push(planned);
        }
    }
    Ok(chain)
}

/// Merges route < model < input provider routing for one planned model.
pub fn provider_for(
    route: &ferry_config::Route,
    model: &str,
    input: &ProviderRouting,
) -> ProviderRouting {
    let model_layer = route.model_config(model).map(|m| &m.provider);
    let mut layers: Vec<&ProviderRouting> = vec![&route.provider];
    if let Some(m) = model_layer {
        layers.push(m);
    }
    layers.push(input);
    ProviderRouting::merged(&layers)
}
