//! Team access (spec §14): who is calling, what they may reach, and what they may spend.
//!
//! One service decides every paid call: [`Engine::authenticate`] turns a presented
//! credential (the operator token or an `fk-…` virtual key) into a [`Caller`];
//! [`Gate::admit`] checks the caller's scope, route and model globs, takes its rate
//! limits and reserves the call's worst-case cost against its budget (see `budget` for
//! the critical section); the returned [`Admission`] is settled with upstream's
//! `usage.cost` when the call ends (stream end, client gone, or error), which writes the
//! call's ledger row and drops its reservation. Media calls (images, speech,
//! speech-to-text, video jobs) are admitted the same way with a worst case priced by their
//! call site (`calls`); a video job, which ends in a background poller, is charged there
//! with [`Gate::charge_key`] while its admission keeps the reservation. The caller of a
//! session run or a media request travels with the task as a task-local
//! ([`with_caller`]), so deep call sites need no extra parameter.

mod answers;
mod budget;
mod calls;
mod gate;
mod keys;
mod limits;
mod manage;
mod price;
mod shared_book;

use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_store::{AccessRepo, LedgerEntry};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::engine::Engine;
use crate::EngineError;

pub use answers::{KeyAnswer, KeyCreated, KeyList};
pub use budget::{usd_to_nanos, usd_to_nanos_ceil, Book, Reservations, ReserveError, Standing};
pub use keys::{secret_hash, KeySettings, Period, Scope, KEY_PREFIX};
pub use limits::{LimitKind, Limited, RateState, Remaining};
pub use manage::{KeyPatch, KeyView, NewKey, SpendQuery};
pub use price::{image_worst_case, input_tokens, video_worst_case, worst_case, Unpriced};
pub use shared_book::SharedBook;

pub(crate) use gate::Gate;
use limits::Limits;

/// A virtual key as the daemon holds it: settings and limiters, never the secret.
#[derive(Debug)]
pub struct KeyState {
    pub id: String,
    pub name: String,
    pub hint: String,
    pub settings: KeySettings,
    expires: Option<OffsetDateTime>,
    limits: Limits,
    pub created_at: String,
    pub updated_at: String,
}

impl KeyState {
    fn from_row(row: ferry_store::KeyRow, settings: KeySettings) -> KeyState {
        KeyState::new(
            row.id,
            row.name,
            row.hint,
            settings,
            row.created_at,
            row.updated_at,
        )
    }

    fn new(
        id: String,
        name: String,
        hint: String,
        settings: KeySettings,
        created_at: String,
        updated_at: String,
    ) -> KeyState {
        KeyState {
            expires: settings.expiry(),
            limits: Limits::new(settings.rpm, settings.tpm),
            id,
            name,
            hint,
            settings,
            created_at,
            updated_at,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The operator token, or anyone on a loopback daemon that requires no credential:
    /// every scope, no limits.
    Operator,
    /// A virtual key.
    Key(Arc<KeyState>),
}

impl Caller {
    /// The key's id, if a key is calling.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Caller::Operator => None,
            Caller::Key(k) => Some(&k.id),
        }
    }

    /// Whether the caller is a key with a rate limit.
    pub fn has_rate_limits(&self) -> bool {
        matches!(self, Caller::Key(k) if k.limits.any())
    }

    /// Whether the caller may use `scope`.
    pub fn allows(&self, scope: Scope) -> bool {
        match self {
            Caller::Operator => true,
            Caller::Key(k) => k.settings.allows_scope(scope),
        }
    }

