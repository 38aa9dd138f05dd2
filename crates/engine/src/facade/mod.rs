//! The OpenAI-compatible facade over the routes (`/openai/v1/…`): a request's `model` is a
//! ferry selector, the route's shaping, secrets, retries and fallbacks apply, and the
//! upstream reply is passed through as bytes (see `ferry_openrouter::open_raw_with_retries`).
//! Facade calls are not session runs; they are recorded as runs only when
//! [`Engine::set_facade_recording`] is on.

mod protocol;
mod record;
mod request;
mod tokens;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_config::{
    resolve_target, wire_model, ModelParams, ProviderRouting, Route, SelectorInputs,
};
use ferry_openrouter::{
    Attempt, ChatRequest, Deadline, Messages, PassRequest, RawReply, RetryPolicy, ToolDefs,
    UpstreamError,
};
use ferry_types::FacadeModel;

use crate::engine::Engine;
use crate::input::{plan_chain, provider_for};
use crate::upstreams::ProviderHandle;
use crate::EngineError;

pub use protocol::PassCall;
pub use record::FacadeRunEnd;
pub use request::{FacadeRequest, ReasoningChoice};
pub use tokens::estimate_input_tokens;

/// A facade call's model chain as its admission resolved it, for the call itself: the
/// selector is resolved (and the key's lists applied to its fallbacks) once per request.
#[derive(Debug)]
pub struct FacadeChain {
    /// The selector it was resolved from; a call naming another one resolves its own.
    selector: String,
    models: Vec<crate::input::PlannedModel>,
}

impl FacadeChain {
    /// The models, first choice first.
    pub(crate) fn models(&self) -> &[crate::input::PlannedModel] {
        &self.models
    }
}

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
    /// The API surface of the call (for the failed-attempt log lines); `None` = `openai`.
    pub api: Option<ferry_metrics::Api>,
}

/// A facade request the fallback chain can point at each model in turn: chat, or a
/// request of another protocol.
trait ChainRequest {
    /// Points the request at `model` (a model of the chain) on `route`: wire model, the
    /// route's and model's params, provider routing.
    fn retarget(&mut self, route: &Route, model: &str);
    /// The wire model it is pointed at.
    fn wire_model(&self) -> &str;
    /// Opens the reply with the same-model retry policy.
    async fn open(
        &self,
        provider: &ProviderHandle,
        key: &str,
        policy: &RetryPolicy,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, UpstreamError>;
}

/// A chat request and the client's own params, reasoning and provider routing, which
/// every model of the chain merges with its route's.
struct ChatChain {
    chat: ChatRequest,
    params: ModelParams,
    reasoning: ReasoningChoice,
    provider: ProviderRouting,
}

impl ChainRequest for ChatChain {
    fn retarget(&mut self, route: &Route, model: &str) {
        let chat = &mut self.chat;
        chat.model = wire_model(route, model);
        chat.params = match route.model_config(model) {
            Some(m) => m.params.overlay(&self.params),
            None => self.params.clone(),
        };
        chat.thinking = match self.reasoning {
            ReasoningChoice::Level(level) => Some(level),
            ReasoningChoice::RouteDefault => chat.params.thinking.or(route.thinking),
            ReasoningChoice::AsGiven => {
                chat.params.thinking = None;
                None
            }
        };
        chat.provider = provider_for(route, model, &self.provider);
    }

    fn wire_model(&self) -> &str {
        &self.chat.model
    }

    async fn open(
        &self,
        provider: &ProviderHandle,
        key: &str,
        policy: &RetryPolicy,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, UpstreamError> {
        provider
            .open_raw(
                key,
                &self.chat,
                policy,
                collect_text,
                &mut trace.attempts,
                &mut trace.upstream_wait,
            )
            .await
    }
}

/// A Responses, Messages or embeddings request and the client's provider routing.
struct PassChain {
    req: PassRequest,
    provider: ProviderRouting,
}

impl ChainRequest for PassChain {
    fn retarget(&mut self, route: &Route, model: &str) {
        let req = &mut self.req;
        req.model = wire_model(route, model);
        req.params = route
            .model_config(model)
            .map(|m| m.params.clone())
            .unwrap_or_default();
        if req.params.thinking.is_none() {
            req.params.thinking = route.thinking;
        }
        req.provider = provider_for(route, model, &self.provider);
    }

    fn wire_model(&self) -> &str {
        &self.req.model
    }

