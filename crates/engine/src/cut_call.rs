//! A model call cut short. A run cancelled (or interrupted by shutdown) while a model
//! call streams drops that call, which aborts the request — but upstream has generated,
//! and billed, what it generated. The tool loop keeps the call's admission and what the
//! stream has shown of its billing (generation id, usage) on the run's hub as an
//! [`InFlight`]; the run's end takes it: the usage the stream showed goes on the run at
//! once, and when the stream showed none, the generation is looked up on a verified
//! OpenRouter route (`GET /generation?id=`, in the background, as for billed-cost
//! reconciliation) and its tokens and cost are added to the run, the token and cost
//! metrics, and the spend ledger (settling the call's admission, so a key's budget is
//! charged). A cut call whose generation stays unknown is settled with nothing known:
//! its ledger row carries the reservation as an estimate.

use std::sync::Arc;

use ferry_openrouter::StreamEvent;
use ferry_types::UsageObject;
use serde_json::{json, Value};

use crate::access::{Admission, Spent};
use crate::engine::Inner;
use crate::totals::{add_cost, add_usage};

/// The model call a run has in flight, and what its stream has shown so far.
#[derive(Debug)]
pub(crate) struct InFlight {
    admission: Admission,
    route: String,
    model: String,
    generation_id: Option<String>,
    usage: Option<Arc<UsageObject>>,
}

impl InFlight {
    /// A call admitted with `admission`, before any model of its chain is called.
    pub(crate) fn new(admission: Admission) -> InFlight {
        InFlight {
            admission,
            route: String::new(),
            model: String::new(),
            generation_id: None,
            usage: None,
        }
    }

    /// The chain moved on to `model` on `route`: what an earlier model showed is not
    /// this call's.
    pub(crate) fn target(&mut self, route: &str, model: &str) {
        route.clone_into(&mut self.route);
        model.clone_into(&mut self.model);
        self.generation_id = None;
        self.usage = None;
    }

    /// Notes a billing fact of the stream (other events are ignored).
    pub(crate) fn observe(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Generation(id) => self.generation_id = Some(id.clone()),
            StreamEvent::Usage(usage) => self.usage = Some(usage.clone()),
            _ => {}
        }
    }

    /// The call ended normally: its admission, to settle with the outcome.
    pub(crate) fn into_admission(self) -> Admission {
        self.admission
    }

    /// `usage` and `cost` of the run with what the stream of this call showed added.
    pub(crate) fn add_known(&self, usage: &mut Option<Arc<UsageObject>>, cost: &mut Option<f64>) {
        add_usage(usage, self.usage.clone());
        add_cost(cost, self.usage.as_deref().and_then(UsageObject::cost));
    }

    /// What the call is known to have cost, for its ledger row.
    fn spent(&self, run_id: &str) -> Spent {
        let usage = self.usage.as_deref();
        Spent {
            model: None,
            prompt_tokens: usage.and_then(UsageObject::prompt_tokens),
            completion_tokens: usage.and_then(UsageObject::completion_tokens),
            cost: usage.and_then(UsageObject::cost),
            generation_id: self.generation_id.clone(),
            run_id: Some(run_id.to_owned()),
        }
    }
}

/// The usage object of a generation looked up after the fact, shaped like a stream's.
fn usage_of(prompt: Option<u64>, completion: Option<u64>, cost: Option<f64>) -> UsageObject {
    let (p, c) = (prompt.unwrap_or(0), completion.unwrap_or(0));
    let mut usage = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    if let Some(cost) = cost {
        usage["cost"] = json!(cost);
    }
    UsageObject::from_value(&usage).expect("an object")
}

/// Accounts for `call`, cut short when run `run_id` ended, after the run row (with
/// `usage` and `cost`, which already include what the stream showed) was written.
pub(crate) fn account(
    inner: &Arc<Inner>,
    run_id: &str,
    call: InFlight,
    usage: Option<Arc<UsageObject>>,
    cost: Option<f64>,
) {
    let verified = inner
        .routes
        .route(&call.route)
        .is_ok_and(|r| r.is_verified_openrouter());
    let generation_id = match (&call.generation_id, &call.usage) {
        (Some(id), None) if verified => id.clone(),
        (None, None) => {
            // Nothing shows that upstream generated anything: nothing to charge.
            call.admission.release();
            return;
        }
        _ => {
            let spent = call.spent(run_id);
            call.admission.settle(spent);
            return;
        }
    };
    // On the engine's tracker: a shutdown that interrupted the run waits for the lookup
    // (within its bounded wait).
    let (task_inner, run_id) = (Arc::clone(inner), run_id.to_owned());
    inner.tasks.spawn(async move {
        let inner = task_inner;
        let Some(found) = inner.billing.look_up(&call.route, &generation_id).await else {
            tracing::warn!(run = %run_id, generation_id = %generation_id, "the cost of the model call cut short is unknown: its generation was not found");
            let spent = call.spent(&run_id);
            call.admission.settle(spent);
            return;
        };
        let (prompt, completion) = crate::billing::tokens(&found);
        let billed = crate::billing::total_cost(&found);
        // Metrics and ledger first: whoever sees the run's new cost sees them too.
        inner.metrics.usage(
            &call.route,
            &call.model,
            prompt.unwrap_or(0),
            completion.unwrap_or(0),
            billed,
        );
        call.admission.settle(Spent {
            model: found
                .get("model")
                .and_then(Value::as_str)
                .map(str::to_owned),
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost: billed,
            generation_id: Some(generation_id),
            run_id: Some(run_id.clone()),
        });
        let (mut usage, mut cost) = (usage, cost);
        add_usage(&mut usage, Some(Arc::new(usage_of(prompt, completion, billed))));
        add_cost(&mut cost, billed);
        let usage = usage.map(Arc::unwrap_or_clone);
        if let Err(e) = inner.store.set_run_spend(&run_id, usage, cost).await {
            tracing::warn!(run = %run_id, error = %e, "cannot record the cost of the model call cut short");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looked_up_usage_is_shaped_like_a_streams() {
        assert_eq!(
            usage_of(Some(40), None, None).to_value(),
            json!({"prompt_tokens": 40, "completion_tokens": 0, "total_tokens": 40})
        );
        assert_eq!(
            usage_of(Some(40), Some(9), Some(0.0042)).to_value(),
            json!({"prompt_tokens": 40, "completion_tokens": 9, "total_tokens": 49, "cost": 0.0042})
        );
        let mut usage = UsageObject::from_value(
            &json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12, "cost": 0.001}),
        )
        .map(Arc::new);
        add_usage(
            &mut usage,
            Some(Arc::new(usage_of(Some(40), Some(9), Some(0.004)))),
        );
        let u = usage.unwrap().to_value();
        assert_eq!(
            (u["prompt_tokens"].as_u64(), u["total_tokens"].as_u64()),
            (Some(50), Some(61))
        );
        assert!((u["cost"].as_f64().unwrap() - 0.005).abs() < 1e-12);
    }
}
