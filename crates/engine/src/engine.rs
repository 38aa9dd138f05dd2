//! The session engine: accepts inputs, queues them per session (one active run per
//! session), executes runs against the driver with retries and fallbacks, and records
//! everything durably. Also owns the runtime model setting and the shutdown path.

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_config::{validate_selector, wire_model, RoutesFile, SpeakReplies};
use ferry_openrouter::{Provider, RetryPolicy};
use ferry_store::{Creation, NewRun, NewSession, Run, Session, SessionPatch, Storage};
use ferry_types::{ProblemCode, RunEnded, RunEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use ferry_assets::AssetStore;

use crate::attachments::{self, Attachments};
use crate::billing::CostReconciler;
use crate::catalogs::Catalogs;
use crate::creation_line::CreationLine;
use crate::input::InputRequest;
use crate::input::RunPlan;
use crate::live::{Event, LiveRun, Subscription};
use crate::media_tools::{DirectResult, MediaTools};
use crate::probe::{Unreachable, UpstreamProbe};
use crate::routes::{RouteStatus, RouteTable};
use crate::run::{session_worker, InsertFailed, Job, Ready};
use crate::secrets::SecretsHandle;
use crate::tool_loop::{SessionSettings, TurnRunner};
use crate::tools::require_tool;
use crate::tools::{RouteTools, ToolName};
use crate::transcribe::{TranscribeOptions, Transcriber};
use crate::upstreams::Upstreams;
use crate::video_jobs::VideoJobs;
use crate::views::{ActiveTarget, RuntimeView, SessionView, StatusView};
use crate::EngineError;
use ferry_types::{ServiceState, TargetSource, TranscriptView, VideoJobView};

const RUNTIME_MODEL_KEY: &str = "runtime.model";
const INTERRUPTED_ON_START: &str =
    "ferry stopped while this run was in flight (crash, kill or power loss); send the input again";
pub(crate) const INTERRUPTED_ON_SHUTDOWN: &str =
    "ferry was shut down before this run finished; send the input again";

/// Options of one submission.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// `Idempotency-Key`: the same key on the same session returns the same run.
    pub idempotency_key: Option<String>,
    /// When false, a busy session answers `409 session_busy` instead of queueing.
    pub queue_if_busy: bool,
    /// When false (and there is no idempotency key), `submit` returns as soon as the run
    /// is queued, before its insert commits — for streaming callers, who learn the outcome
    /// (including a storage failure) from the run's terminal event.
    pub ack_after_insert: bool,
    /// The caller answers before the run ends, telling its client the run is stored (a
    /// detached run's 202): its creation is fsynced before `submit` returns. Otherwise
    /// the run's end, fsynced, makes its creation durable against a power cut too.
    pub promises_stored: bool,
}

/// The result of a submission.
pub struct Submitted {
    /// The run's id.
    pub run_id: String,
    /// The run as stored (queued, or the existing run for a repeated idempotency key);
    /// `None` when the caller did not wait for the insert (`ack_after_insert: false`).
    pub run: Option<Run>,
    /// True when an idempotency key matched an existing run.
    pub existing: bool,
}

/// Where the engine keeps media and what it may read.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The state root (assets under `assets/`, catalog caches under `cache/`).
    pub state_root: PathBuf,
    /// Root of `{path}` attachments; nothing outside it is read.
    pub workspace_root: PathBuf,
    /// Largest asset accepted, in bytes.
    pub max_asset_bytes: u64,
    /// Where asset bytes live (`serve --asset-store`); `None`: files under the state root.
    pub asset_blobs: Option<Arc<dyn ferry_assets::BlobStore>>,
    /// How long a fetched model catalog is fresh.
    pub catalog_ttl: Duration,
    /// Look up each completed run's billed cost with `GET /generation` (verified routes).
    pub reconcile_cost: bool,
    /// Time between upstream reachability probes (zero: no probes).
    pub probe_interval: Duration,
    /// OpenTelemetry traces of model calls (`serve --otlp-endpoint`).
    pub traces: Option<Arc<ferry_telemetry::Traces>>,
    /// Delete finished runs older than this many days (`None` or 0: keep everything).
    pub retention_days: Option<u32>,
}

impl EngineConfig {
    /// Defaults for a state root: workspace `.`, 25 MiB assets, 1 h catalog TTL.
    pub fn new(state_root: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            state_root: state_root.into(),
            workspace_root: PathBuf::from("."),
            max_asset_bytes: ferry_assets::DEFAULT_MAX_ASSET_BYTES,
            asset_blobs: None,
            catalog_ttl: crate::catalogs::DEFAULT_CATALOG_TTL,
            reconcile_cost: false,
            probe_interval: crate::probe::DEFAULT_PROBE_INTERVAL,
            traces: None,
            retention_days: None,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) routes: Arc<RouteTable>,
    pub(crate) store: Arc<dyn Storage>,
    pub(crate) secrets: Arc<SecretsHandle>,
    /// Route → provider + key ([`crate::upstreams`]).
    pub(crate) upstreams: Arc<Upstreams>,
    pub(crate) assets: AssetStore,
    pub(crate) workspace_root: PathBuf,
    /// The model catalogs with their refresh task ([`crate::catalogs`]).
    pub(crate) catalogs: Arc<Catalogs>,
    pub(crate) runtime_model: RwLock<Option<String>>,
    /// Boxed jobs: a tokio channel allocates its first block of 32 slots with the channel,
    /// and a `Job` is ~400 bytes, which made every busy session's queue ~13 KB.
    pub(crate) queues: Mutex<HashMap<String, mpsc::UnboundedSender<Box<Job>>>>,
    pub(crate) live: Mutex<HashMap<String, Arc<LiveRun>>>,
    /// The order each session's runs are created and queued in ([`crate::creation_line`]).
    pub(crate) creations: Arc<CreationLine>,
    pub(crate) draining: AtomicBool,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) started: Instant,
    pub(crate) loaded_at: u64,
    pub(crate) tasks: TaskTracker,
    pub(crate) background: CancellationToken,
    /// Cancelled when the shutdown grace period is over ([`crate::CallGuard`]).
    pub(crate) grace_over: CancellationToken,
    pub(crate) metrics: Arc<ferry_metrics::Metrics>,
    pub(crate) record_facade: AtomicBool,
    /// Video jobs with their pollers ([`crate::video_jobs`]).
    pub(crate) videos: Arc<VideoJobs>,
    /// Upstream reachability with its probe task ([`crate::probe`]).
    pub(crate) reachability: Arc<UpstreamProbe>,
    pub(crate) traces: Option<Arc<ferry_telemetry::Traces>>,
    /// Failed run ends not yet written ([`crate::unstored`]).
    pub(crate) unstored: Mutex<HashMap<String, crate::unstored::UnstoredEnd>>,
    pub(crate) access: Arc<crate::access::Access>,
    /// Speech-to-text with its transcript cache ([`crate::transcribe`]).
    pub(crate) transcriber: Arc<Transcriber>,
    /// Attachments of inputs and their replay ([`crate::attachments`]).
    pub(crate) attachments: Arc<Attachments>,
    /// The media tools ([`crate::media_tools`]).
    pub(crate) media: Arc<MediaTools>,
    /// One run's model calls and tool loop ([`crate::tool_loop`]).
    pub(crate) turns: TurnRunner,
    /// Admission and spend of paid calls ([`crate::access::Gate`]).
    pub(crate) gate: Arc<crate::access::Gate>,
    /// Billed-cost lookups and reconciliations ([`crate::billing`]).
    pub(crate) billing: Arc<CostReconciler>,
}

