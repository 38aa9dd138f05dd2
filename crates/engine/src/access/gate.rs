//! `Gate`: the admission of every paid call and the spend ledger. Built once with the
//! keys ([`Access`]), the catalogs (worst-case pricing), [`Upstreams`] (the caller's
//! provider and key), the store, the metrics and the [`CostReconciler`]; services that
//! make paid calls (speech-to-text, media tools, video jobs, the tool loop) hold it instead
//! of the engine. An [`Admission`] holds the gate to settle itself.

use std::sync::Arc;

use ferry_config::wire_model;
use ferry_metrics::Metrics;
use ferry_store::{LedgerEntry, Storage};
use serde_json::Value;
use time::OffsetDateTime;

use super::{
    current_caller, input_tokens, usd, usd_to_nanos, usd_to_nanos_ceil, worst_case, Access,
    AccessError, Admission, CallSpec, Caller, KeyState, ReserveError, Unpriced, RATE,
};
use crate::billing::CostReconciler;
use crate::catalogs::Catalogs;
use crate::input::PlannedModel;
use crate::routes::RouteTable;
use crate::upstreams::{Provisioned, Upstream, Upstreams};
use crate::EngineError;

/// Admission and spend of paid calls.
pub(crate) struct Gate {
    pub(super) access: Arc<Access>,
    routes: Arc<RouteTable>,
    catalogs: Arc<Catalogs>,
    upstreams: Arc<Upstreams>,
    store: Arc<dyn Storage>,
    metrics: Arc<Metrics>,
    billing: Arc<CostReconciler>,
}

impl Gate {
    /// A gate over `access` recording spend in `store` and `metrics`.
    pub(crate) fn new(
        access: Arc<Access>,
        routes: Arc<RouteTable>,
        catalogs: Arc<Catalogs>,
        upstreams: Arc<Upstreams>,
        store: Arc<dyn Storage>,
        metrics: Arc<Metrics>,
        billing: Arc<CostReconciler>,
    ) -> Gate {
        Gate {
            access,
            routes,
            catalogs,
            upstreams,
            store,
            metrics,
            billing,
        }
    }

    /// The provider and key for the current caller's call on `route`: the OpenRouter key
    /// provisioned for the caller's virtual key on that route, else the route's own key.
    pub(crate) fn caller_upstream(
        &self,
        route: &ferry_config::Route,
    ) -> Result<Upstream, EngineError> {
        let caller = current_caller();
        let provisioned = match &caller {
            Caller::Key(k) => k.settings.upstream.as_ref().map(|u| Provisioned {
                key_id: &k.id,
                route: &u.route,
                secret_ref: &u.secret_ref,
            }),
            _ => None,
        };
        self.upstreams.upstream_for(route, provisioned)
    }

    /// Admits one media call (`kind` `media` or `stt`) of the current caller to `model`
    /// on `route`: model globs, rate limits (`input_bytes` of prompt count as tokens) and,
    /// for a key with a budget, a reservation of `worst` (a call that cannot be priced is
    /// refused under a budget).
    pub(crate) async fn admit_media(
        self: &Arc<Self>,
        kind: &'static str,
        route: &str,
        model: &str,
        input_bytes: usize,
        worst: Result<f64, Unpriced>,
    ) -> Result<Admission, EngineError> {
        let spec = CallSpec {
            kind,
            route: route.to_owned(),
            models: vec![(route.to_owned(), model.to_owned())],
            input_bytes,
            max_tokens: None,
            priced: Some(worst),
        };
        self.admit(&current_caller(), spec).await
    }