    /// A 403 unless the caller may use `model` (a wire model id) on `route`.
    pub fn check_target(&self, route: &str, model: &str) -> Result<(), AccessError> {
        let Caller::Key(k) = self else {
            return Ok(());
        };
        let s = &k.settings;
        if !s.allows_route(route) {
            return Err(AccessError::Forbidden {
                code: "route_denied",
                message: format!(
                    "key {} may use routes [{}], not {route}; ask an admin to `ferry keys update {} --route {route}`",
                    k.id, s.routes.join(", "), k.id
                ),
            });
        }
        if !s.allows_model(model) {
            return Err(AccessError::Forbidden {
                code: "model_denied",
                message: format!(
                    "key {} may use models matching [{}], not {model}; pick an allowed model or ask an admin to `ferry keys update {} --model GLOB`",
                    k.id, s.models.join(", "), k.id
                ),
            });
        }
        Ok(())
    }

    /// The model chain this caller may call, its target already checked: all of it for
    /// the operator; for a key, the fallbacks it may use. A fallback the key may not use
    /// is refused when the caller named it (`named`: a session input's `fallbacks`), and
    /// left out when the route's configuration added it (the key never reaches a model
    /// its lists exclude, and the call still goes ahead on the ones they include).
    /// `wire` gives a planned model's wire id.
    pub(crate) fn usable_chain(
        &self,
        mut chain: Vec<crate::input::PlannedModel>,
        named: bool,
        wire: impl Fn(&crate::input::PlannedModel) -> String,
    ) -> Result<Vec<crate::input::PlannedModel>, AccessError> {
        let Caller::Key(_) = self else {
            return Ok(chain);
        };
        let mut kept = 1;
        for i in 1..chain.len() {
            let planned = &chain[i];
            match self.check_target(&planned.route, &wire(planned)) {
                Ok(()) => {
                    chain.swap(kept, i);
                    kept += 1;
                }
                Err(AccessError::Forbidden { code, message }) if named => {
                    return Err(AccessError::Forbidden {
                        code,
                        message: format!(
                            "fallback {}/{}: {message}; or leave it out of `fallbacks`",
                            planned.route, planned.model
                        ),
                    });
                }
                Err(_) => {}
            }
        }
        chain.truncate(kept.min(chain.len()));
        Ok(chain)
    }

    /// A 403 unless the caller has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AccessError> {
        match self {
            Caller::Key(k) if !self.allows(scope) => Err(AccessError::Forbidden {
                code: "scope_denied",
                message: format!(
                    "key {} ({}) has scopes [{}] and this needs the {} scope; ask an admin to `ferry keys update {} --scope {}`",
                    k.id,
                    k.name,
                    k.settings.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                    scope.as_str(),
                    k.id,
                    scope.as_str()
                ),
            }),
            _ => Ok(()),
        }
    }
}

tokio::task_local! {
    static CALLER: Caller;
}

tokio::task_local! {
    static RATE: std::cell::Cell<Option<RateState>>;
}

/// Runs `fut` (one request) and returns, with its output, what was left of the caller's
/// rate limits when the request was admitted (`None`: no limited call was admitted), for
/// the `x-ratelimit-*` headers of its response.
///
/// A plain future rather than an `async fn` around an `async` block: those would hold
/// `fut` three times over (argument, captured, awaited), and the front door's future, which
/// holds this one whether or not the caller has rate limits, is copied at every move.
pub fn with_rate_report<F: std::future::Future>(
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<std::cell::Cell<Option<RateState>>, RateReport<F>> {
    RATE.scope(std::cell::Cell::new(None), RateReport { fut })
}

pin_project_lite::pin_project! {
    /// [`with_rate_report`]'s request: its output, with the rate state read inside the
    /// scope as it completes.
    pub struct RateReport<F> {
        #[pin]
        fut: F,
    }
}

impl<F: std::future::Future> std::future::Future for RateReport<F> {
    type Output = (F::Output, Option<RateState>);

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let out = std::task::ready!(self.project().fut.poll(cx));
        std::task::Poll::Ready((out, RATE.with(std::cell::Cell::get)))
    }
}

