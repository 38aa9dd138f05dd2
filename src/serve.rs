//! `ferry serve`: takes the state-root lock, opens the secret store with the master key,
//! loads routes.toml (or the built-in default route), binds the port, opens SQLite, starts the engine and the HTTP API, and shuts down
//! gracefully on SIGINT/SIGTERM (`/readyz` answers 503 while draining).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferry_api::{AuthConfig, BrowserPolicy};
use ferry_engine::{Engine, EngineConfig, SecretsHandle};
use ferry_openrouter::RetryPolicy;
use ferry_secrets::MasterKey;
use ferry_store::{Storage, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{GlobalArgs, LogFormat, ServeArgs};
use crate::client::{serve_token, CliError};
use crate::routes_source::RoutesSource;

/// The secret store's "no master key" error, naming the key file `onboard` writes.
/// The database: PostgreSQL when `--database-url` names one, else the embedded SQLite
/// database in the state root.
async fn open_storage(args: &ServeArgs) -> Result<Arc<dyn Storage>, CliError> {
    match args.database_url.as_deref() {
        None => {
            let store = Store::open(&args.state_root).map_err(|e| CliError::fail(e.to_string()))?;
            Ok(Arc::new(store))
        }
        Some(url) if ferry_store_pg::is_postgres_url(url) => {
            let store = ferry_store_pg::PgStore::connect(url)
                .await
                .map_err(|e| CliError::fail(e.to_string()))?;
            tracing::info!(database = %ferry_store_pg::redact_url(url), "using PostgreSQL");
            Ok(Arc::new(store))
        }
        Some(other) => Err(CliError::usage(format!(
            "--database-url {} is not a PostgreSQL URL: give postgres://user:password@host:5432/database, \
             or leave it unset to keep the embedded SQLite database in the state root",
            ferry_store_pg::redact_url(other)
        ))),
    }
}

fn no_master_key_hint(e: ferry_secrets::SecretsError, state_root: &Path) -> String {
    match e {
        ferry_secrets::SecretsError::NoMasterKey => format!(
            "{e}; {} holds encrypted secrets: set FERRY_MASTER_KEY_FILE to the key file `ferry onboard` wrote \
             (ferry-master.key next to routes.toml), or FERRY_MASTER_KEY to the key itself",
            state_root.display()
        ),
        other => other.to_string(),
    }
}
fn shared_secrets_hint(e: ferry_engine::SecretsWriteError) -> String {
    match e {
        ferry_engine::SecretsWriteError::Secrets(ferry_secrets::SecretsError::NoMasterKey) => format!(
            "{e}; the shared database holds the replicas' encrypted secrets: give this replica the same \
             FERRY_MASTER_KEY_FILE (or FERRY_MASTER_KEY) as the others"
        ),
        ferry_engine::SecretsWriteError::Secrets(ferry_secrets::SecretsError::WrongMasterKey) => format!(
            "{e}; every replica on one database needs the master key the shared secret store was sealed with"
        ),
        other => format!("cannot open the shared secret store: {other}"),
    }
}
use crate::server::{self, Limits};

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a terminal: a file or pipe gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Binds the listen address; "address in use" says what to look for and how to move.
async fn bind(addr: SocketAddr) -> Result<TcpListener, CliError> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            CliError::fail(format!(
                "cannot listen on {addr}: the port is already in use, probably by another `ferry serve` \
                 (find the process with `ss -ltnp 'sport = :{port}'` or `lsof -i :{port}`); \
                 stop it, or pass --bind 127.0.0.1:PORT (env FERRY_BIND) to use another port",
                port = addr.port()
            ))
        } else {
            CliError::fail(format!("cannot listen on {addr}: {e}"))
        }
    })
}