    /// Admits one paid call for `caller`: scope (`facade` for the facade kinds, else
    /// `sessions`), route and model globs, rate limits, and a reservation of the call's
    /// worst case against the key's budget.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        caller: &Caller,
        spec: CallSpec,
    ) -> Result<Admission, EngineError> {
        let model = spec.models.first().map(|m| m.1.clone()).unwrap_or_default();
        let Caller::Key(k) = caller else {
            return Ok(self.admission(None, &spec, model, None));
        };
        let s = &k.settings;
        caller.check_target(&spec.route, &model)?;
        let input = input_tokens(spec.input_bytes);
        let tokens = input.saturating_add(spec.max_tokens.unwrap_or(0));
        let l = match self.access.check_rates(k, tokens).await? {
            Ok(state) => {
                if k.limits.any() {
                    // Outside `with_rate_report` (session runs) nobody asks.
                    let _ = RATE.try_with(|r| r.set(Some(state)));
                }
                None
            }
            Err(l) => Some(l),
        };
        if let Some(l) = l {
            let message = if l.too_large {
                format!("this request counts about {tokens} tokens (input estimate + max_tokens), more than key {}'s limit of {} tokens per minute allows at once; send less or lower max_tokens", k.id, l.limit)
            } else {
                format!(
                    "key {} is over its rate limit of {} {} per minute; retry in {} s",
                    k.id,
                    l.limit,
                    l.kind.as_str(),
                    l.retry_after.as_secs_f64().ceil().max(1.0)
                )
            };
            return Err(AccessError::RateLimited {
                message,
                limited: l,
            }
            .into());
        }
        let Some(budget_usd) = s.budget_usd else {
            return Ok(self.admission(Some(k.clone()), &spec, model, None));
        };
        let worst = match &spec.priced {
            Some(priced) => priced
                .clone()
                .map_err(|u| AccessError::Unpriced(u.explain(&model)))?,
            None => {
                let mut worst = 0.0f64;
                for (route, m) in &spec.models {
                    let catalog = self.catalogs.for_check(route).await;
                    let cost = catalog
                        .as_deref()
                        .and_then(|c| c.model(m))
                        .ok_or(Unpriced::NotInCatalog)
                        .and_then(|cm| worst_case(cm, input, spec.max_tokens))
                        .map_err(|u| AccessError::Unpriced(u.explain(m)))?;
                    worst = worst.max(cost);
                }
                worst
            }
        };
        let wanted = usd_to_nanos_ceil(worst);
        let budget = usd_to_nanos(budget_usd);
        let now = OffsetDateTime::now_utc();
        let reserved = self
            .access
            .book
            .reserve(&k.id, s.period, budget, wanted, now)
            .await;
        if let Err(ReserveError::Store(e)) = reserved {
            return Err(e.into());
        }
        if let Err(ReserveError::Over(over)) = reserved {
            let reset = s
                .period
                .next(s.period.start(now))
                .map(|t| format!("; it resets at {}", ferry_store::rfc3339(t)))
                .unwrap_or_default();
            return Err(AccessError::BudgetExceeded(format!(
                "key {} has a budget of {} per {:?}: spent {}, {} reserved by requests in flight, and this request may cost up to {}{reset}. Lower max_tokens, wait for requests in flight, or ask an admin to raise the budget",
                k.id,
                usd(over.budget),
                s.period,
                usd(over.spent),
                usd(over.reserved),
                usd(over.wanted),
            ))
            .into());
        }
        Ok(self.admission(Some(k.clone()), &spec, model, Some(wanted)))
    }

    fn admission(
        self: &Arc<Self>,
        key: Option<Arc<KeyState>>,
        spec: &CallSpec,
        model: String,
        reservation: Option<i64>,
    ) -> Admission {
        Admission {
            gate: Arc::clone(self),
            key,
            kind: spec.kind,
            route: spec.route.clone(),
            model,
            reservation,
            done: false,
        }
    }

    /// Charges a paid call to the key with id `key` (a background task's call: the key
    /// that started it), or to nobody.
    pub(crate) fn charge_key(&self, key: Option<String>, mut entry: LedgerEntry) {
        let cost = entry.cost.filter(|c| c.is_finite() && *c >= 0.0);
        entry.cost_nanos = cost.map_or(0, usd_to_nanos);
        entry.key_id = key;
        let state = entry
            .key_id
            .as_deref()
            .and_then(|id| self.access.find(id))
            .map(|(_, k)| k);
        if let Some(k) = state {
            if k.settings.budget_usd.is_some() {
                self.access.book.settle(
                    &k.id,
                    k.settings.period,
                    0,
                    entry.cost_nanos,
                    OffsetDateTime::now_utc(),
                );
            }
        }
        self.record_spend(entry);
    }

    /// Writes a ledger row; a row with a generation id is reconciled with what
    /// OpenRouter billed when `--reconcile-cost` is on.
    pub(super) fn record_spend(&self, entry: LedgerEntry) {
        self.metrics.spend(
            &entry.route,
            &entry.kind,
            ferry_store::nanos_to_usd(entry.cost_nanos),
        );
        if self.billing.enabled() {
            if let Some(g) = &entry.generation_id {
                self.billing
                    .reconcile_ledger(entry.route.clone(), g.clone());
            }
        }
        self.store.charge_nowait(entry);
    }

    /// The admission spec of a call to `chain` (`kind` `facade` or `session`).
    pub(crate) fn chain_spec(
        &self,
        kind: &'static str,
        chain: &[PlannedModel],
        input_bytes: usize,
        max_tokens: Option<u64>,
    ) -> Result<CallSpec, EngineError> {
        let mut models = Vec::with_capacity(chain.len());
        for p in chain {
            let route = self.routes.route(&p.route)?;
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
        self: &Arc<Self>,
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