/// Runs `fut` with `caller` as the caller of every paid call it makes.
///
/// Not an `async fn`: one would hold `fut` twice (as its argument and inside the scope it
/// awaits), doubling the size of every future that awaits it — a session run's turn is
/// kilobytes, copied at each move.
pub fn with_caller<F: std::future::Future>(
    caller: Caller,
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<Caller, F> {
    CALLER.scope(caller, fut)
}

/// The caller of the current task ([`with_caller`]); the operator when none was set.
pub fn current_caller() -> Caller {
    CALLER.try_with(Clone::clone).unwrap_or(Caller::Operator)
}

/// A refusal of the access layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccessError {
    /// No credential, or one that is unknown, revoked or expired (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this (403).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The key's budget cannot cover the call (402).
    #[error("{0}")]
    BudgetExceeded(String),
    /// A rate limit refused the call (429).
    #[error("{message}")]
    RateLimited { message: String, limited: Limited },
    /// The key has a budget and the call cannot be priced (400).
    #[error("{0}")]
    Unpriced(String),
}

impl AccessError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            AccessError::Unauthorized(_) => 401,
            AccessError::Forbidden { .. } => 403,
            AccessError::BudgetExceeded(_) => 402,
            AccessError::RateLimited { .. } => 429,
            AccessError::Unpriced(_) => 400,
        }
    }

    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            AccessError::Unauthorized(_) => "unauthorized",
            AccessError::Forbidden { code, .. } => code,
            AccessError::BudgetExceeded(_) => "budget_exceeded",
            AccessError::RateLimited { .. } => "rate_limited",
            AccessError::Unpriced(_) => "budget_unpriced_model",
        }
    }

    /// The rate limit that refused, for the `Retry-After` and `x-ratelimit-*` headers.
    pub fn limited(&self) -> Option<&Limited> {
        match self {
            AccessError::RateLimited { limited, .. } => Some(limited),
            _ => None,
        }
    }
}

/// How often a replica on a shared database re-reads the keys (so a key created, changed
/// or revoked on another replica takes effect here within this long).
pub const KEY_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// The keys, the operator token and the budget reservations.
pub(crate) struct Access {
    operator: RwLock<Option<Arc<Zeroizing<String>>>>,
    require_keys: std::sync::atomic::AtomicBool,
    /// Live keys by the SHA-256 of their secret (foldhash: only an admin adds entries, so
    /// a caller choosing secrets can make lookups miss but never fill a bucket).
    by_hash: RwLock<foldhash::HashMap<[u8; 32], Arc<KeyState>>>,
    revoked: RwLock<foldhash::HashMap<[u8; 32], String>>,
    book: Arc<dyn Reservations>,
    /// The rate-limit cells shared by replicas (`None`: each key's in-memory limiters).
    rates: Option<Arc<dyn ferry_store::RateRepo>>,
}

