//! The engine's admission helpers: a facade request of any protocol (one line per
//! handler: [`Engine::admit_facade`]) and one model call of a session run's tool loop.
//! Media calls are admitted by [`super::Gate::admit_media`] with a worst case priced by
//! the media code.

use ferry_config::wire_model;
use ferry_openrouter::ChatOutcome;
use serde_json::Value;

use super::{current_caller, Admission, CallSpec, Caller, Scope, Spent};
use crate::engine::Engine;
use crate::input::PlannedModel;
use crate::EngineError;

impl Engine {
    /// Admits one facade call for `caller`: needs the `facade` scope; resolves `selector`
    /// to its model chain as the facade will (a bad selector is the same 400) and
    /// reserves the chain's worst case for `body_bytes` of input and `max_tokens`.
    pub async fn admit_facade(
        &self,
        caller: &Caller,
        selector: &str,
        max_tokens: Option<u64>,
        body_bytes: usize,
    ) -> Result<Admission, EngineError> {
        caller.require(Scope::Facade)?;
        let chain = self.facade_chain_of(selector)?;
        let spec = self.chain_spec("facade", &chain, body_bytes, max_tokens)?;
        self.admit(caller, spec).await
    }

    fn chain_spec(
        &self,
        kind: &'static str,
        chain: &[PlannedModel],
        input_bytes: usize,
        max_tokens: Option<u64>,
    ) -> Result<CallSpec, EngineError> {
        let mut models = Vec::with_capacity(chain.len());
        for p in chain {
            let route = self.routes().route(&p.route)?;
            models.push((p.route.clone(), wire_model(route, &p.model)));
        }
        Ok(CallSpec {
            kind,
            route: chain.first().map(|p| p.route.clone()).unwrap_or_default(),
            models,
            input_bytes,
            max_tokens,
            priced: None,
        })
    }

    /// Admits one model call of a session run for the run's caller (the chain from the
    /// model that served the previous step). The input estimate (the serialized
    /// conversation) is only computed for a key with a budget or token limit.
    pub(crate) async fn admit_step(
        &self,
        chain: &[PlannedModel],
        max_tokens: Option<u64>,
        conversation: &[&[Value]],
    ) -> Result<Admission, EngineError> {
        let caller = current_caller();
        let bytes = match &caller {
            Caller::Key(k) if k.settings.budget_usd.is_some() || k.settings.tpm.is_some() => {
                conversation
                    .iter()
                    .flat_map(|part| part.iter())
                    .map(|m| serde_json::to_vec(m).map_or(0, |v| v.len()))
                    .sum()
            }
            _ => 0,
        };
        let spec = self.chain_spec("session", chain, bytes, max_tokens)?;
        self.admit(&caller, spec).await
    }
}

impl Spent {
    /// What a media call cost: upstream's `cost` (none: the reservation is charged).
    pub(crate) fn of_media(model: &str, cost: Option<f64>, generation_id: Option<String>) -> Spent {
        Spent {
            model: Some(model.to_owned()),
            cost,
            generation_id,
            ..Spent::default()
        }
    }

    /// What a pass-through (facade) call cost, from its usage.
    pub fn of_usage(
        model: Option<String>,
        usage: Option<&ferry_openrouter::Usage>,
        generation_id: Option<String>,
    ) -> Spent {
        Spent {
            model,
            prompt_tokens: usage.map(|u| u.prompt_tokens),
            completion_tokens: usage.map(|u| u.completion_tokens),
            cost: usage.and_then(|u| u.cost),
            generation_id,
            run_id: None,
        }
    }

    /// What a chat call of the driver cost.
    pub(crate) fn of_outcome(outcome: &ChatOutcome, run_id: &str) -> Spent {
        let n = |k: &str| {
            outcome
                .usage
                .as_ref()
                .and_then(|u| u.get(k))
                .and_then(Value::as_u64)
        };
        Spent {
            model: outcome.model.clone(),
            prompt_tokens: n("prompt_tokens"),
            completion_tokens: n("completion_tokens"),
            cost: outcome.cost,
            generation_id: outcome.generation_id.clone(),
            run_id: Some(run_id.to_owned()),
        }
    }
}
