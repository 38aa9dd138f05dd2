//! ferry-metrics: the daemon's Prometheus metrics (`GET /metrics`, text exposition format
//! 0.0.4 / OpenMetrics-compatible) on `prometheus-client`, with no global state: the engine
//! owns one [`Metrics`] and hands it out. Recording is a read-locked hash lookup plus an
//! atomic add, so it is cheap enough for the facade's hot path. The standard `process_*`
//! metrics are read from `/proc` at scrape time ([`process`]).

pub mod process;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Which surface of the API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Api {
    /// The OpenAI-compatible facade's chat completions (`/openai/v1/chat/completions`).
    OpenAi,
    /// The facade's Responses API (`/openai/v1/responses`).
    Responses,
    /// The facade's Anthropic Messages API (`/anthropic/v1/messages`).
    Anthropic,
    /// The facade's embeddings (`/openai/v1/embeddings`).
    Embeddings,
    /// The facade's images (`/openai/v1/images/…`).
    Images,
    /// The facade's audio (`/openai/v1/audio/…`).
    Audio,
    /// Session inputs (`/v1/sessions/{id}/input`, detached runs). Keep it last
    /// (`API_COUNT`).
    Sessions,
}

impl Api {
    /// The `api` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Responses => "responses",
            Api::Anthropic => "anthropic",
            Api::Embeddings => "embeddings",
            Api::Images => "images",
            Api::Audio => "audio",
            Api::Sessions => "sessions",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: &'static str,
    route: String,
    model: String,
    status: String,
    /// The problem code of a failure (`upstream_unauthorized`, `rate_limited`, …); empty
    /// on success.
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    api: &'static str,
    route: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    api: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    route: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    route: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SpendLabels {
    route: String,
    kind: String,
}

/// Buckets of ferry's own added latency, in seconds: 25 µs to 100 ms.
const ADDED_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1,
];
/// Buckets of upstream latency, in seconds: 5 ms to 2 minutes.
const UPSTREAM_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Every metric ferry exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    upstream_latency: Family<UpstreamLabels, Histogram>,
    ttft: Family<UpstreamLabels, Histogram>,
    added_latency: Family<ApiLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    spend: Family<SpendLabels, Counter<f64, AtomicU64>>,
    active_runs: Gauge,
    facade_in_flight: Gauge,
    /// The handles of each API's (route, model), so the hot path neither builds label
    /// strings nor hashes label sets once a pair has been seen.
    handles: [RwLock<HandlesByRoute>; API_COUNT],
}

/// Route → model → handles. Hashed with foldhash: each request looks them up several
/// times, and SipHash (the default) cost ~200 instructions a lookup. A model name can come
/// from a request, but foldhash's per-process random seed keeps a caller from choosing
/// names that collide, and entries are only ever added once per (route, model).
type HandlesByRoute = foldhash::HashMap<String, foldhash::HashMap<String, Arc<Handles>>>;

/// How many [`Api`] surfaces there are (`Sessions` is the last variant).
const API_COUNT: usize = 7;
const _: () = assert!(Api::Sessions as usize + 1 == API_COUNT);

