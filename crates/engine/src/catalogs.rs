//! `Catalogs`: the model catalogs, one per route, kept in memory, mirrored to
//! `STATE_ROOT/cache/models-<route>.json`, fresh for a TTL (default 1 h) and refreshed by
//! a background task the service owns (tracked, stopped on drain). Lookups never block on
//! the network except the first time a route's catalog is needed and none was ever fetched
//! (bounded wait); a catalog that cannot be had means "don't know", never "refuse".
//!
//! Depends on the route table and [`Upstreams`] only (never on the engine).

use parking_lot::RwLock;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_openrouter::Catalog;
use ferry_types::{ModelEntry, ModelsView};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::routes::RouteTable;
use crate::upstreams::Upstreams;
use crate::EngineError;

/// Default freshness of a fetched catalog.
pub const DEFAULT_CATALOG_TTL: Duration = Duration::from_secs(3600);
/// How often the background task looks for stale catalogs.
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// After a failed background fetch, wait this long before trying that route again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);
/// Longest wait for a first fetch made on behalf of an input.
const FIRST_FETCH_WAIT: Duration = Duration::from_secs(5);
/// Directory of the cache files inside the state root.
const CACHE_DIR: &str = "cache";

/// Every route's catalog.
pub(crate) struct Catalogs {
    dir: PathBuf,
    ttl: Duration,
    cached: RwLock<foldhash::HashMap<String, Arc<Catalog>>>,
    routes: Arc<RouteTable>,
    upstreams: Arc<Upstreams>,
}

impl Catalogs {
    /// Loads the cache files of the configured routes (any age: a stale catalog is better
    /// than none until the refresh lands).
    pub(crate) fn new(
        state_root: &Path,
        ttl: Duration,
        routes: Arc<RouteTable>,
        upstreams: Arc<Upstreams>,
    ) -> Catalogs {
        let dir = state_root.join(CACHE_DIR);
        let cached = routes
            .file()
            .routes
            .keys()
            .filter_map(|id| {
                Catalog::load(&cache_path(&dir, id)).map(|c| (id.clone(), Arc::new(c)))
            })
            .collect();
        Catalogs {
            dir,
            ttl,
            cached: RwLock::new(cached),
            routes,
            upstreams,
        }
    }

    /// The cached catalog of a route, whatever its age.
    pub(crate) fn get(&self, route: &str) -> Option<Arc<Catalog>> {
        self.cached.read().get(route).cloned()
    }

    fn is_fresh(&self, catalog: &Catalog) -> bool {
        !catalog.is_stale(self.ttl, SystemTime::now())
    }

    /// Fetches the route's catalog (`/models` is public; the key is sent when configured),
    /// stores it in memory and on disk.
    async fn fetch(&self, route: &str) -> Result<Arc<Catalog>, EngineError> {
        let up = self.upstreams.public(self.routes.route(route)?)?;
        let catalog = Arc::new(up.provider.fetch_catalog(&up.key).await?);
        let path = cache_path(&self.dir, route);
        let to_save = Arc::clone(&catalog);
        let saved = tokio::task::spawn_blocking(move || to_save.save(&path)).await;
        if let Ok(Err(e)) | Err(e) = saved.map_err(std::io::Error::other) {
            tracing::warn!(route, error = %e, "cannot write the model catalog cache");
        }
        self.cached
            .write()
            .insert(route.to_owned(), Arc::clone(&catalog));
        Ok(catalog)
    }
}

fn cache_path(dir: &Path, route: &str) -> PathBuf {
    dir.join(format!("models-{route}.json"))
}

/// Filters of the models list.
#[derive(Debug, Clone, Default)]
pub struct ModelsQuery {
    /// Route id (default route when absent).
    pub route: Option<String>,
    /// Only models taking or producing this modality (`image`, `audio`, `file`…).
    pub modality: Option<String>,
    /// Case-insensitive substring of the id or name.
    pub search: Option<String>,
    /// Fetch now even when the cached catalog is fresh.
    pub refresh: bool,
}