fn usd(nanos: i64) -> String {
    format!("${:.6}", ferry_store::nanos_to_usd(nanos))
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

impl Access {
    /// Loads the keys and their spend in the current period into `book`. Open
    /// reservations are kept only in memory, so none survive a daemon that died; rows an
    /// older ferry wrote to disk are released here.
    pub(crate) async fn load(
        store: &dyn AccessRepo,
        book: Arc<dyn Reservations>,
    ) -> Result<Access, EngineError> {
        let released = store.release_all_reservations().await?;
        if !released.is_empty() {
            let total: i64 = released.iter().map(|r| r.amount_nanos).sum();
            tracing::warn!(
                reservations = released.len(),
                amount = %usd(total),
                "released budget reservations an older ferry left on disk; their upstream cost (if any) is not in the ledger"
            );
        }
        let access = Access {
            operator: RwLock::new(None),
            require_keys: Default::default(),
            by_hash: RwLock::default(),
            revoked: RwLock::default(),
            book,
            rates: store.shared_rates(),
        };
        let now = OffsetDateTime::now_utc();
        let mut since = Vec::new();
        for row in store.list_keys().await? {
            let settings = settings_of(&row)?;
            let hash = parse_hash(&row.secret_hash)?;
            if row.revoked_at.is_some() {
                access.revoked.write().insert(hash, row.id);
                continue;
            }
            if settings.budget_usd.is_some() {
                since.push((row.id.clone(), settings.period.start(now)));
            }
            access
                .by_hash
                .write()
                .insert(hash, Arc::new(KeyState::from_row(row, settings)));
        }
        let periods: HashMap<String, Period> = access
            .by_hash
            .read()
            .values()
            .map(|k| (k.id.clone(), k.settings.period))
            .collect();
        for (id, spent) in store.key_spend_since(since).await? {
            if let Some(p) = periods.get(&id) {
                access.book.load(&id, *p, spent, now);
            }
        }
        Ok(access)
    }

    /// Reads the keys again from `store`: keys created, changed or revoked by another
    /// replica take effect here. A key this replica knows keeps its state (rate-limit
    /// windows) unless its row changed; a key missing from the rows (created here after
    /// they were read) stays.
    pub(crate) async fn refresh(&self, store: &dyn AccessRepo) -> Result<(), EngineError> {
        let rows = store.list_keys().await?;
        let mut live = foldhash::HashMap::<[u8; 32], Arc<KeyState>>::default();
        live.reserve(rows.len());
        let mut revoked = foldhash::HashMap::<[u8; 32], String>::default();
        {
            let current = self.by_hash.read();
            for row in rows {
                let hash = parse_hash(&row.secret_hash)?;
                if row.revoked_at.is_some() {
                    revoked.insert(hash, row.id);
                    continue;
                }
                let known = current
                    .get(&hash)
                    .filter(|k| k.updated_at == row.updated_at)
                    .cloned();
                let state = match known {
                    Some(k) => k,
                    None => {
                        let settings = settings_of(&row)?;
                        Arc::new(KeyState::from_row(row, settings))
                    }
                };
                live.insert(hash, state);
            }
            for (hash, k) in current.iter() {
                if !live.contains_key(hash) && !revoked.contains_key(hash) {
                    live.insert(*hash, Arc::clone(k));
                }
            }
        }
        *self.by_hash.write() = live;
        *self.revoked.write() = revoked;
        Ok(())
    }

    /// On a database shared by replicas, re-reads the keys every [`KEY_REFRESH`] until
    /// `stop` (the engine's drain).
    pub(crate) fn spawn_refresh(
        self: &Arc<Self>,
        store: Arc<dyn ferry_store::Storage>,
        tasks: &tokio_util::task::TaskTracker,
        stop: tokio_util::sync::CancellationToken,
    ) {
        if !store.shared_by_replicas() {
            return;
        }
        let access = Arc::clone(self);
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(KEY_REFRESH) => {}
                }
                if let Err(e) = access.refresh(store.as_ref()).await {
                    tracing::warn!(error = %e, "could not re-read the keys from the shared database");
                }
            }
        });
    }

    /// Takes one request and `tokens` tokens from `k`'s limits: from the cells shared by
    /// the replicas on a shared database, else from the key's in-memory limiters.
    pub(crate) async fn check_rates(
        &self,
        k: &KeyState,
        tokens: u64,
    ) -> Result<Result<limits::RateState, limits::Limited>, EngineError> {
        let Some(rates) = &self.rates else {
            return Ok(k.limits.check(tokens));
        };
        let s = &k.settings;
        let mut takes = Vec::with_capacity(2);
        let mut kinds = Vec::with_capacity(2);
        if let Some(rpm) = s.rpm.filter(|n| *n > 0) {
            takes.push(ferry_store::RateTake {
                kind: LimitKind::Requests.as_str(),
                per_minute: rpm,
                units: 1,
            });
            kinds.push(LimitKind::Requests);
        }
        if let Some(tpm) = s.tpm.filter(|n| *n > 0) {
            takes.push(ferry_store::RateTake {
                kind: LimitKind::Tokens.as_str(),
                per_minute: tpm,
                units: u32::try_from(tokens.max(1)).unwrap_or(u32::MAX),
            });
            kinds.push(LimitKind::Tokens);
        }
        if takes.is_empty() {
            return Ok(Ok(limits::RateState::default()));
        }
        Ok(match rates.take_rates(&k.id, &takes).await? {
            Ok(left) => {
                let mut state = limits::RateState::default();
                for ((take, kind), l) in takes.iter().zip(&kinds).zip(left) {
                    let remaining = Some(limits::Remaining {
                        kind: *kind,
                        limit: take.per_minute,
                        remaining: l.remaining,
                        reset: l.reset,
                    });
                    match kind {
                        LimitKind::Requests => state.requests = remaining,
                        LimitKind::Tokens => state.tokens = remaining,
                    }
                }
                Ok(state)
            }
            Err(refused) => {
                let take = takes[refused.index];
                Err(limits::Limited {
                    kind: kinds[refused.index],
                    limit: take.per_minute,
                    remaining: if refused.too_large {
                        take.per_minute
                    } else {
                        0
                    },
                    retry_after: refused.retry_after,
                    too_large: refused.too_large,
                })
            }
        })
    }

    /// Writes what the budget book still has queued (at shutdown, before the store
    /// closes).
    pub(crate) async fn close(&self) {
        self.book.close().await;
    }

    fn find(&self, id: &str) -> Option<([u8; 32], Arc<KeyState>)> {
        self.by_hash
            .read()
            .iter()
            .find(|(_, k)| k.id == id)
            .map(|(h, k)| (*h, Arc::clone(k)))
    }
}