    async fn open(
        &self,
        provider: &ProviderHandle,
        key: &str,
        policy: &RetryPolicy,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, UpstreamError> {
        provider
            .open_pass(
                key,
                &self.req,
                policy,
                collect_text,
                &mut trace.attempts,
                &mut trace.upstream_wait,
            )
            .await
    }
}

impl Engine {
    /// Serves one chat facade request: see [`Engine::facade_forward`] for the chain.
    pub async fn facade_open(
        &self,
        req: FacadeRequest,
        admitted: Option<FacadeChain>,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, EngineError> {
        let FacadeRequest {
            selector,
            stream,
            messages,
            tools,
            tool_choice,
            params,
            reasoning,
            provider,
            extra,
        } = req;
        let chat = ChatRequest {
            model: String::new(),
            messages: Messages::Text(messages),
            stream,
            tools: tools.map(|text| Arc::new(ToolDefs::from_text(text))),
            tool_choice,
            params: Default::default(),
            thinking: None,
            provider: Default::default(),
            extra,
        };
        let chain = ChatChain {
            chat,
            params,
            reasoning,
            provider,
        };
        self.facade_chain(&selector, admitted, chain, collect_text, trace)
            .await
    }

    /// Serves one Responses, Messages or embeddings request: resolves the selector (a bare
    /// model is on the default route; `auto` is `openrouter/auto`), then tries the model
    /// and the route's fallbacks in order, each with the route's shaping, key, params,
    /// provider routing and retry policy, until one gives a validated reply, which is
    /// passed through as bytes. Fallbacks only follow failures no client has seen any
    /// byte of. `admitted` is the chain the call's admission resolved
    /// ([`Engine::admit_facade`]), used instead of resolving the selector again.
    pub async fn facade_forward(
        &self,
        call: PassCall,
        admitted: Option<FacadeChain>,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, EngineError> {
        let PassCall {
            protocol,
            selector,
            stream,
            body,
            headers,
            provider,
        } = call;
        let req = PassRequest {
            protocol,
            model: String::new(),
            stream,
            body,
            headers,
            params: Default::default(),
            provider: Default::default(),
        };
        let req = PassChain { req, provider };
        self.facade_chain(&selector, admitted, req, collect_text, trace)
            .await
    }

    /// The fallback chain of `selector`, tried model by model with `req`.
    async fn facade_chain(
        &self,
        selector: &str,
        admitted: Option<FacadeChain>,
        mut req: impl ChainRequest,
        collect_text: bool,
        trace: &mut FacadeTrace,
    ) -> Result<RawReply, EngineError> {
        let chain = match admitted {
            Some(chain) if chain.selector == selector => chain.models,
            _ => self.facade_chain_of(selector)?,
        };
        let last = chain.len() - 1;
        let (deadline, no_output) = self.facade_deadline(&chain)?;
        for (i, planned) in chain.iter().enumerate() {
            let route = self.routes().route(&planned.route)?;
            req.retarget(route, &planned.model);
            trace.route = Some(planned.route.clone());
            trace.model = Some(req.wire_model().to_owned());
            let up = self.inner.gate.caller_upstream(route)?;
            let before = trace.attempts.len();
            let within = DeadlineRun::start(trace);
            let result = deadline
                .run(
                    &no_output,
                    req.open(
                        &up.provider,
                        &up.key,
                        self.retry_policy(),
                        collect_text,
                        trace,
                    ),
                )
                .await;
            let model = req.wire_model().to_owned();
            let result = within.finish(result, &deadline, &model, trace);
            crate::upstream_log::failed_attempts(
                trace.api.unwrap_or(ferry_metrics::Api::OpenAi),
                &planned.route,
                None,
                &trace.attempts,
                before,
            );
            match result? {
                Ok(reply) => return Ok(reply),
                Err(e) if i < last && e.advances_fallback() => {
                    tracing::info!(model = %req.wire_model(), code = e.code(), "facade: falling back to the next model");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Internal("empty model chain".into()))
    }

    /// The fallback chain a facade `model` selector names, as [`FacadeChain`] resolves it
    /// once for admission and the call.
    pub(crate) fn admitted_chain(&self, selector: &str) -> Result<FacadeChain, EngineError> {
        Ok(FacadeChain {
            selector: selector.to_owned(),
            models: self.facade_chain_of(selector)?,
        })
    }

    /// The fallback chain a facade `model` selector names (a bare model is on the default
    /// route; `auto` is `openrouter/auto`); a bad selector is a 400 `invalid_selector`.
    pub(crate) fn facade_chain_of(
        &self,
        selector: &str,
    ) -> Result<Vec<crate::input::PlannedModel>, EngineError> {
        let routes = self.routes().file();
        let target = resolve_target(
            routes,
            &SelectorInputs {
                model: Some(selector),
                ..SelectorInputs::default()
            },
        )
        .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        let chain = plan_chain(routes, &target, None)?;
        // The route's fallbacks a key may not use are left out (its target is checked
        // at admission).
        Ok(
            crate::access::current_caller().usable_chain(chain, false, |m| {
                self.routes()
                    .route(&m.route)
                    .map_or_else(|_| m.model.clone(), |r| wire_model(r, &m.model))
            })?,
        )
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
            object: "model".into(),
            created: self.loaded_at(),
            owned_by: route.to_string(),
        }
    }
}

impl Engine {
    /// The request deadline of a facade call: the `timeout_ms` of the first model's route.
    /// The reply is returned only once its output started, so the deadline holds for every
    /// attempt (the flag stays false).
    fn facade_deadline(
        &self,
        chain: &[crate::input::PlannedModel],
    ) -> Result<(Deadline, AtomicBool), EngineError> {
        let first = chain
            .first()
            .ok_or_else(|| EngineError::Internal("empty model chain".into()))?;
        let route = self.routes().route(&first.route)?;
        Ok((
            Deadline::after(Duration::from_millis(route.timeout_ms)),
            AtomicBool::new(false),
        ))
    }
}

/// The attempts on one model under the request deadline: when the deadline cut them, the
/// attempt in flight is recorded too (with the wait not yet counted) and the call fails.
struct DeadlineRun {
    started: Instant,
    wait_before: Duration,
}

impl DeadlineRun {
    fn start(trace: &FacadeTrace) -> DeadlineRun {
        DeadlineRun {
            started: Instant::now(),
            wait_before: trace.upstream_wait,
        }
    }

    fn finish<T>(
        self,
        result: Option<Result<T, UpstreamError>>,
        deadline: &Deadline,
        model: &str,
        trace: &mut FacadeTrace,
    ) -> Result<Result<T, UpstreamError>, EngineError> {
        if let Some(result) = result {
            return Ok(result);
        }
        let e = deadline.expired(model);
        let accounted = trace.upstream_wait.saturating_sub(self.wait_before);
        let waited = self.started.elapsed().saturating_sub(accounted);
        trace.upstream_wait += waited;
        trace.attempts.push(Attempt {
            model: model.to_owned(),
            status: None,
            error_code: Some(e.code().to_owned()),
            latency_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            generation_id: None,
        });
        Err(e.into())
    }
}
