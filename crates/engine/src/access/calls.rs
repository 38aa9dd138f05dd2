//! The engine's admission helper for a facade request of any protocol (one line per
//! handler: [`Engine::admit_facade`]), and what paid calls spent ([`Spent`]). Model calls
//! of a session run's tool loop and media calls are admitted by the [`super::Gate`].

use ferry_openrouter::ChatOutcome;
use ferry_types::UsageObject;

use super::{Admission, Caller, Scope, Spent};
use crate::engine::Engine;
use crate::facade::FacadeChain;
use crate::EngineError;

impl Engine {
    /// Admits one facade call for `caller`: needs the `facade` scope; resolves `selector`
    /// to its model chain as the facade will (a bad selector is the same 400) and
    /// reserves the chain's worst case for `body_bytes` of input and `max_tokens`. The
    /// chain is returned for the call ([`Engine::facade_forward`]).
    pub async fn admit_facade(
        &self,
        caller: &Caller,
        selector: &str,
        max_tokens: Option<u64>,
        body_bytes: usize,
    ) -> Result<(Admission, FacadeChain), EngineError> {
        caller.require(Scope::Facade)?;
        let chain = self.admitted_chain(selector)?;
        let spec = self
            .inner
            .gate
            .chain_spec("facade", chain.models(), body_bytes, max_tokens)?;
        Ok((self.admit(caller, spec).await?, chain))
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
        let usage = outcome.usage.as_deref();
        Spent {
            model: outcome.model.clone(),
            prompt_tokens: usage.and_then(UsageObject::prompt_tokens),
            completion_tokens: usage.and_then(UsageObject::completion_tokens),
            cost: outcome.cost,
            generation_id: outcome.generation_id.clone(),
            run_id: Some(run_id.to_owned()),
        }
    }
}