/// A stored key's settings.
fn settings_of(row: &ferry_store::KeyRow) -> Result<KeySettings, EngineError> {
    serde_json::from_value(row.settings.clone())
        .map_err(|e| EngineError::Internal(format!("key {} settings: {e}", row.id)))
}

fn parse_hash(hex: &str) -> Result<[u8; 32], EngineError> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return Err(EngineError::Internal(
            "stored key hash is not 64 hex digits".into(),
        ));
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| EngineError::Internal("stored key hash is not hex".into()))?;
    }
    Ok(out)
}

/// What one paid call is about to do, for [`Engine::admit`].
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// `facade`, `session`, `media`, `stt`…
    pub kind: &'static str,
    /// The route of the asked-for model.
    pub route: String,
    /// The (route, wire model) pairs it may call: the asked-for model first, then its
    /// fallbacks.
    pub models: Vec<(String, String)>,
    /// Size of the request (its input estimate is derived from it).
    pub input_bytes: usize,
    /// The request's `max_tokens`, if any.
    pub max_tokens: Option<u64>,
    /// A media call's worst case in USD, priced by its call site (or why it cannot be
    /// priced); `None` for a text call, priced from the catalog by `models`.
    pub priced: Option<Result<f64, Unpriced>>,
}

/// What a settled call cost.
#[derive(Debug, Clone, Default)]
pub struct Spent {
    /// The model that answered (else the admitted one).
    pub model: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Upstream's `usage.cost`.
    pub cost: Option<f64>,
    pub generation_id: Option<String>,
    pub run_id: Option<String>,
}

/// An admitted call. Settle it with what it cost, or release it when nothing was paid;
/// dropping it releases it.
pub struct Admission {
    gate: Arc<Gate>,
    key: Option<Arc<KeyState>>,
    kind: &'static str,
    route: String,
    model: String,
    /// The reserved worst case, nano-USD.
    reservation: Option<i64>,
    done: bool,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("key", &self.key.as_ref().map(|k| &k.id))
            .field("route", &self.route)
            .field("reservation", &self.reservation)
            .finish_non_exhaustive()
    }
}

