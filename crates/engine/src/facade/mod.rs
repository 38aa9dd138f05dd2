//! The OpenAI-compatible facade over the routes (`/openai/v1/…`): a request's `model` is a
//! ferry selector, the route's shaping, secrets, retries and fallbacks apply, and the
//! upstream reply is passed through as bytes (see `ferry_openrouter::open_raw_with_retries`).
//! Facade calls are not session runs; they are recorded as runs only when
//! [`Engine::set_facade_recording`] is on.

mod protocol;
mod record;
mod request;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use ferry_config::{resolve_target, wire_model, SelectorInputs};
use ferry_openrouter::{
    open_pass_with_retries, open_raw_with_retries, Attempt, ChatRequest, PassRequest, RawReply,
};
use serde::Serialize;

use crate::engine::Engine;
use crate::input::{plan_chain, provider_for};
use crate::EngineError;

pub use protocol::PassCall;
pub use record::FacadeRunEnd;
pub use request::{FacadeRequest, ReasoningChoice};
pub use tokens::estimate_input_tokens;

/// What happened while serving one facade request, filled in on success and failure alike
/// (for metrics and recording).
#[derive(Debug, Default)]
pub struct FacadeTrace {
    /// The route of the model that answered, else of the last model tried.
    pub route: Option<String>,
    /// The wire model that answered, else the last one tried.
    pub model: Option<String>,
    /// Every upstream attempt.
    pub attempts: Vec<Attempt>,
    /// Time spent waiting on upstream.
    pub upstream_wait: Duration,
}

/// One entry of `GET /openai/v1/models` (OpenAI's `Model` object).
#[derive(Debug, Clone, Serialize)]
pub struct FacadeModel {
    /// The selector to send as `model`: `ROUTE/MODEL`.
    pub id: String,
    /// Always `"model"`.
    pub object: &'static str,
    /// When the routes were loaded (Unix seconds).
    pub created: u64,
    /// The route serving it.
    pub owned_by: String,
}

