//! One run's turn (spec §7): the model call with retries and fallbacks and, when the
//! route's capabilities and the model allow it, the tool loop — the model is offered the
//! media tools and `emit_output`; ferry validates each call's arguments, runs the tools
//! (parallel calls concurrently), stores results as assets, answers with a compact JSON
//! tool message and calls the model again, at most `max_tool_steps` times. Bad
//! arguments and failed tools are tool errors the model sees, not run failures.
//!
//! The final output is the model's last text, or what `emit_output` composed; assets a
//! tool produced are in it only when `emit_output` names them (or sets
//! `include_artifacts_inline`). A spoken reply, when asked for, is synthesised from the
//! final text and attached as an audio part.
//!
//! [`TurnRunner`] is built once with the route table, the routes' tool offers, the
//! catalogs, [`Upstreams`], the store, the assets, the metrics, the [`Gate`] (admission
//! of each step, the caller's key), [`Attachments`] (history replay) and [`MediaTools`];
//! it never reaches into the engine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_assets::AssetStore;
use ferry_store::Storage;

use ferry_config::{wire_model, ModelParams, Route, SpeakReplies};
use ferry_metrics::Api;
use ferry_openrouter::{
    chat_with_retries, Attempt, ChatOutcome, ChatRequest, Deadline, StreamEvent, ToolCall, ToolDefs,
};
use ferry_types::{
    AssetCreated, MediaToolResult, OutputEmitted, ProblemCode, RunEvent, TextDelta, ToolCompleted,
    ToolError, ToolFailure, ToolOutput, ToolProgress, ToolStarted, UsageObject, VideoJobView,
};
use futures::future::join_all;
use serde_json::{json, Value};

use crate::access::{Gate, Spent};
use crate::attachments::{Attachments, Expansion, ModelCaps};
use crate::catalogs::Catalogs;
use crate::cut_call::InFlight;
use crate::input::{provider_for, RunPlan};
use crate::live::LiveRun;
use crate::media_tools::MediaTools;
use crate::routes::RouteTable;
use crate::tools::{
    compose, named_asset_ids, parse_call, AssetRef, Composed, GenerateAudioArgs, OutputPart,
    ToolArgs, ToolName,
};
use crate::tools::{require_tool, RouteTools, ToolCtx};
use crate::totals::{add_cost, add_usage};
use crate::upstreams::Upstreams;
use crate::EngineError;

/// The tool-call id of the spoken reply's `generate_audio` events.
const SPEAK_CALL_ID: &str = "speak_reply";

/// What the session contributes to a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionSettings {
    /// The session's own system prompt.
    pub prompt: Option<String>,
    /// The session's `speak_replies` setting.
    pub speak: Option<SpeakReplies>,
    /// The session had no other run and no history when the run was created, so its
    /// history is empty.
    pub fresh: bool,
}

impl SessionSettings {
    /// The settings of the session as the run's creation found it (an unreadable
    /// `speak_replies` counts as unset: the route's setting applies).
    pub fn of(found: ferry_store::SessionAtCreation) -> SessionSettings {
        SessionSettings {
            prompt: found.system_prompt,
            speak: found.speak_replies.as_deref().and_then(|v| v.parse().ok()),
            fresh: found.fresh,
        }
    }
}

/// A finished turn, ready to record.
#[derive(Debug, Clone)]
pub(crate) struct Turn {
    /// `{text, reasoning, parts?, source, speech?, speech_error?}`.
    pub output: Value,
    /// Usage summed over the turn's model calls.
    pub usage: Option<Arc<UsageObject>>,
    /// Model calls plus media tools, in credits.
    pub cost: Option<f64>,
    /// The model that served the last call.
    pub model: String,
    /// The route of that model.
    pub route: String,
    /// Model calls the turn made (more than one when it used tools).
    pub model_calls: u32,
    pub cache_status: Option<String>,
    pub generation_id: Option<String>,
    /// Why the last model call stopped.
    pub finish_reason: Option<String>,
    /// Assistant and tool messages of the turn, in order (the user message is not here).
    pub messages: Vec<Value>,
}