impl Admission {
    /// The virtual key, if one is calling.
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.id.as_str())
    }

    /// The call is over and cost `spent`: writes its ledger row, charges the key (the
    /// reservation when upstream reported no cost) and ends the reservation.
    pub fn settle(mut self, spent: Spent) {
        self.done = true;
        let reserved = self.reservation.take().unwrap_or(0);
        let (cost_nanos, estimated) = match spent.cost.filter(|c| c.is_finite() && *c >= 0.0) {
            Some(c) => (usd_to_nanos(c), false),
            None => (reserved, reserved > 0),
        };
        if let Some(k) = &self.key {
            if k.settings.budget_usd.is_some() {
                self.gate.access.book.settle(
                    &k.id,
                    k.settings.period,
                    reserved,
                    cost_nanos,
                    OffsetDateTime::now_utc(),
                );
            }
        }
        let entry = LedgerEntry {
            key_id: self.key.as_ref().map(|k| k.id.clone()),
            route: std::mem::take(&mut self.route),
            model: spent
                .model
                .unwrap_or_else(|| std::mem::take(&mut self.model)),
            kind: self.kind.to_owned(),
            prompt_tokens: spent.prompt_tokens,
            completion_tokens: spent.completion_tokens,
            cost: spent.cost,
            cost_nanos,
            estimated,
            generation_id: spent.generation_id,
            run_id: spent.run_id,
        };
        self.gate.record_spend(entry);
    }

    /// Nothing was paid (the call failed before any output): ends the reservation.
    pub fn release(mut self) {
        self.release_inner();
    }

    fn release_inner(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if let (Some(k), Some(amount)) = (&self.key, self.reservation.take()) {
            self.gate.access.book.settle(
                &k.id,
                k.settings.period,
                amount,
                0,
                OffsetDateTime::now_utc(),
            );
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.release_inner();
    }
}

impl Engine {
    pub(crate) fn access(&self) -> &Access {
        &self.inner.access
    }