/// One (api, route, model)'s metrics, each taken from its family the first time it is used
/// (so nothing shows in the exposition before it counts).
#[derive(Default)]
struct Handles {
    ok: OnceLock<Counter>,
    upstream: OnceLock<Histogram>,
    ttft: OnceLock<Histogram>,
    prompt: OnceLock<Counter>,
    completion: OnceLock<Counter>,
    cost: OnceLock<Counter<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every family registered (and nothing counted yet).
    pub fn new() -> Metrics {
        let mut root = Registry::default();
        root.register_collector(Box::new(process::ProcessCollector));
        let registry = root.sub_registry_with_prefix("ferry");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Model requests by API surface, route, model and outcome (HTTP status for the OpenAI facade, run status for sessions) and, for failures, the problem code",
            requests.clone(),
        );
        let upstream_histogram =
            || Family::<UpstreamLabels, Histogram>::new_with_constructor(upstream_buckets);
        let upstream_latency = upstream_histogram();
        registry.register(
            "upstream_latency_seconds",
            "Time waiting on the upstream per request, by API surface, route and model: until the reply was complete (non-streaming) or its first output event (streaming), retries included",
            upstream_latency.clone(),
        );
        let ttft = upstream_histogram();
        registry.register(
            "upstream_ttft_seconds",
            "Time to first token of streamed replies, by API surface, route and model: from the request until the first output event arrived, retries included",
            ttft.clone(),
        );
        let added_latency = Family::<ApiLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(ADDED_BUCKETS.iter().copied())
        });
        registry.register(
            "added_latency_seconds",
            "ferry's own time per facade request, upstream wait excluded (until the response head and first bytes were ready)",
            added_latency.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens reported by upstream usage, by route, model and kind (prompt or completion)",
            tokens.clone(),
        );
        let cost = Family::<ModelLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "cost_usd",
            "Cost reported by upstream usage (USD credits), by route and model",
            cost.clone(),
        );
        let spend = Family::<SpendLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "spend_usd",
            "Spend charged to the ledger (upstream usage.cost, or the reservation when none was reported), by route and kind of call; per key and model see GET /v1/spend",
            spend.clone(),
        );
        let active_runs = Gauge::default();
        registry.register(
            "active_runs",
            "Session runs queued or running",
            active_runs.clone(),
        );
        let facade_in_flight = Gauge::default();
        registry.register(
            "facade_in_flight",
            "OpenAI facade requests in flight (streams count until they end)",
            facade_in_flight.clone(),
        );
        Metrics {
            registry: root,
            requests,
            upstream_latency,
            ttft,
            added_latency,
            tokens,
            cost,
            spend,
            active_runs,
            facade_in_flight,
            handles: Default::default(),
        }
    }

    /// The cached handles of (`api`, `route`, `model`).
    fn handles(&self, api: Api, route: &str, model: &str) -> Arc<Handles> {
        let map = &self.handles[api as usize];
        if let Some(h) = map.read().get(route).and_then(|m| m.get(model)) {
            return Arc::clone(h);
        }
        let mut w = map.write();
        Arc::clone(
            w.entry(route.to_owned())
                .or_default()
                .entry(model.to_owned())
                .or_default(),
        )
    }

    /// Counts one finished request (a success, or a failure without a problem code).
    pub fn request(&self, api: Api, route: &str, model: &str, status: &str) {
        if status != "200" {
            return self.request_with_code(api, route, model, status, "");
        }
        self.handles(api, route, model)
            .ok
            .get_or_init(|| self.request_counter(api, route, model, status, ""))
            .inc();
    }

    /// Counts one failed request with its problem code (`upstream_unauthorized`, …), so a
    /// 401 and a 500 upstream stay apart even when both answer 502.
    pub fn request_failed(&self, api: Api, route: &str, model: &str, status: &str, code: &str) {
        self.request_with_code(api, route, model, status, code);
    }

    fn request_with_code(&self, api: Api, route: &str, model: &str, status: &str, code: &str) {
        self.request_counter(api, route, model, status, code).inc();
    }

    fn request_counter(
        &self,
        api: Api,
        route: &str,
        model: &str,
        status: &str,
        code: &str,
    ) -> Counter {
        self.requests
            .get_or_create(&RequestLabels {
                api: api.as_str(),
                route: route.to_owned(),
                model: model.to_owned(),
                status: status.to_owned(),
                code: code.to_owned(),
            })
            .clone()
    }

    /// Records the upstream wait of one request.
    pub fn upstream_latency(&self, api: Api, route: &str, model: &str, wait: Duration) {
        self.handles(api, route, model)
            .upstream
            .get_or_init(|| {
                self.upstream_latency
                    .get_or_create(&upstream_labels(api, route, model))
                    .clone()
            })
            .observe(wait.as_secs_f64());
    }

    /// Records the time to first token of one streamed request.
    pub fn ttft(&self, api: Api, route: &str, model: &str, first: Duration) {
        self.handles(api, route, model)
            .ttft
            .get_or_init(|| {
                self.ttft
                    .get_or_create(&upstream_labels(api, route, model))
                    .clone()
            })
            .observe(first.as_secs_f64());
    }

    /// Records ferry's own time for one request.
    pub fn added_latency(&self, api: Api, own: Duration) {
        self.added_latency
            .get_or_create(&ApiLabels { api: api.as_str() })
            .observe(own.as_secs_f64());
    }

    /// Adds a reply's usage.
    pub fn usage(&self, route: &str, model: &str, prompt: u64, completion: u64, cost: Option<f64>) {
        // Tokens and cost have no `api` label: one handle set serves every API.
        let h = self.handles(Api::OpenAi, route, model);
        let tokens = |kind: &'static str| {
            self.tokens
                .get_or_create(&TokenLabels {
                    route: route.to_owned(),
                    model: model.to_owned(),
                    kind,
                })
                .clone()
        };
        if prompt > 0 {
            h.prompt.get_or_init(|| tokens("prompt")).inc_by(prompt);
        }
        if completion > 0 {
            h.completion
                .get_or_init(|| tokens("completion"))
                .inc_by(completion);
        }
        if let Some(c) = cost.filter(|c| c.is_finite() && *c > 0.0) {
            h.cost
                .get_or_init(|| {
                    self.cost
                        .get_or_create(&ModelLabels {
                            route: route.to_owned(),
                            model: model.to_owned(),
                        })
                        .clone()
                })
                .inc_by(c);
        }
    }

    /// Adds one ledger charge. Labels are bounded: routes come from routes.toml and
    /// `kind` from a fixed set (keys and models are in the ledger, not here).
    pub fn spend(&self, route: &str, kind: &str, usd: f64) {
        if usd.is_finite() && usd >= 0.0 {
            self.spend
                .get_or_create(&SpendLabels {
                    route: route.to_owned(),
                    kind: kind.to_owned(),
                })
                .inc_by(usd);
        }
    }

    /// Marks one facade request in flight until the guard is dropped.
    pub fn facade_request(&self) -> InFlight {
        self.facade_in_flight.inc();
        InFlight(self.facade_in_flight.clone())
    }

    /// The exposition text; `active_runs` is sampled by the caller at scrape time.
    pub fn render(&self, active_runs: usize) -> String {
        self.active_runs
            .set(i64::try_from(active_runs).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

fn upstream_labels(api: Api, route: &str, model: &str) -> UpstreamLabels {
    UpstreamLabels {
        api: api.as_str(),
        route: route.to_owned(),
        model: model.to_owned(),
    }
}

fn upstream_buckets() -> Histogram {
    Histogram::new(UPSTREAM_BUCKETS.iter().copied())
}

/// Keeps `ferry_facade_in_flight` raised while alive.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_exposition() {
        let m = Metrics::new();
        m.request(Api::OpenAi, "openrouter", "openai/gpt-5.4-mini", "200");
        m.request(Api::OpenAi, "openrouter", "openai/gpt-5.4-mini", "200");
        m.usage("openrouter", "openai/gpt-5.4-mini", 12, 7, Some(0.5));
        m.added_latency(Api::OpenAi, Duration::from_micros(40));
        m.upstream_latency(
            Api::OpenAi,
            "openrouter",
            "openai/gpt-5.4-mini",
            Duration::from_millis(30),
        );
        m.ttft(
            Api::Sessions,
            "openrouter",
            "openai/gpt-5.4-mini",
            Duration::from_millis(20),
        );
        m.request_failed(
            Api::Sessions,
            "openrouter",
            "openai/gpt-5.4-mini",
            "failed",
            "upstream_unauthorized",
        );
        let guard = m.facade_request();
        let text = m.render(3);
        assert!(text.contains(r#"ferry_requests_total{api="openai",route="openrouter",model="openai/gpt-5.4-mini",status="200",code=""} 2"#), "{text}");
        assert!(text.contains(r#"ferry_requests_total{api="sessions",route="openrouter",model="openai/gpt-5.4-mini",status="failed",code="upstream_unauthorized"} 1"#), "{text}");
        assert!(text.contains(r#"ferry_tokens_total{route="openrouter",model="openai/gpt-5.4-mini",kind="prompt"} 12"#), "{text}");
        assert!(
            text.contains(
                r#"ferry_cost_usd_total{route="openrouter",model="openai/gpt-5.4-mini"} 0.5"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"ferry_added_latency_seconds_bucket{le="0.00005",api="openai"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ferry_added_latency_seconds_bucket{le="0.000025",api="openai"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ferry_upstream_latency_seconds_count{api="openai",route="openrouter",model="openai/gpt-5.4-mini"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ferry_upstream_ttft_seconds_count{api="sessions",route="openrouter",model="openai/gpt-5.4-mini"} 1"#),
            "{text}"
        );
        #[cfg(target_os = "linux")]
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(name), "{name} missing: {text}");
        }
        assert!(text.contains("ferry_active_runs 3"), "{text}");
        assert!(text.contains("ferry_facade_in_flight 1"), "{text}");
        drop(guard);
        assert!(m.render(0).contains("ferry_facade_in_flight 0"));
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
