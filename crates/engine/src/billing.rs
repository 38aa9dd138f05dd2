//! Billed-cost reconciliation (`--reconcile-cost`): for every spend-ledger row with an
//! OpenRouter generation id on a verified OpenRouter route (facade calls of every protocol,
//! session model calls, image calls) and for a single-call run, ask `GET /generation?id=`
//! what was actually billed (streamed `usage.cost` can under-report) and record it on the
//! ledger row (`billed_cost`) or the run. Runs in the background, retries briefly while
//! OpenRouter answers 404 (the generation is not queryable at once), and never delays an
//! answer. A run and its ledger row share one lookup ([`CostReconciler`]); at most
//! [`MAX_PENDING`] reconciliations wait at once, beyond that rows stay unreconciled.
//! The same lookup prices a model call cut short by a cancel (`cut_call`).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use ferry_openrouter::UpstreamError;
use ferry_store::Storage;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::routes::RouteTable;
use crate::upstreams::Upstreams;

/// Waits before each lookup: the generation usually appears within a few seconds.
pub(crate) const LOOKUP_DELAYS: [Duration; 5] = [
    Duration::from_millis(300),
    Duration::from_millis(700),
    Duration::from_millis(1500),
    Duration::from_secs(3),
    Duration::from_secs(6),
];

/// Looks the generation up with `fetch` after each delay until it is found (then its
/// `data` object), a non-retryable error occurs, or the delays run out.
pub(crate) async fn find_generation<F, Fut>(mut fetch: F, delays: &[Duration]) -> Option<Value>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<Value>, UpstreamError>>,
{
    for delay in delays {
        tokio::time::sleep(*delay).await;
        match fetch().await {
            Ok(Some(mut doc)) => {
                return Some(match doc.get_mut("data") {
                    Some(data) => data.take(),
                    None => doc,
                })
            }
            Ok(None) => continue,
            Err(e) if e.is_retryable() => continue,
            Err(e) => {
                tracing::debug!(error = %e, "generation lookup failed");
                return None;
            }
        }
    }
    None
}

/// The billed `total_cost` of a generation.
pub(crate) fn total_cost(data: &Value) -> Option<f64> {
    data.get("total_cost").and_then(|c| {
        c.as_f64()
            .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
    })
}

/// The prompt and completion tokens of a generation (OpenRouter's normalised counts).
pub(crate) fn tokens(data: &Value) -> (Option<u64>, Option<u64>) {
    let n = |k: &str| data.get(k).and_then(Value::as_u64);
    (n("tokens_prompt"), n("tokens_completion"))
}

/// Reconciliations waiting or looking up at once, at most.
pub(crate) const MAX_PENDING: usize = 10_000;

/// The billed-cost service: generation lookups (shared by whoever asks for the same
/// generation while one runs) and the background reconciliations of runs and ledger rows,
/// tracked on the engine's tracker and given up on drain.
pub(crate) struct CostReconciler {
    /// `--reconcile-cost`.
    enabled: bool,
    routes: Arc<RouteTable>,
    upstreams: Arc<Upstreams>,
    store: Arc<dyn Storage>,
    tasks: TaskTracker,
    stop: CancellationToken,
    in_flight: Mutex<HashMap<String, Arc<OnceCell<Option<f64>>>>>,
    pending: AtomicUsize,
}

impl CostReconciler {
    /// A reconciler spawning on `tasks` and stopping its lookups when `stop` is cancelled.
    pub(crate) fn new(
        enabled: bool,
        routes: Arc<RouteTable>,
        upstreams: Arc<Upstreams>,
        store: Arc<dyn Storage>,
        tasks: TaskTracker,
        stop: CancellationToken,
    ) -> CostReconciler {
        CostReconciler {
            enabled,
            routes,
            upstreams,
            store,
            tasks,
            stop,
            in_flight: Mutex::default(),
            pending: AtomicUsize::new(0),
        }
    }