    /// Sets the operator token (it has every scope) and whether a credential is required
    /// even on loopback (`serve --require-keys`, and always with a token).
    pub fn configure_access(&self, operator: Option<Zeroizing<String>>, require_keys: bool) {
        let a = self.access();
        *a.operator.write() = operator.map(Arc::new);
        a.require_keys
            .store(require_keys, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether requests without a credential are refused.
    pub fn credentials_required(&self) -> bool {
        let a = self.access();
        a.require_keys.load(std::sync::atomic::Ordering::Relaxed) || a.operator.read().is_some()
    }

    /// Who presents `credential` (the operator token or an `fk-…` key); `None` is no
    /// credential at all.
    pub fn authenticate(&self, credential: Option<&str>) -> Result<Caller, AccessError> {
        let a = self.access();
        let Some(presented) = credential.map(str::trim).filter(|c| !c.is_empty()) else {
            return if self.credentials_required() {
                Err(AccessError::Unauthorized(
                    "this ferry requires a credential: send `Authorization: Bearer <token or fk-… key>` (or, on /anthropic, `x-api-key`); operators pass --token/--token-file or FERRY_TOKEN".into(),
                ))
            } else {
                Ok(Caller::Operator)
            };
        };
        if presented.starts_with(KEY_PREFIX) {
            return self.authenticate_key_hash(&keys::secret_hash(presented));
        }
        let operator = a.operator.read().clone();
        match operator {
            Some(token) if bool::from(token.as_bytes().ct_eq(presented.as_bytes())) => {
                Ok(Caller::Operator)
            }
            Some(_) => Err(AccessError::Unauthorized(
                "the credential sent (Bearer token or x-api-key) was not accepted: check --token/--token-file or FERRY_TOKEN/FERRY_TOKEN_FILE, or use an fk-… key".into(),
            )),
            // An open loopback daemon: whatever an SDK sends as its api_key is the
            // operator (it is never forwarded); only fk-… keys are looked at.
            None if !self.credentials_required() => Ok(Caller::Operator),
            None => Err(AccessError::Unauthorized(
                "this ferry requires an fk-… key (--require-keys) and has no operator token; ask an admin for a key".into(),
            )),
        }
    }

    /// The key whose secret has this SHA-256 (what [`Engine::authenticate`] looks up for an
    /// `fk-…` credential; the console's sign-in sessions keep only the hash, so a key
    /// revoked or expired after sign-in stops working at once).
    pub fn authenticate_key_hash(&self, hash: &[u8; 32]) -> Result<Caller, AccessError> {
        let a = self.access();
        let found = a.by_hash.read().get(hash).cloned();
        match found {
            Some(k) => match k.expires {
                Some(at) if at <= OffsetDateTime::now_utc() => Err(AccessError::Unauthorized(format!(
                    "key {} ({}) expired at {}; ask an admin for a new key or `ferry keys update {} --expires-in …`",
                    k.id, k.name, k.settings.expires_at.as_deref().unwrap_or("?"), k.id
                ))),
                _ => Ok(Caller::Key(k)),
            },
            None => match a.revoked.read().get(hash) {
                Some(id) => Err(AccessError::Unauthorized(format!(
                    "key {id} was revoked; ask an admin for a new key"
                ))),
                None => Err(AccessError::Unauthorized(
                    "the fk-… key is not known to this ferry; check for a typo or ask an admin for a key (`ferry keys create`)".into(),
                )),
            },
        }
    }

    /// Admits one paid call for `caller` ([`Gate::admit`]).
    pub async fn admit(&self, caller: &Caller, spec: CallSpec) -> Result<Admission, EngineError> {
        self.inner.gate.admit(caller, spec).await
    }

    /// A key's standing in its current period, for views.
    pub(crate) fn standing(&self, k: &KeyState) -> Standing {
        self.access()
            .book
            .standing(&k.id, k.settings.period, OffsetDateTime::now_utc())
    }
}

/// Seconds to wait before a retry, rounded up, at least 1.
pub fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(settings: KeySettings) -> Caller {
        Caller::Key(Arc::new(KeyState::new(
            "key_1".into(),
            "k".into(),
            "fk-…abcd".into(),
            settings,
            String::new(),
            String::new(),
        )))
    }

    fn settings(scopes: Vec<Scope>) -> KeySettings {
        KeySettings {
            scopes,
            routes: vec!["openrouter".into()],
            models: vec!["anthropic/*".into()],
            budget_usd: None,
            period: Period::Month,
            rpm: None,
            tpm: None,
            expires_at: None,
            upstream: None,
        }
    }

    #[test]
    fn scopes_routes_and_globs_are_checked_for_keys_only() {
        let facade = key(settings(vec![Scope::Facade]));
        assert!(facade.require(Scope::Facade).is_ok());
        let denied = facade.require(Scope::Sessions).unwrap_err();
        assert_eq!((denied.status(), denied.code()), (403, "scope_denied"));
        assert!(key(settings(vec![Scope::Admin]))
            .require(Scope::Sessions)
            .is_ok());
        assert!(facade
            .check_target("openrouter", "anthropic/claude-sonnet-4-5")
            .is_ok());
        let m = facade
            .check_target("openrouter", "openai/gpt-5.4-mini")
            .unwrap_err();
        assert_eq!(m.code(), "model_denied");
        let r = facade
            .check_target("other", "anthropic/claude-sonnet-4-5")
            .unwrap_err();
        assert_eq!(r.code(), "route_denied");
        assert!(Caller::Operator.check_target("x", "y").is_ok());
        assert!(Caller::Operator.require(Scope::Admin).is_ok());
    }

    #[test]
    fn refusals_map_to_their_statuses() {
        assert_eq!(AccessError::Unauthorized(String::new()).status(), 401);
        assert_eq!(
            AccessError::BudgetExceeded(String::new()).code(),
            "budget_exceeded"
        );
        assert_eq!(AccessError::BudgetExceeded(String::new()).status(), 402);
        assert_eq!(AccessError::Unpriced(String::new()).status(), 400);
        let limited = AccessError::RateLimited {
            message: String::new(),
            limited: Limited {
                kind: LimitKind::Requests,
                limit: 1,
                remaining: 0,
                retry_after: Duration::from_millis(1500),
                too_large: false,
            },
        };
        assert_eq!((limited.status(), limited.code()), (429, "rate_limited"));
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