/// How many times a session input is planned and created at most when the session's pin
/// keeps changing under it.
const CREATION_TRIES: usize = 3;

/// Longest a streamed submission's creation (behind its session's earlier creations,
/// then the store's write) keeps its run from being under way: a session stream's
/// handler answers once the run is under way, and a stalled store must not hold its
/// headers back.
const UNDER_WAY_WITHIN: Duration = Duration::from_millis(250);

/// `work` (a streamed submission's creation); `hub`'s run is marked under way meanwhile
/// if it takes longer than [`UNDER_WAY_WITHIN`]. Raced so that the timer is never polled
/// — so never registered — when `work` completes at once (the creation written in line,
/// the store's writer idle): tokio's time driver wakes itself through its eventfd
/// whenever a new timer is its earliest, a syscall and one more turn of the runtime
/// before the creation (docs/benchmarks.md, twentieth session).
async fn under_way_within<T>(hub: &LiveRun, work: impl std::future::Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        done = &mut work => done,
        () = tokio::time::sleep(UNDER_WAY_WITHIN) => {
            hub.mark_under_way();
            work.await
        }
    }
}

/// An input planned for a session pin, checked, ready to store.
struct Planned {
    plan: RunPlan,
    /// The input as stored (attachments as assets).
    stored: serde_json::Value,
    /// The session pin it was planned for.
    pin: Option<String>,
}

/// What a run's creation needs besides its plan, kept to plan again.
struct CreationRequest {
    run_id: String,
    session_id: String,
    input: InputRequest,
    runtime: Option<String>,
    idempotency_key: Option<String>,
    acknowledged: bool,
}

/// A stored session input.
enum Created {
    /// Inserted: the run as stored, and what its worker needs to run it.
    Inserted { run: Run, ready: Box<Ready> },
    /// Its idempotency key was used already: that run.
    Existing(Run),
}