/// The conversation before this turn, rebuilt per model.
struct Context<'a> {
    system_prompt_session: Option<&'a str>,
    history: Vec<Value>,
    expansion: Expansion,
}

fn tool_message(call_id: &str, content: &Value) -> Value {
    json!({"role": "tool", "tool_call_id": call_id, "content": content.to_string()})
}

fn tool_error(e: &EngineError) -> ToolError {
    e.tool_error(e.client_message())
}

fn bad_call(message: &str) -> ToolError {
    ToolError {
        code: ProblemCode::InvalidToolArguments,
        message: message.to_owned(),
    }
}

/// A tool result as the JSON of the model's `tool` message.
fn result_json(result: &impl serde::Serialize) -> Value {
    // Tool results are plain data: they always serialise.
    serde_json::to_value(result).unwrap_or(Value::Null)
}

/// The compact result a model sees for a media tool.
fn tool_result(out: &ToolOutput, prompt: Option<&str>) -> MediaToolResult {
    MediaToolResult {
        ok: true,
        tool: out.tool.clone(),
        model: out.model.clone(),
        assets: out.assets.clone(),
        note: (!out.assets.is_empty()).then(|| "Not shown to the user yet: name these asset ids in emit_output parts (or set include_artifacts_inline: true) to include them in your answer.".to_owned()),
        prompt: prompt.map(str::to_owned),
        text: out.text.clone(),
        duration: out.video.as_ref().map(|job| job.request["duration"].clone()),
    }
}

fn prompt_of(args: &ToolArgs) -> Option<&str> {
    match args {
        ToolArgs::GenerateImage(a) => Some(&a.prompt),
        ToolArgs::EditImage(a) => Some(&a.prompt),
        ToolArgs::GenerateVideo(a) => Some(&a.prompt),
        _ => None,
    }
}