impl Catalogs {
    /// The route's catalog for a decision about an input: the cached one (any age), else
    /// one fetch bounded by a short wait; `None` when it cannot be had (callers then do
    /// not refuse anything on its account).
    pub(crate) async fn for_check(&self, route: &str) -> Option<Arc<Catalog>> {
        if let Some(c) = self.get(route) {
            return Some(c);
        }
        match tokio::time::timeout(FIRST_FETCH_WAIT, self.fetch(route)).await {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                tracing::warn!(route, error = %e, "model catalog unavailable; not checking model capabilities");
                None
            }
            Err(_) => {
                tracing::warn!(
                    route,
                    "model catalog fetch is slow; not checking model capabilities"
                );
                None
            }
        }
    }

    /// `GET /v1/models`: the route's catalog (fetched when missing, stale or asked to),
    /// filtered. A failed refresh falls back to the stale copy, saying so.
    pub async fn models(&self, query: &ModelsQuery) -> Result<ModelsView, EngineError> {
        let route = match &query.route {
            Some(r) => self.routes.route(r)?.id.clone(),
            None => self.routes.file().default_route.clone(),
        };
        let (catalog, refresh_error) = match self.get(&route) {
            Some(c) if !query.refresh && self.is_fresh(&c) => (c, None),
            cached => match (self.fetch(&route).await, cached) {
                (Ok(c), _) => (c, None),
                (Err(e), Some(stale)) => (stale, Some(e.to_string())),
                (Err(e), None) => return Err(e),
            },
        };
        let modality = query.modality.as_deref().map(str::to_ascii_lowercase);
        let search = query.search.as_deref().map(str::to_lowercase);
        let models = catalog
            .models()
            .iter()
            .filter(|m| {
                modality
                    .as_deref()
                    .is_none_or(|w| m.accepts(w) || m.outputs(w))
            })
            .filter(|m| {
                search.as_deref().is_none_or(|s| {
                    m.id.to_lowercase().contains(s) || m.name.to_lowercase().contains(s)
                })
            })
            .map(|m| ModelEntry {
                vision: m.accepts_images(),
                image_only: m.is_image_only(),
                reasoning: m.supports_reasoning(),
                id: m.id.clone(),
                name: m.name.clone(),
                context_length: m.context_length,
                input_modalities: m.input_modalities.clone(),
                output_modalities: m.output_modalities.clone(),
                supported_parameters: m.supported_parameters.clone(),
                pricing: m.pricing.clone(),
                max_completion_tokens: m.max_completion_tokens,
            })
            .collect();
        Ok(ModelsView {
            route,
            fetched_at: catalog.fetched_at_unix(),
            stale: !self.is_fresh(&catalog),
            refresh_error,
            models,
        })
    }

    /// Starts the background task that keeps every route's catalog fresh on `tasks`; it
    /// ends when `stop` is cancelled (the engine's drain).
    pub(crate) fn spawn_refresh(self: &Arc<Self>, tasks: &TaskTracker, stop: CancellationToken) {
        let catalogs = Arc::clone(self);
        tasks.spawn(async move {
            let mut not_before: HashMap<String, tokio::time::Instant> = HashMap::new();
            loop {
                let ids: Vec<String> = catalogs.routes.file().routes.keys().cloned().collect();
                for id in ids {
                    let due = catalogs.get(&id).is_none_or(|c| !catalogs.is_fresh(&c));
                    let allowed = not_before
                        .get(&id)
                        .is_none_or(|t| *t <= tokio::time::Instant::now());
                    if !due || !allowed {
                        continue;
                    }
                    let fetched = tokio::select! {
                        _ = stop.cancelled() => return,
                        r = catalogs.fetch(&id) => r,
                    };
                    match fetched {
                        Ok(c) => {
                            tracing::debug!(route = %id, models = c.models().len(), "model catalog refreshed");
                            not_before.remove(&id);
                        }
                        Err(e) => {
                            tracing::warn!(route = %id, error = %e, "cannot refresh the model catalog; will retry");
                            not_before
                                .insert(id, tokio::time::Instant::now() + RETRY_AFTER_FAILURE);
                        }
                    }
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(CHECK_EVERY) => {}
                }
            }
        });
    }
}
