//! Upstream readiness ([`UpstreamProbe`]): a task the probe owns (on the engine's tracker,
//! stopped on drain) asks each route's
//! upstream a cheap question every interval — `GET /key` with the route's key (a route
//! without a key is not ready anyway and is not probed) — and remembers since when an
//! upstream has been unreachable (connect failure, timeout, 5xx). `status` and `runtime get` then say
//! "degraded: OpenRouter unreachable since …" with the error. Start never waits for it.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_openrouter::{UpstreamError, UpstreamErrorKind};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::routes::RouteTable;
use crate::upstreams::Upstreams;

/// Default time between two probes of a route.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// Longest wait for one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub use ferry_types::Unreachable;

/// Outages by route (absent = reachable, or not probed yet).
#[derive(Debug, Default)]
pub(crate) struct Reachability(RwLock<HashMap<String, Unreachable>>);

impl Reachability {
    fn get(&self, route: &str) -> Option<Unreachable> {
        self.0.read().get(route).cloned()
    }

    fn record(&self, route: &str, outcome: Result<(), String>) {
        let mut map = self.0.write();
        match outcome {
            Ok(()) => {
                if map.remove(route).is_some() {
                    tracing::info!(route, "upstream reachable again");
                }
            }
            Err(error) => {
                let since = map
                    .get(route)
                    .map(|u| u.since.clone())
                    .unwrap_or_else(now_rfc3339);
                if !map.contains_key(route) {
                    tracing::warn!(route, %error, "upstream unreachable");
                }
                map.insert(route.to_string(), Unreachable { since, error });
            }
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::from(SystemTime::now())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether a probe failure means the upstream cannot be reached (as opposed to answering
/// with a complaint about the key or the request).
fn is_unreachable(e: &UpstreamError) -> bool {
    matches!(
        e.kind,
        UpstreamErrorKind::Connect | UpstreamErrorKind::Timeout | UpstreamErrorKind::Unavailable
    )
}

/// The probe service: the routes it asks and the outages it saw.
pub(crate) struct UpstreamProbe {
    routes: Arc<RouteTable>,
    upstreams: Arc<Upstreams>,
    outages: Reachability,
}

impl UpstreamProbe {
    /// A probe of every route in `routes`, nothing recorded yet.
    pub(crate) fn new(routes: Arc<RouteTable>, upstreams: Arc<Upstreams>) -> UpstreamProbe {
        UpstreamProbe {
            routes,
            upstreams,
            outages: Reachability::default(),
        }
    }

    /// The route's outage, if its upstream is unreachable now.
    pub(crate) fn unreachable(&self, route: &str) -> Option<Unreachable> {
        self.outages.get(route)
    }

    /// Probes one route's upstream once and records the outcome.
    async fn probe_route(&self, id: &str) {
        let Ok(route) = self.routes.route(id) else {
            return;
        };
        let Ok(up) = self.upstreams.upstream(route) else {
            return;
        };
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, up.provider.key_info(&up.key)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if is_unreachable(&e) => Err(e.message),
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        };
        self.outages.record(id, outcome);
    }

    /// Starts the probe task on `tasks` (none when `interval` is zero); it ends when
    /// `stop` is cancelled (the engine's drain).
    pub(crate) fn spawn(
        self: &Arc<Self>,
        interval: Duration,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) {
        if interval.is_zero() {
            return;
        }
        let probe = Arc::clone(self);
        tasks.spawn(async move {
            loop {
                let ids: Vec<String> = probe.routes.file().routes.keys().cloned().collect();
                for id in ids {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        () = probe.probe_route(&id) => {}
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_keeps_its_start_and_ends_on_success() {
        let r = Reachability::default();
        r.record("a", Err("connect refused".into()));
        let first = r.get("a").unwrap();
        r.record("a", Err("timed out".into()));
        let second = r.get("a").unwrap();
        assert_eq!(first.since, second.since);
        assert_eq!(second.error, "timed out");
        r.record("a", Ok(()));
        assert!(r.get("a").is_none());
    }
}
