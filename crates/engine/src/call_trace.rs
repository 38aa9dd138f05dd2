//! OpenTelemetry spans of OpenAI-facade calls (session runs are traced where they end, in
//! `run.rs`): one `chat {model}` span per call with the GenAI conventions, when
//! `serve --otlp-endpoint` turned exporting on.

use std::time::{Instant, SystemTime};

use ferry_openrouter::Usage;

use crate::engine::Engine;

/// What a finished facade call amounted to.
#[derive(Debug, Default)]
pub struct FacadeCallTrace<'a> {
    /// The API surface's metrics label (`openai`, `responses`, `anthropic`, …).
    pub api: &'a str,
    /// The route.
    pub route: &'a str,
    /// The model asked for.
    pub model: &'a str,
    /// The model that answered.
    pub model_served: Option<&'a str>,
    /// Tokens and cost, when upstream reported them.
    pub usage: Option<Usage>,
    /// Why the reply ended (`finish_reason`, `stop_reason`, the Responses status).
    pub finish_reason: Option<&'a str>,
    /// The problem code of a failure.
    pub error_code: Option<&'a str>,
    /// The recorded run, if any.
    pub run_id: Option<&'a str>,
}

impl Engine {
    /// Records one facade call that started at `started` and ends now.
    pub fn trace_facade_call(&self, call: FacadeCallTrace<'_>, started: Instant) {
        let Some(traces) = self.traces() else {
            return;
        };
        let now = SystemTime::now();
        traces.record(&ferry_telemetry::ModelCall {
            api: call.api,
            route: call.route,
            request_model: call.model,
            response_model: call.model_served,
            input_tokens: call.usage.map(|u| u.prompt_tokens),
            output_tokens: call.usage.map(|u| u.completion_tokens),
            cost: call.usage.and_then(|u| u.cost),
            finish_reasons: call.finish_reason.map(str::to_owned).into_iter().collect(),
            error_code: call.error_code,
            run_id: call.run_id,
            session_id: None,
            started: now.checked_sub(started.elapsed()),
            ended: Some(now),
        });
    }
}