/// The engine handle (cheap to clone).
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl Engine {
    /// Starts the engine: recovers runs left in flight by a crash and loads the runtime
    /// model. Returns the engine and the runs it marked `interrupted`.
    pub async fn start(
        routes: RoutesFile,
        store: Arc<dyn Storage>,
        secrets: SecretsHandle,
        retry: RetryPolicy,
        config: EngineConfig,
    ) -> Result<(Engine, Vec<Run>), EngineError> {
        Engine::start_with_providers(routes, store, secrets, retry, config, BTreeMap::new()).await
    }

    /// [`Engine::start`] with `providers` in place of the named routes' OpenRouter clients
    /// (an in-memory upstream for tests).
    pub async fn start_with_providers(
        routes: RoutesFile,
        store: Arc<dyn Storage>,
        secrets: SecretsHandle,
        retry: RetryPolicy,
        config: EngineConfig,
        providers: BTreeMap<String, Arc<dyn Provider>>,
    ) -> Result<(Engine, Vec<Run>), EngineError> {
        let assets = match &config.asset_blobs {
            Some(blobs) => {
                AssetStore::with_blobs(Arc::clone(blobs), store.clone(), config.max_asset_bytes)
            }
            None => {
                let files =
                    AssetStore::open(&config.state_root, store.clone(), config.max_asset_bytes)?;
                if store.shared_by_replicas() {
                    files.on_one_replica_of_several()
                } else {
                    files
                }
            }
        };
        let workspace_root = config.workspace_root.canonicalize().map_err(|e| {
            EngineError::bad_input(
                "invalid_workspace_root",
                format!(
                    "workspace root {} is not usable ({e}); create it or point --workspace-root at your project",
                    config.workspace_root.display()
                ),
            )
        })?;
        // Each recovered run gets its `run.failed` event in the same transaction.
        let recovered = store
            .recover_interrupted(
                INTERRUPTED_ON_START,
                &RunEvent::RunFailed(RunEnded::new(
                    ProblemCode::Interrupted,
                    INTERRUPTED_ON_START,
                ))
                .payload_value(),
            )
            .await?;
        // Replicas sharing a database keep budgets in it; a lone daemon in memory.
        let book: Arc<dyn crate::access::Reservations> = match store.shared_budgets() {
            Some(repo) => Arc::new(crate::access::SharedBook::start(repo)),
            None => Arc::new(crate::access::Book::default()),
        };
        let access = crate::access::Access::load(store.as_ref(), book).await?;
        let runtime_model = match store.runtime_get(RUNTIME_MODEL_KEY).await? {
            Some(sel) => match validate_selector(&routes, &sel) {
                Ok(_) => Some(sel),
                Err(e) => {
                    tracing::warn!(selector = %sel, error = %e, "ignoring the stored runtime model: it no longer matches routes.toml");
                    None
                }
            },
            None => None,
        };
        let tools = RouteTools::new(&routes);
        let tasks = TaskTracker::new();
        let routes = Arc::new(RouteTable::new(routes, &tasks));
        let secrets = Arc::new(secrets);
        let upstreams = Arc::new(Upstreams::new(&routes, secrets.clone(), retry, providers));
        let catalogs = Arc::new(Catalogs::new(
            &config.state_root,
            config.catalog_ttl,
            Arc::clone(&routes),
            Arc::clone(&upstreams),
        ));
        let background = CancellationToken::new();
        let billing = Arc::new(CostReconciler::new(
            config.reconcile_cost,
            Arc::clone(&routes),
            Arc::clone(&upstreams),
            Arc::clone(&store),
            tasks.clone(),
            background.clone(),
        ));
        let metrics = Arc::new(ferry_metrics::Metrics::new());
        let access = Arc::new(access);
        let gate = Arc::new(crate::access::Gate::new(
            Arc::clone(&access),
            Arc::clone(&routes),
            Arc::clone(&catalogs),
            Arc::clone(&upstreams),
            Arc::clone(&store),
            Arc::clone(&metrics),
            Arc::clone(&billing),
        ));
        let transcriber = Arc::new(Transcriber::new(
            Arc::clone(&routes),
            assets.clone(),
            Arc::clone(&store),
            Arc::clone(&gate),
            Arc::clone(&upstreams),
        ));
        let videos = Arc::new(VideoJobs::new(
            Arc::clone(&routes),
            Arc::clone(&upstreams),
            Arc::clone(&store),
            assets.clone(),
            Arc::clone(&gate),
            tasks.clone(),
            background.clone(),
        ));
        let media = Arc::new(MediaTools::new(
            Arc::clone(&routes),
            Arc::clone(&upstreams),
            assets.clone(),
            Arc::clone(&catalogs),
            Arc::clone(&gate),
            Arc::clone(&transcriber),
            Arc::clone(&videos),
        ));
        let attachments = Arc::new(Attachments::new(
            Arc::clone(&routes),
            assets.clone(),
            Arc::clone(&store),
            Arc::clone(&catalogs),
            Arc::clone(&transcriber),
            workspace_root.clone(),
        ));
        let turns = TurnRunner::new(
            Arc::clone(&routes),
            tools,
            Arc::clone(&catalogs),
            Arc::clone(&upstreams),
            Arc::clone(&store),
            assets.clone(),
            Arc::clone(&metrics),
            Arc::clone(&gate),
            Arc::clone(&attachments),
            Arc::clone(&media),
        );
        let reachability = Arc::new(UpstreamProbe::new(
            Arc::clone(&routes),
            Arc::clone(&upstreams),
        ));
        let engine = Engine {
            inner: Arc::new(Inner {
                routes,
                store,
                secrets,
                upstreams,
                assets,
                workspace_root,
                catalogs,
                runtime_model: RwLock::new(runtime_model),
                queues: Mutex::new(HashMap::new()),
                live: Mutex::new(HashMap::new()),
                creations: Arc::default(),
                draining: AtomicBool::new(false),
                shutting_down: AtomicBool::new(false),
                started: Instant::now(),
                loaded_at: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                tasks,
                background,
                grace_over: CancellationToken::new(),
                metrics,
                record_facade: AtomicBool::new(false),
                videos,
                reachability,
                traces: config.traces.clone(),
                unstored: Mutex::new(HashMap::new()),
                access,
                gate,
                transcriber,
                media,
                attachments,
                turns,
                billing,
            }),
        };
        let inner = &engine.inner;
        inner
            .catalogs
            .spawn_refresh(&inner.tasks, inner.background.clone());
        inner
            .secrets
            .spawn_refresh(&inner.tasks, inner.background.clone());
        inner.access.spawn_refresh(
            Arc::clone(&inner.store),
            &inner.tasks,
            inner.background.clone(),
        );
        inner.reachability.spawn(
            config.probe_interval,
            &inner.tasks,
            inner.background.clone(),
        );
        crate::retention::spawn(
            Arc::clone(&inner.store),
            config.retention_days,
            &inner.tasks,
            inner.background.clone(),
        );
        engine.inner.videos.resume().await?;
        Ok((engine, recovered))
    }

    /// `GET /v1/models`: the route's catalog, filtered ([`Catalogs::models`]).
    pub async fn models(
        &self,
        query: &crate::catalogs::ModelsQuery,
    ) -> Result<ferry_types::ModelsView, EngineError> {
        self.inner.catalogs.models(query).await
    }

    /// The route's outage, if its upstream is unreachable now.
    pub fn unreachable(&self, route: &str) -> Option<Unreachable> {
        self.inner.reachability.unreachable(route)
    }

    /// `POST /v1/tools/transcribe_audio` ([`Transcriber::transcribe_asset`]).
    pub async fn transcribe_asset(
        &self,
        asset_id: &str,
        opts: &TranscribeOptions,
    ) -> Result<TranscriptView, EngineError> {
        self.inner
            .transcriber
            .transcribe_asset(asset_id, opts)
            .await
    }

    /// `POST /v1/tools/{name}`: runs a media tool directly ([`MediaTools::run_direct_tool`]).
    pub async fn run_direct_tool(
        &self,
        name: &str,
        body: serde_json::Value,
        wait: bool,
    ) -> Result<DirectResult, EngineError> {
        self.inner.media.run_direct_tool(name, body, wait).await
    }

    /// A video job's current view.
    pub async fn video_job(&self, id: &str) -> Result<VideoJobView, EngineError> {
        self.inner.videos.job(id).await
    }

    /// The most recent video jobs, newest first.
    pub async fn video_jobs(&self, limit: u32) -> Result<Vec<VideoJobView>, EngineError> {
        self.inner.videos.jobs(limit).await
    }

    /// Waits until the video job ends, calling `on_progress` with every view published
    /// while it runs; returns the final view ([`VideoJobs::wait`]).
    pub async fn wait_video(
        &self,
        id: &str,
        on_progress: impl FnMut(&VideoJobView),
    ) -> Result<VideoJobView, EngineError> {
        self.inner.videos.wait(id, on_progress).await
    }

    /// The OpenTelemetry traces, when exporting is on.
    pub fn traces(&self) -> Option<&ferry_telemetry::Traces> {
        self.inner.traces.as_deref()
    }

    /// The storage (for read endpoints).
    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.inner.store
    }

    /// The asset store.
    pub fn assets(&self) -> &AssetStore {
        &self.inner.assets
    }

    /// The canonical workspace root.
    pub fn workspace_root(&self) -> &std::path::Path {
        &self.inner.workspace_root
    }

    /// The secret store handle.
    pub fn secrets(&self) -> &SecretsHandle {
        &self.inner.secrets
    }

    /// The loaded routes.
    pub fn routes(&self) -> &RouteTable {
        &self.inner.routes
    }

    /// The daemon's metrics.
    pub fn metrics(&self) -> &ferry_metrics::Metrics {
        &self.inner.metrics
    }

    /// The same-model retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        self.inner.upstreams.retry()
    }

    /// When the engine started (Unix seconds).
    pub fn loaded_at(&self) -> u64 {
        self.inner.loaded_at
    }

    /// Turns recording of OpenAI-facade calls as runs on or off (off by default).
    pub fn set_facade_recording(&self, on: bool) {
        self.inner.record_facade.store(on, Ordering::Relaxed);
    }

    /// Whether facade calls are recorded as runs.
    pub fn facade_recording(&self) -> bool {
        self.inner.record_facade.load(Ordering::Relaxed)
    }

    /// Runs `fut` on the engine's task tracker, so a graceful shutdown waits for it.
    pub(crate) fn spawn_tracked<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.inner.tasks.spawn(fut);
    }

    /// Tasks still running on the engine's tracker (session workers, background loops,
    /// pollers, lookups, background writes); zero once a drain has fully ended.
    pub fn tracked_tasks(&self) -> usize {
        self.inner.tasks.len()
    }

    /// True once shutdown began.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// The selector set with `runtime set-model`.
    pub fn runtime_model(&self) -> Option<String> {
        self.inner.runtime_model.read().clone()
    }

    /// What an input with no overrides would use.
    pub fn active_target(&self) -> ActiveTarget {
        let routes = self.inner.routes.file();
        let runtime = self.runtime_model();
        let (target, source) = match runtime
            .as_deref()
            .and_then(|sel| validate_selector(routes, sel).ok())
        {
            Some(t) => (t, TargetSource::Runtime),
            None => {
                let route = routes.default();
                (
                    ferry_config::Target {
                        route: route.id.clone(),
                        model: route.default_model.clone(),
                    },
                    TargetSource::RouteDefault,
                )
            }
        };
        let wire = routes
            .route(&target.route)
            .map(|r| wire_model(r, &target.model))
            .unwrap_or_else(|| target.model.clone());
        ActiveTarget {
            route: target.route,
            model: target.model,
            wire_model: wire,
            source,
        }
    }

    /// `GET /v1/runtime`.
    pub fn runtime_view(&self) -> RuntimeView {
        RuntimeView {
            default_route: self.inner.routes.file().default_route.clone(),
            runtime_model: self.runtime_model(),
            active: self.active_target(),
            routes: self.route_statuses(),
        }
    }

    /// Every route's readiness with its effective capabilities (catalog applied).
    fn route_statuses(&self) -> Vec<RouteStatus> {
        let mut statuses = self.inner.routes.statuses(&self.inner.secrets);
        for status in &mut statuses {
            if let Ok(route) = self.inner.routes.route(&status.id) {
                let catalog = self.inner.catalogs.get(&status.id);
                let (caps, notes) = crate::capabilities::effective(route, catalog.as_deref());
                status.capabilities = crate::views::route_capabilities(caps);
                status.capability_notes = notes;
                status.unreachable = self.unreachable(&status.id);
            }
        }
        statuses
    }

    /// `POST /v1/runtime/model`: validates and persists the selector.
    pub async fn set_runtime_model(&self, selector: &str) -> Result<RuntimeView, EngineError> {
        let selector = selector.trim();
        let target = validate_selector(self.inner.routes.file(), selector)
            .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        self.check_model_listed(&target.route, &target.model)?;
        self.inner
            .store
            .runtime_set(RUNTIME_MODEL_KEY, Some(selector))
            .await?;
        *self.inner.runtime_model.write() = Some(selector.to_string());
        Ok(self.runtime_view())
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusView, EngineError> {
        let routes = self.route_statuses();
        let degraded = routes
            .iter()
            .find_map(|r| r.unreachable.as_ref().map(|u| (r, u)))
            .map(|(r, u)| {
                let upstream = if r.verified_openrouter {
                    "OpenRouter".to_string()
                } else {
                    format!("the upstream of route {} ({})", r.id, r.base_url)
                };
                format!("{upstream} unreachable since {}: {}", u.since, u.error)
            });
        Ok(StatusView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: self.inner.started.elapsed().as_secs(),
            state: if self.is_draining() {
                ServiceState::Draining
            } else if degraded.is_some() {
                ServiceState::Degraded
            } else {
                ServiceState::Ready
            },
            degraded,
            routes,
            active: self.active_target(),
            active_runs: self.live_count() as u64,
            storage: crate::views::storage_stats(self.inner.store.stats().await?),
            secrets: self.inner.secrets.list().len() as u64,
            secrets_locked: self.inner.secrets.is_locked(),
        })
    }

    /// Runs queued or running now.
    pub fn live_count(&self) -> usize {
        self.inner.live.lock().len()
    }

    /// `GET /v1/models/status`: the route's key as OpenRouter reports it (`GET /key`).
    pub async fn key_status(
        &self,
        route: Option<&str>,
    ) -> Result<ferry_types::KeyStatus, EngineError> {
        let routes = &self.inner.routes;
        let id = route.unwrap_or(&routes.file().default_route).to_string();
        let up = self.inner.upstreams.upstream(routes.route(&id)?)?;
        let info = up.provider.key_info(&up.key).await?;
        let data = info.get("data").cloned().unwrap_or(info);
        Ok(ferry_types::KeyStatus {
            route: id,
            key: data,
        })
    }

    /// `POST /v1/sessions`.
    pub async fn create_session(&self, new: NewSession) -> Result<Session, EngineError> {
        validate_session_id(&new.id)?;
        if let Some(sel) = &new.pinned_selector {
            validate_selector(self.inner.routes.file(), sel)
                .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        }
        match self.inner.store.create_session(new.clone()).await {
            Err(ferry_store::StoreError::SessionExists { .. }) => Err(EngineError::Conflict {
                code: "session_exists",
                message: format!(
                    "session {} already exists; send input to it with `ferry sessions input {} \"…\"`",
                    new.id, new.id
                ),
            }),
            other => Ok(other?),
        }
    }

    /// `PATCH /v1/sessions/{id}` (and the settings of `POST /v1/sessions`): changes the
    /// pinned model, system prompt or `speak_replies` (`off`/`always`; `None` inside
    /// clears it, so the route's setting applies).
    pub async fn update_session(
        &self,
        id: &str,
        patch: SessionPatch,
    ) -> Result<Session, EngineError> {
        if let Some(Some(sel)) = &patch.pinned_selector {
            validate_selector(self.inner.routes.file(), sel)
                .map_err(|e| EngineError::bad_input("invalid_selector", e.to_string()))?;
        }
        if let Some(Some(v)) = &patch.speak_replies {
            v.parse::<SpeakReplies>()
                .map_err(|e| EngineError::bad_input("invalid_speak_replies", e.to_string()))?;
        }
        match self.inner.store.update_session(id, patch).await {
            Err(ferry_store::StoreError::SessionNotFound { .. }) => Err(EngineError::NotFound {
                what: "session",
                id: id.to_owned(),
            }),
            other => Ok(other?),
        }
    }

    /// `GET /v1/sessions/{id}`.
    pub async fn session_view(&self, id: &str) -> Result<SessionView, EngineError> {
        let session =
            self.inner
                .store
                .get_session(id)
                .await?
                .ok_or_else(|| EngineError::NotFound {
                    what: "session",
                    id: id.to_string(),
                })?;
        let totals = self.inner.store.session_totals(id).await?;
        // Busy from the moment an input is accepted: while its run is created, then queued.
        let busy = self.inner.queues.lock().contains_key(id) || self.inner.creations.is_busy(id);
        Ok(SessionView {
            session: crate::views::session_info(session),
            totals: crate::views::session_totals(totals),
            busy,
        })
    }

    /// Accepts an input: validates it, creates the session if needed, stores a queued run
    /// and hands it to the session's worker.
    ///
    /// The input is planned for an unpinned session, and the creation — one store call —
    /// inserts the run only when the session is indeed unpinned, answering its settings
    /// either way: a session input needs no read of the session before (one round trip
    /// fewer on a shared database). A pinned session is planned again for its pin and
    /// created again (see [`Engine::create_planned`]).
    pub async fn submit(
        &self,
        session_id: &str,
        input: InputRequest,
        opts: SubmitOptions,
    ) -> Result<Submitted, EngineError> {
        if self.is_draining() {
            return Err(EngineError::Draining);
        }
        validate_session_id(session_id)?;
        if let Some(key) = &opts.idempotency_key {
            if key.is_empty() || key.len() > 255 {
                return Err(EngineError::bad_input(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 255 characters",
                ));
            }
        }
        let runtime = self.runtime_model();
        let planned = match self.plan_input(&input, None, runtime.as_deref()).await {
            Ok(planned) => planned,
            // Refused as if unpinned: the session's own pin may plan it well.
            Err(unpinned) => match self.inner.store.get_session(session_id).await? {
                Some(ferry_store::Session {
                    pinned_selector: Some(pin),
                    ..
                }) => {
                    self.plan_input(&input, Some(&pin), runtime.as_deref())
                        .await?
                }
                _ => return Err(unpinned),
            },
        };
        if !opts.queue_if_busy
            && (self.inner.queues.lock().contains_key(session_id)
                || self.inner.creations.is_busy(session_id))
        {
            return Err(EngineError::Conflict {
                code: "session_busy",
                message: format!(
                    "session {session_id} already has a run in progress; retry later, or omit wait=false to queue behind it"
                ),
            });
        }
        let run_id = format!("run_{}", uuid::Uuid::now_v7().simple());
        let caller = crate::access::current_caller();
        let creation = CreationRequest {
            run_id: run_id.clone(),
            session_id: session_id.to_string(),
            input,
            runtime,
            idempotency_key: opts.idempotency_key.clone(),
            acknowledged: opts.promises_stored,
        };
        // The session's runs are created, and queued, one after another in the order
        // they were submitted.
        let mut place = self.inner.creations.join(session_id);
        if opts.ack_after_insert || opts.idempotency_key.is_some() {
            // A repeated key must find the existing run before anything starts.
            place.wait().await;
            let asked = opts
                .idempotency_key
                .is_some()
                .then(|| planned.stored.clone());
            return match self.create_planned(creation, planned).await? {
                Created::Existing(run) => {
                    if let Some(asked) = asked {
                        same_input_or_refuse(&run, &asked)?;
                    }
                    Ok(Submitted {
                        run_id: run.id.clone(),
                        run: Some(run),
                        existing: true,
                    })
                }
                Created::Inserted { run, ready } => {
                    let hub = self.register(session_id, &run.id);
                    self.enqueue(
                        session_id,
                        Box::new(Job {
                            hub,
                            ready: Ok(ready),
                            caller,
                        }),
                    );
                    drop(place);
                    Ok(Submitted {
                        run_id: run.id.clone(),
                        run: Some(run),
                        existing: false,
                    })
                }
            };
        }
        // A stream's headers need not wait for the creation: its events are followed from
        // now, the run is queued once created, and a failed creation ends it with that
        // failure as its terminal event (never stored, nothing sent upstream); a creation
        // that stalls puts the run under way meanwhile.
        let hub = self.register(session_id, &run_id);
        let engine = self.clone();
        let session = session_id.to_string();
        self.inner.tasks.spawn(async move {
            // Boxed: raced inline, the creation's future would sit in this task's twice
            // (the argument and the pinned race), and the task is copied whole when
            // spawned (measured: 2.8k → 65k instructions of `memcpy` a stream).
            let created = under_way_within(
                &hub,
                Box::pin(async {
                    place.wait().await;
                    engine.create_planned(creation, planned).await
                }),
            )
            .await;
            let ready = match created {
                Ok(Created::Inserted { ready, .. }) => Ok(ready),
                Ok(Created::Existing(_)) => Err(InsertFailed::of(&EngineError::Internal(
                    "a run without an idempotency key found an existing one".into(),
                ))),
                Err(e) => {
                    tracing::error!(run = %hub.run_id, error = %e, "cannot store the new run");
                    Err(InsertFailed::of(&e))
                }
            };
            engine.enqueue(&session, Box::new(Job { hub, ready, caller }));
            drop(place);
        });
        Ok(Submitted {
            run_id,
            run: None,
            existing: false,
        })
    }

    /// Plans `input` for a session pinned to `pin` and checks what can be checked before
    /// anything is stored: the target route has a key, an explicit model is listed, the
    /// caller's key may use it, spoken replies are allowed, the attachments resolve and
    /// suit the chain. Returns the plan and the input as stored (attachments as assets).
    async fn plan_input(
        &self,
        input: &InputRequest,
        pin: Option<&str>,
        runtime: Option<&str>,
    ) -> Result<Planned, EngineError> {
        let mut plan = input.plan(self.inner.routes.file(), pin, runtime)?;
        // Fail fast when the target route has no key: the run could never start.
        let first = &plan.chain[0];
        let route = self.inner.routes.route(&first.route)?;
        self.inner.routes.api_key(route, &self.inner.secrets)?;
        if input.model.is_some() {
            self.check_model_listed(&first.route, &first.model)?;
        }
        // A key limited to other routes or models is refused before anything is stored,
        // for its fallbacks too.
        let caller = crate::access::current_caller();
        caller.check_target(&first.route, &wire_model(route, &first.model))?;
        let routes = &self.inner.routes;
        plan.chain = caller.usable_chain(plan.chain, input.fallbacks.is_some(), |m| {
            routes
                .route(&m.route)
                .map_or_else(|_| m.model.clone(), |r| wire_model(r, &m.model))
        })?;
        let route = self.inner.routes.route(&plan.chain[0].route)?;
        if plan.speak == Some(true) {
            require_tool(route, ToolName::GenerateAudio)?;
        }
        let stored = if input.attachments.is_empty() {
            serde_json::to_value(input)
        } else {
            let attached = self
                .inner
                .attachments
                .resolve_attachments(&input.attachments)
                .await?;
            plan.chain = self
                .inner
                .attachments
                .check_attachments(&attached, plan.chain)
                .await?;
            plan.user_message =
                attachments::user_message(input.content.as_deref().unwrap_or(""), &attached);
            serde_json::to_value(InputRequest {
                attachments: attachments::input_refs(&attached),
                ..input.clone()
            })
        }
        .map_err(|e| EngineError::Internal(format!("input encoding: {e}")))?;
        Ok(Planned {
            plan,
            stored,
            pin: pin.map(str::to_owned),
        })
    }

    /// Stores the run planned as `planned`: when the session turns out pinned otherwise
    /// than planned for (set before this input, or by another request meanwhile), plans
    /// again for the pin the store found and creates again — a few times at most, then
    /// refuses.
    async fn create_planned(
        &self,
        creation: CreationRequest,
        mut planned: Planned,
    ) -> Result<Created, EngineError> {
        for _ in 0..CREATION_TRIES {
            let Planned { plan, stored, pin } = planned;
            let new_run = NewRun {
                id: creation.run_id.clone(),
                session_id: creation.session_id.clone(),
                input: stored,
                idempotency_key: creation.idempotency_key.clone(),
                acknowledged: creation.acknowledged,
            };
            let found = match self
                .inner
                .store
                .create_run_planned(new_run, pin.as_deref())
                .await?
            {
                Creation::Existing(run) => return Ok(Created::Existing(run)),
                Creation::Inserted {
                    run,
                    in_line,
                    session,
                } => {
                    let ready = Box::new(Ready {
                        plan,
                        session: SessionSettings::of(session),
                        in_line,
                    });
                    return Ok(Created::Inserted { run, ready });
                }
                Creation::PinMoved(found) => found,
            };
            planned = self
                .plan_input(
                    &creation.input,
                    found.pinned_selector.as_deref(),
                    creation.runtime.as_deref(),
                )
                .await?;
        }
        Err(EngineError::Conflict {
            code: "session_busy",
            message: format!(
                "session {}'s model pin changed {CREATION_TRIES} times while this input was being stored; send it again",
                creation.session_id
            ),
        })
    }

    /// Registers the run's live hub: its events can be followed from now on.
    fn register(&self, session_id: &str, run_id: &str) -> Arc<LiveRun> {
        let hub = LiveRun::new(
            run_id.to_string(),
            session_id.to_string(),
            self.inner.store.clone(),
        );
        self.inner
            .live
            .lock()
            .insert(run_id.to_string(), hub.clone());
        hub
    }

    /// Hands the job to its session's worker, starting one when the session has none.
    fn enqueue(&self, session_id: &str, job: Box<Job>) {
        let mut queues = self.inner.queues.lock();
        if let Some(tx) = queues.get(session_id) {
            // It may wait in line behind the session's run in progress.
            job.hub.mark_under_way();
            match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => {
                    // The worker is gone (cannot happen while the entry exists, but be safe).
                    queues.remove(session_id);
                    drop(queues);
                    return self.enqueue(session_id, job);
                }
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        // A fresh channel always accepts.
        let _ = tx.send(job);
        queues.insert(session_id.to_string(), tx);
        let inner = self.inner.clone();
        let session = session_id.to_string();
        self.inner
            .tasks
            .spawn(async move { session_worker(inner, session, rx).await });
    }

    /// Subscribes to a run's events after `after_seq` (SSE with `Last-Event-ID`).
    pub async fn subscribe(
        &self,
        run_id: &str,
        after_seq: u64,
    ) -> Result<Subscription, EngineError> {
        if let Some(hub) = self.live_hub(run_id) {
            return Ok(hub.subscribe(after_seq));
        }
        let run = self.get_run(run_id).await?;
        let hub = LiveRun::new(
            run.id.clone(),
            run.session_id.clone(),
            self.inner.store.clone(),
        );
        // The whole stored log goes into the hub, so a lagging follower can recover.
        for event in self.stored_events(&run.id, 0).await? {
            hub.publish(event);
        }
        // A follower's hub has no worker of its own to put it under way.
        hub.mark_under_way();
        let mut sub = hub.subscribe(after_seq);
        if run.status.is_terminal() {
            // Ended: the replay holds everything there is.
            sub.live = None;
        } else if sub.live.is_some() {
            // Queued or running, but not in this process: another replica (or this one's
            // queue) runs it. Follow it through the store until its terminal event.
            self.spawn_tracked(follow_stored(hub, self.inner.clone()));
        }
        Ok(sub)
    }

    /// The run's stored events after `after_seq` as typed events (a stored row that is not
    /// a run event is skipped with a warning).
    async fn stored_events(&self, run_id: &str, after_seq: u64) -> Result<Vec<Event>, EngineError> {
        Ok(typed_events(
            run_id,
            self.inner.store.events_after(run_id, after_seq).await?,
        ))
    }

    fn live_hub(&self, run_id: &str) -> Option<Arc<LiveRun>> {
        self.inner.live.lock().get(run_id).cloned()
    }

    /// `GET /v1/runs/{id}`.
    pub async fn get_run(&self, run_id: &str) -> Result<Run, EngineError> {
        let mut run =
            self.inner
                .store
                .get_run(run_id)
                .await?
                .ok_or_else(|| EngineError::NotFound {
                    what: "run",
                    id: run_id.to_string(),
                })?;
        self.overlay_unstored(&mut run);
        self.overlay_started(&mut run);
        Ok(run)
    }

    /// A live run's start reaches the store with its first batch of events or its end;
    /// until then the view shows it running as it is.
    fn overlay_started(&self, run: &mut Run) {
        if run.status != ferry_store::RunStatus::Queued {
            return;
        }
        if let Some(start) = self.live_hub(&run.id).and_then(|hub| hub.started()) {
            run.status = ferry_store::RunStatus::Running;
            run.started_at = Some(ferry_store::rfc3339(start.started_at));
            run.route = Some(start.route);
            run.model_requested = Some(start.model_requested);
        }
    }

    /// Waits until the run is terminal and returns it.
    pub async fn wait_run(&self, run_id: &str) -> Result<Run, EngineError> {
        Ok(self.wait_terminal(run_id).await?.0)
    }

    /// Waits until the run is terminal; returns it with its terminal event
    /// (`run.completed`, `run.failed` or `run.cancelled`) when the run ended while
    /// this process was watching it live.
    pub async fn wait_terminal(
        &self,
        run_id: &str,
    ) -> Result<(Run, Option<Arc<RunEvent>>), EngineError> {
        let hub = self.live_hub(run_id);
        let terminal = match &hub {
            // Woken once, when the run ends (not on each of its events).
            Some(hub) => hub.terminal().await,
            None => None,
        };
        // A run that ended here carries its stored row; any other is read back. The hub
        // is gone once its worker moved on (and this one is dropped here), so the row
        // is usually ours alone and moves out instead of being copied.
        let run = match hub.and_then(|hub| hub.ended_run()) {
            Some(run) => Arc::unwrap_or_clone(run),
            None => self.get_run(run_id).await?,
        };
        Ok((run, terminal.map(|e| e.event)))
    }

    /// `POST /v1/runs/{id}/cancel`: aborts the upstream request and marks the run cancelled.
    pub async fn cancel(&self, run_id: &str) -> Result<Run, EngineError> {
        match self.live_hub(run_id) {
            Some(hub) => {
                hub.cancel.cancel();
                self.wait_run(run_id).await
            }
            None => {
                let run = self.get_run(run_id).await?;
                Err(EngineError::Conflict {
                    code: "run_finished",
                    message: format!(
                        "run {} already finished with status {}; nothing to cancel",
                        run.id,
                        run.status.as_str()
                    ),
                })
            }
        }
    }

    /// Graceful drain: refuse new runs, let running runs and facade calls finish for up to
    /// `grace`, then interrupt the rest (runs are cancelled, facade calls told through
    /// their [`crate::CallGuard`]) and give them [`AFTER_GRACE`] to end. The store stays
    /// open for read requests until [`Engine::close`].
    pub async fn drain(&self, grace: Duration) {
        self.inner.draining.store(true, Ordering::SeqCst);
        self.inner.background.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                active = self.live_count(),
                "grace period over; interrupting runs still in flight"
            );
            self.inner.shutting_down.store(true, Ordering::SeqCst);
            self.inner.grace_over.cancel();
            let hubs: Vec<Arc<LiveRun>> = self.inner.live.lock().values().cloned().collect();
            for hub in hubs {
                hub.cancel.cancel();
            }
            // A facade stream whose client does not read is not polled, so it cannot end
            // itself: the server drops its connection after the drain.
            let _ = tokio::time::timeout(AFTER_GRACE, self.inner.tasks.wait()).await;
        }
    }

    /// Waits for the background writes still running (the end of interrupted runs and of
    /// facade calls whose connection was dropped), then flushes and closes the store
    /// (after [`Engine::drain`]).
    pub async fn close(&self) {
        self.inner.tasks.close();
        if tokio::time::timeout(CLOSE_WAIT, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = self.tracked_tasks(),
                "background writes still running at close; closing the store anyway"
            );
        }
        self.inner.access.close().await;
        self.inner.store.close().await;
    }
}