/// Runs the daemon until a shutdown signal.
pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> Result<(), CliError> {
    init_logging(args.log_format);
    let addr: SocketAddr = args.bind.parse().map_err(|_| {
        CliError::usage(format!(
            "--bind {} is not an address like 127.0.0.1:4000",
            args.bind
        ))
    })?;
    let token = serve_token(global)?;
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(CliError::usage(format!(
            "refusing to listen on {addr} without a token: a non-loopback bind exposes your routes and keys to the network. \
             Pass --token-file FILE (or set FERRY_TOKEN_FILE / FERRY_TOKEN), or bind to 127.0.0.1"
        )));
    }
    let browser = BrowserPolicy::new(&args.allowed_hosts, &args.allowed_origins)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let lock = crate::state_root::lock(&args.state_root, crate::state_root::Warn::Log)?;
    let key = MasterKey::from_env().map_err(|e| CliError::fail(e.to_string()))?;
    // Alone, the secret store is the state root's file, checked before anything else;
    // on a shared database it is opened from there once the database is connected.
    let mut secrets = match args.database_url {
        None => Some(
            SecretsHandle::open(args.state_root.clone(), key.as_ref())
                .map_err(|e| CliError::fail(no_master_key_hint(e, &args.state_root)))?,
        ),
        Some(_) => None,
    };
    let (routes, source) = crate::routes_source::load(args.routes_file.as_deref())
        .map_err(|e| CliError::usage(e.to_string()))?;
    if source == RoutesSource::Builtin {
        tracing::info!("{}", crate::routes_source::builtin_notice(&routes));
    }
    if !args.workspace_root.is_dir() {
        return Err(CliError::usage(format!(
            "--workspace-root {} is not a directory; create it or point it at your project",
            args.workspace_root.display()
        )));
    }
    // Bind before touching the database: a busy port must not migrate anything first.
    let listener = bind(addr).await?;
    let traces = match &args.otlp_endpoint {
        Some(endpoint) => {
            let traces = ferry_telemetry::Traces::start(endpoint, reqwest::Client::new())
                .map_err(|e| CliError::usage(e.to_string()))?;
            tracing::info!(
                endpoint = %ferry_telemetry::traces_url(endpoint).unwrap_or_default(),
                "exporting OpenTelemetry traces over OTLP/HTTP"
            );
            Some(Arc::new(traces))
        }
        None => None,
    };
    let asset_blobs =
        crate::asset_store::open(args.asset_store.as_deref(), &args.state_root).await?;
    let store = open_storage(args).await?;
    let secrets = match (secrets.take(), store.shared_secrets()) {
        (Some(file), _) => file,
        (None, Some(repo)) => SecretsHandle::open_shared(repo, key.as_ref(), &args.state_root)
            .await
            .map_err(|e| CliError::fail(shared_secrets_hint(e)))?,
        (None, None) => SecretsHandle::open(args.state_root.clone(), key.as_ref())
            .map_err(|e| CliError::fail(no_master_key_hint(e, &args.state_root)))?,
    };
    drop(key);
    let config = EngineConfig {
        asset_blobs,
        workspace_root: args.workspace_root.clone(),
        max_asset_bytes: args.max_asset_bytes,
        reconcile_cost: args.reconcile_cost,
        probe_interval: Duration::from_millis(args.upstream_probe_ms),
        traces: traces.clone(),
        // The flag (0 = keep everything) overrides routes.toml's `retention_days`.
        retention_days: args.retention_days.or(routes.retention_days),
        ..EngineConfig::new(&args.state_root)
    };
    let (engine, recovered) = Engine::start(routes, store, secrets, RetryPolicy::default(), config)
        .await
        .map_err(|e| CliError::fail(e.to_string()))?;
    engine.set_facade_recording(args.record_facade_runs);
    for run in &recovered {
        tracing::warn!(run = %run.id, session = %run.session_id, "run was in flight when ferry stopped; marked interrupted");
    }
    for route in engine.routes().statuses(engine.secrets()) {
        if route.ready {
            tracing::info!(route = %route.id, model = %route.default_model, "route ready");
        } else {
            tracing::warn!(route = %route.id, reason = route.reason.as_deref().unwrap_or(""), fix = route.fix.as_deref().unwrap_or(""), "route not ready");
        }
    }
    let auth = match token {
        Some(t) => AuthConfig::bearer(t),
        None => AuthConfig::open(),
    }
    .require_keys(args.require_keys || !addr.ip().is_loopback())
    .console_session_ttl(Duration::from_secs(args.console_session_ttl));
    let app = ferry_api::router(engine.clone(), auth, browser);
    // Building the engine and the router freed a few MB this thread will not reuse.
    crate::memory::return_freed();
    let local = listener
        .local_addr()
        .map_err(|e| CliError::fail(e.to_string()))?;
    tracing::info!(%local, state_root = %args.state_root.display(), runtime = %runtime_threads(), "ferry listening on http://{local}");

    let grace = Duration::from_millis(args.shutdown_grace_ms);
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; draining");
        signal.cancel();
    });
    let drain_engine = engine.clone();
    let drained = async move {
        drain_engine.drain(grace).await;
    };
    let limits = Limits {
        header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
        body_read_timeout: Duration::from_millis(args.body_read_timeout_ms),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
    };
    let memory = tokio::spawn(crate::memory::return_freed_when_quiet(shutdown.clone()));
    let serving = server::serve(listener, app, limits, shutdown.clone(), drained);
    serving.await;
    shutdown.cancel();
    let _ = memory.await;
    engine.close().await;
    if let Some(traces) = traces {
        // Sends the buffered spans; the exporter's requests run on this runtime.
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    drop(lock);
    tracing::info!("ferry stopped");
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The async runtime's threads, as the listening line reports them: `one thread` (the
/// current-thread scheduler, on one CPU: `main.rs`) or `N workers`.
fn runtime_threads() -> String {
    let handle = tokio::runtime::Handle::current();
    match handle.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => "one thread".to_owned(),
        _ => match handle.metrics().num_workers() {
            1 => "1 worker".to_owned(),
            n => format!("{n} workers"),
        },
    }
}