impl Engine {
    /// Serves one facade request: resolves the selector (a bare model is on the default
    /// route; `auto` is `openrouter/auto`), then tries the model and the route's fallbacks
    /// in order, each with the route's shaping, key and retry policy, until one gives a
    /// validated reply. Fallbacks only follow failures no client has seen any byte of.
    pub async fn facade_open(
        &self,
        req: FacadeRequest,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, EngineError> {
        let routes = self.routes().file();
        let target = resolve_target(
            routes,
            &SelectorInputs {
                model: Some(&req.selector),
                ..SelectorInputs::default()
            },
        )
        .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        let chain = plan_chain(routes, &target, None)?;
        let FacadeRequest {
            stream,
            messages,
            tools,
            tool_choice,
            params,
            reasoning,
            provider,
            extra,
            ..
        } = req;
        let mut chat = ChatRequest {
            model: String::new(),
            messages,
            stream,
            tools: tools.map(Arc::new),
            tool_choice,
            params: Default::default(),
            thinking: None,
            provider: Default::default(),
            extra,
        };
        let last = chain.len() - 1;
        for (i, planned) in chain.iter().enumerate() {
            let route = self.routes().route(&planned.route)?;
            chat.model = wire_model(route, &planned.model);
            trace.route = Some(planned.route.clone());
            trace.model = Some(chat.model.clone());
            let client = self.routes().openrouter_client(&planned.route)?;
            let key = self.routes().api_key(route, self.secrets())?;
            chat.params = match route.model_config(&planned.model) {
                Some(m) => m.params.overlay(&params),
                None => params.clone(),
            };
            chat.thinking = match reasoning {
                ReasoningChoice::Level(level) => Some(level),
                ReasoningChoice::RouteDefault => chat.params.thinking.or(route.thinking),
                ReasoningChoice::AsGiven => {
                    chat.params.thinking = None;
                    None
                }
            };
            chat.provider = provider_for(route, &planned.model, &provider);
            let result = open_raw_with_retries(
                &client,
                &key,
                &chat,
                self.retry_policy(),
                collect_text,
                &mut trace.attempts,
                &mut trace.upstream_wait,
            )
            .await;
            match result {
                Ok(reply) => return Ok(reply),
                Err(e) if i < last && e.advances_fallback() => {
                    tracing::info!(model = %chat.model, code = e.code(), "facade: falling back to the next model");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Internal("empty model chain".into()))
    }

    /// Serves one Responses, Messages or embeddings request the way [`Engine::facade_open`]
    /// serves chat: selector, fallback chain, and per model the route's key, params,
    /// provider routing and retry policy; the reply is passed through as bytes.
    pub async fn facade_forward(
        &self,
        call: PassCall,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, EngineError> {
        let routes = self.routes().file();
        let target = resolve_target(
            routes,
            &SelectorInputs {
                model: Some(&call.selector),
                ..SelectorInputs::default()
            },
        )
        .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        let chain = plan_chain(routes, &target, None)?;
        let PassCall {
            protocol,
            stream,
            body,
            headers,
            provider,
            ..
        } = call;
        let mut req = PassRequest {
            protocol,
            model: String::new(),
            stream,
            body,
            headers,
            params: Default::default(),
            provider: Default::default(),
        };
        let last = chain.len() - 1;
        for (i, planned) in chain.iter().enumerate() {
            let route = self.routes().route(&planned.route)?;
            req.model = wire_model(route, &planned.model);
            trace.route = Some(planned.route.clone());
            trace.model = Some(req.model.clone());
            let client = self.routes().openrouter_client(&planned.route)?;
            let key = self.routes().api_key(route, self.secrets())?;
            req.params = match route.model_config(&planned.model) {
                Some(m) => m.params.clone(),
                None => Default::default(),
            };
            if req.params.thinking.is_none() {
                req.params.thinking = route.thinking;
            }
            req.provider = provider_for(route, &planned.model, &provider);
            let result = open_pass_with_retries(
                &client,
                &key,
                &req,
                self.retry_policy(),
                collect_text,
                &mut trace.attempts,
                &mut trace.upstream_wait,
            )
            .await;
            match result {
                Ok(reply) => return Ok(reply),
                Err(e) if i < last && e.advances_fallback() => {
                    tracing::info!(model = %req.model, code = e.code(), api = protocol.as_str(), "facade: falling back to the next model");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Internal("empty model chain".into()))
    }

    /// `GET /openai/v1/models`: every model the routes name, as `ROUTE/MODEL` selectors,
    /// default route first.
    pub fn facade_models(&self) -> Vec<FacadeModel> {
        let routes = self.routes().file();
        let mut ids: Vec<&str> = routes.route_ids();
        ids.sort_by_key(|id| *id != routes.default_route);
        let mut out = Vec::new();
        for id in ids {
            let Some(route) = routes.route(id) else {
                continue;
            };
            for model in route.listed_models() {
                out.push(self.facade_model_entry(id, model));
            }
        }
        let active = self.active_target();
        let selector = format!("{}/{}", active.route, active.model);
        if !out.iter().any(|m| m.id == selector) {
            out.insert(0, self.facade_model_entry(&active.route, &active.model));
        }
        out
    }

    /// `GET /openai/v1/models/{id}`: the model a selector resolves to; a model the
    /// route's loaded catalog does not list is not found (no catalog = any model).
    pub fn facade_model(&self, selector: &str) -> Result<FacadeModel, EngineError> {
        let target = self.facade_target(selector)?;
        let route = self.routes().route(&target.route)?;
        let wire = wire_model(route, &target.model);
        if self.catalog_lacks(&target.route, &wire) {
            return Err(EngineError::NotFound {
                what: "model",
                id: format!("{selector} (the catalog of route {} does not list {wire}; see GET /v1/models?route={})", target.route, target.route),
            });
        }
        Ok(self.facade_model_entry(&target.route, &target.model))
    }

    /// The route and model a facade `model` selector names.
    pub fn facade_target(&self, selector: &str) -> Result<ferry_config::Target, EngineError> {
        resolve_target(
            self.routes().file(),
            &SelectorInputs {
                model: Some(selector),
                ..SelectorInputs::default()
            },
        )
        .map_err(|e| EngineError::NotFound {
            what: "model",
            id: format!("{selector} ({e})"),
        })
    }

    /// Whether the route's cached catalog exists and does not list `wire_model`
    /// (`openrouter/auto` and other routers are always served).
    fn catalog_lacks(&self, route: &str, wire_model: &str) -> bool {
        wire_model != "openrouter/auto"
            && self
                .inner
                .catalogs
                .get(route)
                .is_some_and(|c| !c.models().is_empty() && c.model(wire_model).is_none())
    }

    fn facade_model_entry(&self, route: &str, model: &str) -> FacadeModel {
        FacadeModel {
            id: format!("{route}/{model}"),
            object: "model",
            created: self.loaded_at(),
            owned_by: route.to_string(),
        }
    }
}