/// How long interrupted runs and facade calls get to end once the grace period is over.
pub const AFTER_GRACE: Duration = Duration::from_millis(300);
/// How long [`Engine::close`] waits for background writes before closing the store.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What a session id is, as every refusal of one says it.
pub const SESSION_ID_RULE: &str = "session ids are 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. demo, work-2026)";

pub(crate) fn validate_session_id(id: &str) -> Result<(), EngineError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::bad_input(
            "invalid_session_id",
            SESSION_ID_RULE,
        ))
    }
}

/// A 409 `idempotency_key_reused` unless `existing` (the run an `Idempotency-Key` found)
/// was submitted with the input `asked` (as stored). Attachments are left out of the
/// comparison: they are stored as assets, whose references a retry need not repeat
/// byte for byte.
fn same_input_or_refuse(
    existing: &ferry_store::Run,
    asked: &serde_json::Value,
) -> Result<(), EngineError> {
    if existing.input == *asked || input_fields(&existing.input) == input_fields(asked) {
        return Ok(());
    }
    Err(EngineError::Conflict {
        code: "idempotency_key_reused",
        message: format!(
            "this Idempotency-Key was used for run {} with a different input; a retry must send the same body, and a new input needs a new key",
            existing.id
        ),
    })
}

/// A stored input's fields but its attachments.
fn input_fields(
    input: &serde_json::Value,
) -> std::collections::BTreeMap<&String, &serde_json::Value> {
    input
        .as_object()
        .map(|o| o.iter().filter(|(k, _)| *k != "attachments").collect())
        .unwrap_or_default()
}