/// The raw arguments as JSON for events (the text when it is not JSON).
fn args_json(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

/// `tool.started` for a model's tool call.
fn tool_started(call: &ToolCall) -> RunEvent {
    RunEvent::ToolStarted(ToolStarted {
        call_id: call.id.clone(),
        name: call.name.clone(),
        args: args_json(&call.arguments),
    })
}

/// `asset.created` for an asset a tool stored.
fn asset_created(asset: &AssetRef, tool: &str, call_id: &str) -> RunEvent {
    RunEvent::AssetCreated(AssetCreated {
        asset_id: asset.asset_id.clone(),
        media_type: asset.media_type.clone(),
        size: asset.size,
        tool: tool.to_owned(),
        call_id: call_id.to_owned(),
    })
}

/// The turn service: one run's model calls and tool loop.
pub(crate) struct TurnRunner {
    routes: Arc<RouteTable>,
    tools: RouteTools,
    catalogs: Arc<Catalogs>,
    upstreams: Arc<Upstreams>,
    store: Arc<dyn Storage>,
    assets: AssetStore,
    metrics: Arc<ferry_metrics::Metrics>,
    gate: Arc<Gate>,
    attachments: Arc<Attachments>,
    media: Arc<MediaTools>,
}

impl TurnRunner {
    /// The service over its dependencies.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        routes: Arc<RouteTable>,
        tools: RouteTools,
        catalogs: Arc<Catalogs>,
        upstreams: Arc<Upstreams>,
        store: Arc<dyn Storage>,
        assets: AssetStore,
        metrics: Arc<ferry_metrics::Metrics>,
        gate: Arc<Gate>,
        attachments: Arc<Attachments>,
        media: Arc<MediaTools>,
    ) -> TurnRunner {
        TurnRunner {
            routes,
            tools,
            catalogs,
            upstreams,
            store,
            assets,
            metrics,
            gate,
            attachments,
            media,
        }
    }

    /// The tool definitions offered to `wire` on `route`: none when every media capability
    /// is off, or when the catalog says the model takes no tools.
    fn tools_for(&self, route: &Route, wire: &str) -> Option<Arc<ToolDefs>> {
        let tools = self.tools.of(&route.id)?;
        let takes_tools = self.catalogs.get(&route.id).and_then(|c| {
            c.model(wire)
                .map(|m| m.supported_parameters.iter().any(|p| p == "tools"))
        });
        if takes_tools == Some(false) {
            return None;
        }
        Some(tools)
    }

    /// Runs the turn of `plan` on top of the session's history.
    pub(crate) async fn run_turn(
        &self,
        hub: &Arc<LiveRun>,
        plan: &RunPlan,
        session: &SessionSettings,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Turn, EngineError> {
        let history: Vec<Value> = if session.fresh {
            Vec::new()
        } else {
            self.store
                .history(&hub.session_id)
                .await?
                .into_iter()
                .map(|m| m.body)
                .collect()
        };
        let primary = self.routes.route(&plan.chain[0].route)?;
        let past: Vec<&Value> = history.iter().collect();
        let expansion = self
            .attachments
            .expand_assets(primary, &past, &plan.user_message)
            .await?;
        let ctx = Context {
            system_prompt_session: session.prompt.as_deref(),
            history,
            expansion,
        };
        let max_steps = primary.max_tool_steps;
        let mut messages: Vec<Value> = Vec::new();
        let mut produced: Vec<AssetRef> = Vec::new();
        let mut usage = None;
        let mut cost = None;
        let mut current = 0usize;
        for step in 0..max_steps {
            let admission = self
                .gate
                .admit_step(
                    &plan.chain[current..],
                    plan.params.max_tokens,
                    &[
                        &ctx.history,
                        std::slice::from_ref(&plan.user_message),
                        &messages,
                    ],
                )
                .await?;
            // The admission waits on the hub while the call runs: a cancel drops this
            // future, and the run's end settles the call cut short (`cut_call`).
            hub.begin_call(InFlight::new(admission));
            let called = self
                .call_models(hub, plan, &ctx, &messages, current, attempts)
                .await;
            if hub.has_event_subscribers() {
                // A client streaming the run writes the output the call just emitted
                // before the call's settle and the run's end hand their rows to the
                // store's writer thread, which, woken on the same core, would run its
                // commit first (docs/benchmarks.md, eighteenth session). The call stays
                // on the hub meanwhile: a cancel now settles it as one cut short.
                tokio::task::yield_now().await;
            }
            let call = hub.end_call();
            let (mut outcome, served_index, route_id) = called?;
            if let Some(call) = call {
                call.into_admission()
                    .settle(Spent::of_outcome(&outcome, &hub.run_id));
            }
            current = served_index;
            add_usage(&mut usage, outcome.usage.take());
            add_cost(&mut cost, outcome.cost);
            hub.note_spent(usage.clone(), cost);
            messages.push(std::mem::take(&mut outcome.message));
            let model = outcome
                .model
                .clone()
                .unwrap_or_else(|| plan.chain[current].model.clone());
            let finished = |output: Value,
                            usage: Option<Arc<UsageObject>>,
                            cost: Option<f64>,
                            messages: Vec<Value>| Turn {
                output,
                usage,
                cost,
                model: model.clone(),
                route: route_id.clone(),
                model_calls: step + 1,
                cache_status: outcome.cache_status.clone(),
                generation_id: outcome.generation_id.clone(),
                finish_reason: outcome.finish_reason.clone(),
                messages,
            };
            let route = self.routes.route(&route_id)?;
            if outcome.tool_calls.is_empty() {
                let mut output = json!({"text": outcome.content, "reasoning": outcome.reasoning, "source": "model"});
                self.speak_reply(hub, route, plan, session, &mut output, &mut cost)
                    .await;
                return Ok(finished(output, usage, cost, messages));
            }
            let (replies, emitted) = self
                .run_tool_calls(hub, route, &outcome.tool_calls, &mut produced, &mut cost)
                .await;
            messages.extend(replies);
            if let Some(composed) = emitted {
                let mut output = json!({
                    "text": composed.text,
                    "reasoning": outcome.reasoning,
                    "parts": composed.parts,
                    "source": "emit_output",
                });
                self.speak_reply(hub, route, plan, session, &mut output, &mut cost)
                    .await;
                return Ok(finished(output, usage, cost, messages));
            }
        }
        Err(EngineError::ToolStepsExceeded {
            steps: max_steps,
            route: primary.id.clone(),
        })
    }

    /// One model call for this step: the chain from `start` (the model that served the
    /// previous step) on, with retries and fallbacks. Returns the outcome, the index of
    /// the model that served and its route.
    async fn call_models(
        &self,
        hub: &Arc<LiveRun>,
        plan: &RunPlan,
        ctx: &Context<'_>,
        turn: &[Value],
        start: usize,
        attempts: &mut Vec<Attempt>,
    ) -> Result<(ChatOutcome, usize, String), EngineError> {
        let total = plan.chain.len();
        let first = self.routes.route(&plan.chain[start.min(total - 1)].route)?;
        let deadline = Deadline::after(Duration::from_millis(first.timeout_ms));
        let output_started = AtomicBool::new(false);
        for (i, planned) in plan.chain.iter().enumerate().skip(start) {
            let route = self.routes.route(&planned.route)?;
            let up = self.gate.caller_upstream(route)?;
            let system_prompt = ctx.system_prompt_session.or(route.system_prompt.as_deref());
            let wire = wire_model(route, &planned.model);
            let catalog = self.catalogs.get(&planned.route);
            let caps = ModelCaps::of(route, catalog.as_deref(), &wire);
            let mut messages = Vec::with_capacity(ctx.history.len() + turn.len() + 2);
            if let Some(p) = system_prompt {
                messages.push(json!({"role": "system", "content": p}));
            }
            messages.extend(ctx.history.iter().map(|m| ctx.expansion.apply(m, &caps)));
            messages.push(ctx.expansion.apply(&plan.user_message, &caps));
            messages.extend(turn.iter().cloned());

            let model_params = route
                .model_config(&planned.model)
                .map(|m| m.params.clone())
                .unwrap_or_default();
            let params: ModelParams = model_params.overlay(&plan.params);
            let mut thinking = plan.thinking.or(params.thinking).or(route.thinking);
            // A model the catalog says takes no `reasoning` parameter gets none (with
            // `provider.require_parameters` it would otherwise find no endpoint at all).
            if thinking.is_some()
                && catalog.as_deref().and_then(|c| c.supports_reasoning(&wire)) == Some(false)
            {
                tracing::debug!(model = %wire, "catalog: no reasoning support; not sending reasoning");
                thinking = None;
            }
            let tools = self.tools_for(route, &wire);
            let req = ChatRequest {
                model: wire,
                messages: messages.into(),
                stream: true,
                tool_choice: tools.as_ref().map(|_| json!("auto")),
                tools,
                params,
                thinking,
                provider: provider_for(route, &planned.model, &plan.provider_routing),
                extra: serde_json::Map::new(),
            };
            let before = attempts.len();
            let mut first_output: Option<Instant> = None;
            hub.update_call(|c| c.target(&planned.route, &planned.model));
            let mut on_event = |ev: StreamEvent| {
                if !ev.is_output() {
                    hub.update_call(|c| c.observe(&ev));
                    return;
                }
                output_started.store(true, Ordering::Relaxed);
                first_output.get_or_insert_with(Instant::now);
                match ev {
                    StreamEvent::Text(text) => {
                        hub.emit(RunEvent::OutputDelta(TextDelta { text }));
                    }
                    StreamEvent::Reasoning(text) => {
                        hub.emit(RunEvent::ReasoningDelta(TextDelta { text }));
                    }
                    StreamEvent::ToolCallDelta { .. }
                    | StreamEvent::Generation(_)
                    | StreamEvent::Usage(_) => {}
                }
            };
            let called = Instant::now();
            let recorded = attempts.len();
            let result = deadline
                .run(
                    &output_started,
                    chat_with_retries(
                        &*up.provider,
                        &up.key,
                        &req,
                        None,
                        self.upstreams.retry(),
                        &mut on_event,
                        attempts,
                    ),
                )
                .await;
            let Some(result) = result else {
                // The attempt in flight was cut by the deadline: record it too.
                let e = deadline.expired(&req.model);
                let earlier: u64 = attempts[recorded..].iter().map(|a| a.latency_ms).sum();
                let total_ms = u64::try_from(called.elapsed().as_millis()).unwrap_or(u64::MAX);
                attempts.push(Attempt {
                    model: req.model.clone(),
                    status: None,
                    error_code: Some(e.code().to_owned()),
                    latency_ms: total_ms.saturating_sub(earlier),
                    generation_id: None,
                });
                crate::upstream_log::failed_attempts(
                    Api::Sessions,
                    &planned.route,
                    Some(&hub.run_id),
                    attempts,
                    before,
                );
                return Err(e.into());
            };
            crate::upstream_log::failed_attempts(
                Api::Sessions,
                &planned.route,
                Some(&hub.run_id),
                attempts,
                before,
            );
            self.metrics.upstream_latency(
                Api::Sessions,
                &planned.route,
                &req.model,
                called.elapsed(),
            );
            if let Some(first) = first_output {
                self.metrics.ttft(
                    Api::Sessions,
                    &planned.route,
                    &req.model,
                    first.duration_since(called),
                );
            }
            match result {
                Ok(outcome) => return Ok((outcome, i, planned.route.clone())),
                Err(e) => {
                    let next = i + 1 < total && e.advances_fallback() && !e.output_started;
                    if next {
                        tracing::info!(run = %hub.run_id, model = %req.model, code = e.code(), "falling back to the next model");
                        continue;
                    }
                    return Err(e.into());
                }
            }
        }
        Err(EngineError::Internal("empty model chain".into()))
    }

    /// Runs one step's tool calls: the media tools concurrently, then `emit_output`.
    /// Returns the tool messages in call order and what `emit_output` composed, if it
    /// succeeded.
    async fn run_tool_calls(
        &self,
        hub: &Arc<LiveRun>,
        route: &Route,
        calls: &[ToolCall],
        produced: &mut Vec<AssetRef>,
        cost: &mut Option<f64>,
    ) -> (Vec<Value>, Option<Composed>) {
        let parsed: Vec<Result<(ToolName, ToolArgs), String>> = calls
            .iter()
            .map(|c| parse_call(&c.name, &c.arguments))
            .collect();
        let mut results: Vec<Option<Value>> = vec![None; calls.len()];
        let media = calls
            .iter()
            .zip(&parsed)
            .enumerate()
            .filter(|(_, (_, p))| !matches!(p, Ok((ToolName::EmitOutput, _))))
            .map(|(i, (call, p))| async move {
                hub.emit(tool_started(call));
                let outcome = match p {
                    Err(message) => Err(bad_call(message)),
                    Ok((tool, args)) => self.run_one_tool(hub, route, call, *tool, args).await,
                };
                (i, outcome)
            });
        for (i, outcome) in join_all(media).await {
            let call = &calls[i];
            let content = match outcome {
                Ok((out, prompt)) => {
                    for a in &out.assets {
                        hub.emit(asset_created(a, &out.tool, &call.id));
                    }
                    let ids = out.assets.iter().map(|a| a.asset_id.clone()).collect();
                    hub.emit(RunEvent::ToolCompleted(ToolCompleted::succeeded(
                        &call.id, &call.name, ids,
                    )));
                    add_cost(cost, out.cost);
                    produced.extend(out.assets.iter().cloned());
                    result_json(&tool_result(&out, prompt.as_deref()))
                }
                Err(error) => {
                    let content = result_json(&ToolFailure::new(error.clone()));
                    hub.emit(RunEvent::ToolCompleted(ToolCompleted::failed(
                        &call.id, &call.name, error,
                    )));
                    content
                }
            };
            results[i] = Some(content);
        }
        let mut composed: Option<Composed> = None;
        for (i, (call, p)) in calls.iter().zip(&parsed).enumerate() {
            let Ok((ToolName::EmitOutput, ToolArgs::EmitOutput(args))) = p else {
                continue;
            };
            hub.emit(tool_started(call));
            let outcome = if composed.is_some() {
                Err(ToolError {
                    code: ProblemCode::OutputAlreadyEmitted,
                    message:
                        "emit_output was already called in this step; only the first call counts"
                            .to_owned(),
                })
            } else {
                let mut known = Vec::new();
                for id in named_asset_ids(args) {
                    if !produced.iter().any(|a| a.asset_id == id) {
                        if let Ok(a) = crate::generated::asset_ref(&self.assets, id).await {
                            known.push(a);
                        }
                    }
                }
                match compose(args, produced, &known) {
                    Ok(c) => {
                        let parts = c.parts.len();
                        composed = Some(c);
                        Ok(OutputEmitted { ok: true, parts })
                    }
                    Err(message) => Err(bad_call(&message)),
                }
            };
            let (completed, content) = match outcome {
                Ok(emitted) => {
                    let ids = composed
                        .iter()
                        .flat_map(|c| &c.parts)
                        .filter_map(|p| match p {
                            OutputPart::Asset { asset_id, .. } => Some(asset_id.clone()),
                            OutputPart::Text { .. } => None,
                        })
                        .collect();
                    (
                        ToolCompleted::succeeded(&call.id, &call.name, ids),
                        result_json(&emitted),
                    )
                }
                Err(error) => (
                    ToolCompleted::failed(&call.id, &call.name, error.clone()),
                    result_json(&ToolFailure::new(error)),
                ),
            };
            hub.emit(RunEvent::ToolCompleted(completed));
            results[i] = Some(content);
        }
        let messages = calls
            .iter()
            .zip(results)
            .map(|(call, content)| tool_message(&call.id, &content.unwrap_or(Value::Null)))
            .collect();
        (messages, composed)
    }

    /// One media tool of a tool call, with `tool.progress` events while a video runs.
    async fn run_one_tool(
        &self,
        hub: &Arc<LiveRun>,
        route: &Route,
        call: &ToolCall,
        tool: ToolName,
        args: &ToolArgs,
    ) -> Result<(ToolOutput, Option<String>), ToolError> {
        require_tool(route, tool).map_err(|e| tool_error(&e))?;
        let ctx = ToolCtx {
            route,
            model: None,
            timeout_ms: None,
            run_id: Some(&hub.run_id),
        };
        let mut last_status = String::new();
        let mut progress = |view: &VideoJobView| {
            let changed = view.status != last_status;
            last_status.clone_from(&view.status);
            hub.emit(RunEvent::ToolProgress(ToolProgress {
                call_id: call.id.clone(),
                name: call.name.clone(),
                status: view.status.clone(),
                elapsed_ms: view.elapsed_ms,
                job_id: view.id.clone(),
                changed,
            }));
        };
        let out = self
            .media
            .execute_tool(&ctx, args, &mut progress)
            .await
            .map_err(|e| tool_error(&e))?;
        Ok((out, prompt_of(args).map(str::to_owned)))
    }

    /// Synthesises the final text as speech when the input, the session or the route
    /// asks for spoken replies, and attaches it to `output` (`speech`, an audio part).
    /// A failure is recorded as `speech_error`; the answer itself stands.
    async fn speak_reply(
        &self,
        hub: &Arc<LiveRun>,
        route: &Route,
        plan: &RunPlan,
        session: &SessionSettings,
        output: &mut Value,
        cost: &mut Option<f64>,
    ) {
        let wanted = plan.speak.unwrap_or_else(|| {
            session.speak.unwrap_or(route.speak_replies) == SpeakReplies::Always
        });
        let text = output["text"].as_str().unwrap_or("").trim().to_owned();
        if !wanted || text.is_empty() {
            return;
        }
        hub.emit(RunEvent::ToolStarted(ToolStarted {
            call_id: SPEAK_CALL_ID.to_owned(),
            name: ToolName::GenerateAudio.as_str().to_owned(),
            args: json!({"text_chars": text.chars().count(), "reason": "speak_replies"}),
        }));
        let ctx = ToolCtx {
            route,
            model: None,
            timeout_ms: None,
            run_id: Some(&hub.run_id),
        };
        let args = ToolArgs::GenerateAudio(GenerateAudioArgs {
            text: text.clone(),
            voice: None,
            format: None,
            speed: None,
        });
        match self.media.execute_tool(&ctx, &args, &mut |_| {}).await {
            Ok(out) => {
                add_cost(cost, out.cost);
                let Some(audio) = out.assets.first() else {
                    return;
                };
                hub.emit(asset_created(audio, &out.tool, SPEAK_CALL_ID));
                hub.emit(RunEvent::ToolCompleted(ToolCompleted::succeeded(
                    SPEAK_CALL_ID,
                    &out.tool,
                    vec![audio.asset_id.clone()],
                )));
                let part = OutputPart::Asset {
                    asset_id: audio.asset_id.clone(),
                    media_type: audio.media_type.clone(),
                    size: audio.size,
                };
                let parts = output
                    .get("parts")
                    .and_then(|p| serde_json::from_value::<Vec<OutputPart>>(p.clone()).ok())
                    .unwrap_or_else(|| vec![OutputPart::Text { text }]);
                let mut parts = parts;
                parts.push(part);
                output["parts"] = json!(parts);
                output["speech"] = json!(audio);
            }
            Err(e) => {
                let error = e.tool_error(e.to_string());
                output["speech_error"] = result_json(&error);
                hub.emit(RunEvent::ToolCompleted(ToolCompleted::failed(
                    SPEAK_CALL_ID,
                    ToolName::GenerateAudio.as_str(),
                    error,
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_summed_across_steps() {
        let usage = |v: Value| Arc::new(UsageObject::from_value(&v).unwrap());
        let mut acc = None;
        let first = usage(
            json!({"prompt_tokens": 10, "completion_tokens": 2, "cost": 0.5, "completion_tokens_details": {"reasoning_tokens": 1}}),
        );
        add_usage(&mut acc, Some(first.clone()));
        assert!(
            Arc::ptr_eq(acc.as_ref().unwrap(), &first),
            "one call's usage is shared"
        );
        add_usage(
            &mut acc,
            Some(usage(
                json!({"prompt_tokens": 30, "completion_tokens": 5, "cost": 0.25, "completion_tokens_details": {"reasoning_tokens": 0}, "is_byok": false}),
            )),
        );
        add_usage(&mut acc, None);
        // The first usage, still held elsewhere (the run's live hub), is not changed.
        assert_eq!(first.prompt_tokens(), Some(10));
        let acc = acc.unwrap();
        assert_eq!(
            acc.to_value(),
            json!({"prompt_tokens": 40, "completion_tokens": 7, "cost": 0.75, "completion_tokens_details": {"reasoning_tokens": 1}, "is_byok": false})
        );
        assert_eq!(
            (acc.prompt_tokens(), acc.completion_tokens()),
            (Some(40), Some(7))
        );
        assert_eq!(acc.cost(), Some(0.75));
    }

    #[test]
    fn tool_results_are_compact_and_say_how_to_show_assets() {
        let out = ToolOutput {
            tool: "generate_image".into(),
            route: "openrouter".into(),
            model: "m/img".into(),
            assets: vec![AssetRef {
                asset_id: "ast_1".into(),
                media_type: "image/png".into(),
                size: 42,
            }],
            ..ToolOutput::default()
        };
        let v = result_json(&tool_result(&out, Some("a fox")));
        assert_eq!(v["ok"], true);
        assert_eq!(v["assets"][0]["asset_id"], "ast_1");
        assert_eq!(v["prompt"], "a fox");
        assert!(v["note"].as_str().unwrap().contains("emit_output"));
        let msg = tool_message("call_1", &v);
        assert_eq!(msg["role"], "tool");
        assert_eq!(msg["tool_call_id"], "call_1");
        assert!(msg["content"].as_str().unwrap().starts_with('{'));
    }
}