    /// Whether billed costs are reconciled (`--reconcile-cost`).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Looks `generation_id` up with `route`'s client and key; `None` when the route has
    /// no usable client or key, or the generation was not found in time.
    pub(crate) async fn look_up(&self, route: &str, generation_id: &str) -> Option<Value> {
        let up = self
            .upstreams
            .upstream(self.routes.route(route).ok()?)
            .ok()?;
        let fetch = || {
            let up = &up;
            async move { up.provider.generation(&up.key, generation_id).await }
        };
        find_generation(fetch, &LOOKUP_DELAYS).await
    }

    /// What OpenRouter billed for `generation_id` on `route`, looked up once however many
    /// ask while the lookup runs.
    async fn billed(&self, route: &str, generation_id: &str) -> Option<f64> {
        let cell = Arc::clone(
            self.in_flight
                .lock()
                .entry(generation_id.to_owned())
                .or_default(),
        );
        let cost = *cell
            .get_or_init(|| async {
                let found = self.look_up(route, generation_id).await;
                found.as_ref().and_then(total_cost)
            })
            .await;
        let mut map = self.in_flight.lock();
        if map
            .get(generation_id)
            .is_some_and(|c| Arc::ptr_eq(c, &cell))
        {
            map.remove(generation_id);
        }
        cost
    }

    /// Looks the billed cost of `generation_id` up in the background and hands it to
    /// `record`, when billed costs are reconciled on `route` and fewer than
    /// [`MAX_PENDING`] reconciliations are pending.
    fn start<F>(
        self: &Arc<Self>,
        route: String,
        generation_id: String,
        record: impl FnOnce(Arc<Self>, f64) -> F + Send + 'static,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        let verified = self
            .routes
            .route(&route)
            .is_ok_and(|r| r.is_verified_openrouter());
        if !self.enabled || !verified {
            return;
        }
        if self.pending.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!(%route, "too many billed-cost lookups pending; not reconciling");
            return;
        }
        let stop = self.stop.clone();
        let this = Arc::clone(self);
        let task = async move {
            match this.billed(&route, &generation_id).await {
                Some(cost) => record(this, cost).await,
                None => {
                    tracing::debug!(generation = %generation_id, "billed cost not available")
                }
            }
        };
        let this = Arc::clone(self);
        // Tracked, and given up on drain: a lookup never holds a shutdown up.
        self.tasks.spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                () = task => {}
            }
            this.pending.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Starts the background reconciliation of one run.
    pub(crate) fn reconcile_run(
        self: &Arc<Self>,
        route: String,
        run_id: String,
        generation_id: String,
    ) {
        self.start(route, generation_id, |this, cost| async move {
            if let Err(e) = this.store.set_billed_cost(&run_id, cost).await {
                tracing::warn!(run = %run_id, error = %e, "cannot record the billed cost");
            }
        });
    }

    /// Starts the background reconciliation of the ledger row of `generation_id`.
    pub(crate) fn reconcile_ledger(self: &Arc<Self>, route: String, generation_id: String) {
        let row = generation_id.clone();
        self.start(route, generation_id, |this, cost| async move {
            this.store.set_ledger_billed_nowait(row, cost)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_while_not_found_then_reads_total_cost() {
        let calls = AtomicUsize::new(0);
        let got = find_generation(
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    Ok(if n < 2 {
                        None
                    } else {
                        Some(json!({"data": {"id": "gen-1", "total_cost": 0.0123}}))
                    })
                }
            },
            &LOOKUP_DELAYS,
        )
        .await;
        let data = got.expect("found");
        assert_eq!(total_cost(&data), Some(0.0123));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_delays_and_on_hard_errors() {
        let calls = AtomicUsize::new(0);
        let got = find_generation(
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(None) }
            },
            &LOOKUP_DELAYS,
        )
        .await;
        assert_eq!(got, None);
        assert_eq!(calls.load(Ordering::SeqCst), LOOKUP_DELAYS.len());
        assert_eq!(total_cost(&json!({"total_cost": "0.5"})), Some(0.5));
        assert_eq!(
            tokens(&json!({"tokens_prompt": 40, "tokens_completion": 9})),
            (Some(40), Some(9))
        );
    }
}