/// Stored event rows as typed events; a row that is not a run event is skipped with a
/// warning.
fn typed_events(run_id: &str, rows: Vec<ferry_store::RunEvent>) -> Vec<Event> {
    rows.into_iter()
        .filter_map(|e| match RunEvent::from_wire(&e.kind, e.data) {
            Ok(event) => Some(Event::new(e.seq, event)),
            Err(err) => {
                tracing::warn!(run = %run_id, seq = e.seq, error = %err, "skipping a stored event that is not a run event");
                None
            }
        })
        .collect()
}

/// How often a follower of a run that runs elsewhere looks for its new events when the
/// store gives no notices.
const FOLLOW_STORED_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// With notices, the longest a follower waits without one before it looks anyway.
const FOLLOW_NOTICE_BACKSTOP: std::time::Duration = std::time::Duration::from_millis(250);

/// Feeds `hub` the events another process stores for its run, until the terminal event
/// arrives, nobody follows any more, or the engine stops. The run's owner stores its
/// events in batches (at most [`crate::live::FLUSH_AFTER`] apart while it emits); a
/// follower here reads them as soon as the store's notice of their commit arrives
/// (PostgreSQL `NOTIFY`), or at the next poll where the store gives no notices.
async fn follow_stored(hub: Arc<LiveRun>, inner: Arc<Inner>) {
    let stop = inner.background.clone();
    let mut notices = inner.store.run_notices();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            heard = notice_for(&mut notices, &hub.run_id) => {
                if !heard {
                    // The notices ended: poll from now on.
                    notices = None;
                }
            }
        }
        if !hub.has_subscribers() {
            return;
        }
        // Queued here and now started: relay this process's live hub, which has every
        // event at once (the store only gets them in batches).
        let local = inner.live.lock().get(&hub.run_id).cloned();
        if let Some(local) = local {
            relay_live(&hub, &local, &stop).await;
            return;
        }
        let rows = match inner.store.events_after(&hub.run_id, hub.last_seq()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(run = %hub.run_id, error = %e, "cannot read a followed run's events");
                continue;
            }
        };
        for event in typed_events(&hub.run_id, rows) {
            let terminal = event.is_terminal();
            hub.publish(event);
            if terminal {
                return;
            }
        }
    }
}

