//! Upstream readiness: an engine-owned task (tracked, stopped on drain) asks each route's
//! upstream a cheap question every interval — `GET /key` with the route's key (a route
//! without a key is not ready anyway and is not probed) — and remembers since when an
//! upstream has been unreachable (connect failure, timeout, 5xx). `status` and `runtime get` then say
//! "degraded: OpenRouter unreachable since …" with the error. Start never waits for it.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use ferry_openrouter::{UpstreamError, UpstreamErrorKind};
use serde::Serialize;

use crate::engine::Engine;

/// Default time between two probes of a route.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// Longest wait for one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Since when a route's upstream has been unreachable, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    /// RFC 3339 time of the first failed probe of this outage.
    pub since: String,
    /// The last probe's error.
    pub error: String,
}

/// Outages by route (absent = reachable, or not probed yet).
#[derive(Debug, Default)]
pub(crate) struct Reachability(RwLock<HashMap<String, Unreachable>>);

impl Reachability {
    pub(crate) fn get(&self, route: &str) -> Option<Unreachable> {
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

impl Engine {
    /// Probes one route's upstream once and records the outcome.
    async fn probe_route(&self, id: &str) {
        let (Ok(route), Ok(client)) = (
            self.inner.routes.route(id),
            self.inner.routes.openrouter_client(id),
        ) else {
            return;
        };
        let Ok(key) = self.inner.routes.api_key(route, &self.inner.secrets) else {
            return;
        };
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, client.key_info(&key)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if is_unreachable(&e) => Err(e.message),
            Ok(Err(_)) => Ok(()),
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        };
        self.inner.reachability.record(id, outcome);
    }

    /// Starts the probe task (none when `interval` is zero). It is tracked by the engine's
    /// task tracker and stops when the engine drains.
    pub(crate) fn spawn_upstream_probe(&self, interval: Duration) {
        if interval.is_zero() {
            return;
        }
        let engine = self.clone();
        let stop = self.inner.background.clone();
        self.inner.tasks.spawn(async move {
            loop {
                let ids: Vec<String> = engine.inner.routes.file().routes.keys().cloned().collect();
                for id in ids {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        () = engine.probe_route(&id) => {}
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        });
    }

    /// The route's outage, if its upstream is unreachable now.
    pub fn unreachable(&self, route: &str) -> Option<Unreachable> {
        self.inner.reachability.get(route)
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