/// Waits until there may be news of `run_id` in the store: a notice that events of it
/// were committed (or that notices were missed), or — without notices — the polling
/// interval; a backstop interval either way (a run queued here that starts sends no
/// notice before its first batch). False when the notices ended.
async fn notice_for(
    notices: &mut Option<tokio::sync::broadcast::Receiver<Arc<str>>>,
    run_id: &str,
) -> bool {
    let Some(rx) = notices.as_mut() else {
        tokio::time::sleep(FOLLOW_STORED_EVERY).await;
        return true;
    };
    let heard = async {
        loop {
            match rx.recv().await {
                Ok(id) if &*id == run_id => return true,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
            }
        }
    };
    tokio::select! {
        heard = heard => heard,
        _ = tokio::time::sleep(FOLLOW_NOTICE_BACKSTOP) => true,
    }
}

/// Publishes into `hub` the events of the live run `local` after those `hub` has, until
/// the terminal one (or the engine stops).
async fn relay_live(hub: &LiveRun, local: &Arc<LiveRun>, stop: &CancellationToken) {
    let sub = local.subscribe(hub.last_seq());
    let publish = |events: Vec<Event>| {
        for event in events {
            if event.seq <= hub.last_seq() {
                continue;
            }
            let terminal = event.is_terminal();
            hub.publish(event);
            if terminal {
                return true;
            }
        }
        false
    };
    if publish(sub.replay) {
        return;
    }
    let Some(mut live) = sub.live else {
        // It ended between the lookup and the subscription: its log holds the end.
        publish(local.events_after(hub.last_seq()));
        return;
    };
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = live.recv() => next,
        };
        let done = match next {
            Ok(event) => publish(vec![event]),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                publish(local.events_after(hub.last_seq()))
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => true,
        };
        if done {
            return;
        }
    }
}
