//! `ferry doctor`: checks what a daemon needs — the routes file, the master key, the
//! secret store and each route's key, the bind/auth posture of a running daemon, and
//! whether each route's upstream answers with its key — and says how to fix each
//! problem. Exits 1 when any check fails (warnings alone exit 0). Checks run in the
//! doctor's own environment; a daemon's readiness is also asked of the daemon itself.

use std::path::Path;
use std::time::Duration;

use ferry_config::RoutesFile;
use ferry_engine::{RouteTable, SecretsHandle};
use ferry_secrets::{MasterKey, SecretStore};
use ferry_types::StatusView;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};

use crate::answer::typed;
use crate::cli::{DoctorArgs, GlobalArgs};
use crate::client::{ApiClient, CliError};
use crate::render::print_json;
use crate::routes_source::RoutesSource;

/// How long one upstream check may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding.
#[derive(Debug, Serialize)]
struct Check {
    check: String,
    level: Level,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, check: &str, level: Level, detail: impl Into<String>, fix: Option<String>) {
        self.0.push(Check {
            check: check.to_string(),
            level,
            detail: detail.into(),
            fix,
        });
    }
    fn ok(&mut self, check: &str, detail: impl Into<String>) {
        self.add(check, Level::Ok, detail, None);
    }
    fn warn(&mut self, check: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Level::Warn, detail, Some(fix.into()));
    }
    fn fail(&mut self, check: &str, detail: impl Into<String>, fix: impl Into<String>) {
        self.add(check, Level::Fail, detail, Some(fix.into()));
    }
}

/// Runs `ferry doctor`.
pub async fn run(g: &GlobalArgs, args: &DoctorArgs) -> Result<(), CliError> {
    let mut report = Report::default();
    let routes = check_routes_file(args.routes_file.as_deref(), &mut report);
    let secrets = match &args.database_url {
        Some(url) => check_shared_secrets(url, &mut report).await,
        None => check_master_key(&args.state_root, routes.as_ref(), &mut report),
    };
    if let Some(routes) = &routes {
        let table = RouteTable::new(routes.clone(), &tokio_util::task::TaskTracker::new());
        if let Some(secrets) = &secrets {
            check_routes(&table, secrets, &mut report);
            if !args.offline {
                check_upstreams(&table, secrets, &mut report).await;
            }
        }
    }
    check_daemon(g, &mut report).await;

    let problems = report.0.iter().filter(|c| c.level == Level::Fail).count();
    if g.json {
        print_json(&json!({"checks": report.0, "problems": problems}));
    } else {
        for c in &report.0 {
            let tag = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            println!("{tag}  {}: {}", c.check, c.detail);
            if let Some(fix) = &c.fix {
                println!("      fix: {fix}");
            }
        }
        match problems {
            0 => println!("no problems found"),
            1 => println!("1 problem found"),
            n => println!("{n} problems found"),
        }
    }
    if problems > 0 {
        return Err(CliError {
            message: format!(
                "ferry doctor found {problems} problem(s); each is listed with its fix above"
            ),
            exit: 1,
            problem: None,
        });
    }
    Ok(())
}

fn check_routes_file(path: Option<&Path>, report: &mut Report) -> Option<RoutesFile> {
    match crate::routes_source::load(path) {
        Ok((routes, RoutesSource::File(path))) => {
            report.ok(
                "routes file",
                format!(
                    "{}: {} route(s) ({}), default {}",
                    path.display(),
                    routes.routes.len(),
                    routes.route_ids().join(", "),
                    routes.default_route
                ),
            );
            Some(routes)
        }
        Ok((routes, RoutesSource::Builtin)) => {
            report.ok("routes file", crate::routes_source::builtin_notice(&routes));
            Some(routes)
        }
        Err(e) => {
            let fix = match path {
                Some(p) if !p.exists() => format!("create it with `ferry onboard` (or `cp routes.example.toml {}`), or leave --routes-file / FERRY_ROUTES_FILE unset to use ./routes.toml or the built-in route", p.display()),
                _ => "correct the file as the message says (docs/routes.md lists every key)".to_string(),
            };
            report.fail("routes file", e.to_string(), fix);
            None
        }
    }
}

/// The master key from the environment (`None` inside when none is set); `None` when it
/// cannot be read, which is reported.
fn env_master_key(report: &mut Report) -> Option<Option<MasterKey>> {
    match MasterKey::from_env() {
        Ok(key) => Some(key),
        Err(e) => {
            report.fail(
                "master key",
                e.to_string(),
                "set exactly one of FERRY_MASTER_KEY or FERRY_MASTER_KEY_FILE to the key (`ferry secrets generate` makes one)",
            );
            None
        }
    }
}

/// Checks the master key against the secret store the replicas share in the database at
/// `url` (read without migrating or joining it); returns a read-only copy of it.
async fn check_shared_secrets(url: &str, report: &mut Report) -> Option<SecretsHandle> {
    let shown = ferry_store_pg::redact_url(url);
    if !ferry_store_pg::is_postgres_url(url) {
        report.fail(
            "database",
            format!("{shown} is not a PostgreSQL URL"),
            "give --database-url (or FERRY_DATABASE_URL) as postgres://user:password@host:5432/database",
        );
        return None;
    }
    let key = env_master_key(report)?;
    let doc = match ferry_store_pg::read_shared_secrets(url).await {
        Ok(doc) => doc,
        Err(e) => {
            report.fail(
                "database",
                e.to_string(),
                "check --database-url (or FERRY_DATABASE_URL) and that the server is running",
            );
            return None;
        }
    };
    let origin = format!("{shown} {}", ferry_store::SHARED_SECRETS_ORIGIN);
    match (doc, key) {
        (None, _) => {
            report.warn(
                "master key",
                format!("{shown} holds no secret store yet"),
                "start a replica with the master key (it creates the store), then `ferry secrets set …` through it",
            );
            Some(SecretsHandle::snapshot(None, &origin))
        }
        (Some(_), None) => {
            report.fail(
                "master key",
                format!("{shown} holds the replicas' encrypted secrets but neither FERRY_MASTER_KEY nor FERRY_MASTER_KEY_FILE is set"),
                "export FERRY_MASTER_KEY_FILE=/path/to/the/key the replicas use",
            );
            None
        }
        (Some(doc), Some(key)) => match SecretStore::open_document(&origin, doc, &key) {
            Ok(store) => {
                report.ok(
                    "master key",
                    format!(
                        "opens the shared secret store of {shown} ({} secret(s))",
                        store.len()
                    ),
                );
                Some(SecretsHandle::snapshot(Some(store), &origin))
            }
            Err(e) => {
                report.fail(
                    "master key",
                    e.to_string(),
                    "use the master key the replicas' secret store was sealed with",
                );
                None
            }
        },
    }
}

/// Checks the master key against the store; returns the opened store (or an empty,
/// locked handle when there is neither key nor store).
fn check_master_key(
    state_root: &Path,
    routes: Option<&RoutesFile>,
    report: &mut Report,
) -> Option<SecretsHandle> {
    let store_path = SecretStore::store_path(state_root);
    // A route whose env fallback is set does not need the store.
    let uses_store = routes.is_some_and(|r| {
        r.routes.values().any(|route| {
            matches!(route.auth, ferry_config::AuthSource::Ref(_))
                && !route
                    .auth_env_fallback
                    .as_deref()
                    .is_some_and(|var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty()))
        })
    });
    let key = env_master_key(report)?;
    let Some(key) = key else {
        if SecretStore::exists(state_root) {
            report.fail(
                "master key",
                format!("{} exists but neither FERRY_MASTER_KEY nor FERRY_MASTER_KEY_FILE is set, so the daemon would refuse to start", store_path.display()),
                "export FERRY_MASTER_KEY_FILE=/path/to/the/key (the key the store was created with)",
            );
            return None;
        }
        if uses_store {
            report.fail(
                "master key",
                "not set, and a route takes its key from the secret store (auth_ref): nothing can be stored",
                "ferry secrets generate > ferry-master.key && chmod 600 ferry-master.key && export FERRY_MASTER_KEY_FILE=$PWD/ferry-master.key",
            );
        } else {
            report.ok("master key", "not set (no route uses the secret store)");
        }
        return SecretsHandle::open(state_root.to_path_buf(), None).ok();
    };
    match SecretsHandle::open(state_root.to_path_buf(), Some(&key)) {
        Ok(handle) => {
            let n = handle.list().len();
            let detail = if SecretStore::exists(state_root) {
                format!("opens {} ({n} secret(s))", store_path.display())
            } else {
                format!(
                    "set; {} does not exist yet (created on the first `ferry secrets set`)",
                    store_path.display()
                )
            };
            report.ok("master key", detail);
            Some(handle)
        }
        Err(e) => {
            report.fail(
                "master key",
                e.to_string(),
                "use the key the store was sealed with; if it is lost, move the store aside and store the keys again",
            );
            None
        }
    }
}

fn check_routes(table: &RouteTable, secrets: &SecretsHandle, report: &mut Report) {
    for status in table.statuses(secrets) {
        let name = format!("route {}", status.id);
        if status.ready {
            report.ok(
                &name,
                format!("ready ({}, {})", status.auth, status.base_url),
            );
        } else {
            report.fail(
                &name,
                status.reason.unwrap_or_else(|| "not ready".into()),
                status.fix.unwrap_or_else(|| "see docs/routes.md".into()),
            );
        }
    }
}

async fn check_upstreams(table: &RouteTable, secrets: &SecretsHandle, report: &mut Report) {
    for status in table.statuses(secrets).into_iter().filter(|s| s.ready) {
        let name = format!("upstream {}", status.id);
        let (Ok(route), Ok(client)) =
            (table.route(&status.id), table.openrouter_client(&status.id))
        else {
            continue;
        };
        let Ok(key) = table.api_key(route, secrets) else {
            continue;
        };
        match tokio::time::timeout(UPSTREAM_TIMEOUT, client.key_info(&key)).await {
            Ok(Ok(info)) => {
                let data = info.get("data").unwrap_or(&Value::Null);
                let remaining = match data.get("limit_remaining") {
                    Some(Value::Number(n)) => format!(", {n} credits left on the key's limit"),
                    _ => String::new(),
                };
                report.ok(
                    &name,
                    format!("{} answers and accepts the key{remaining}", status.base_url),
                );
            }
            Ok(Err(e)) => report.fail(
                &name,
                e.message.clone(),
                match e.code() {
                    "upstream_unauthorized" => "store a valid key: ferry secrets set REF --provider openrouter --from-env OPENROUTER_API_KEY".to_string(),
                    "upstream_connect_failed" | "upstream_timeout" => "check the network, proxy settings ([routes.X.network], HTTPS_PROXY) and base_url".to_string(),
                    _ => "see the message; docs/operations.md has a troubleshooting list".to_string(),
                },
            ),
            Err(_) => report.fail(
                &name,
                format!("{} did not answer within {}s", status.base_url, UPSTREAM_TIMEOUT.as_secs()),
                "check the network, proxy settings ([routes.X.network], HTTPS_PROXY) and base_url",
            ),
        }
    }
}

async fn check_daemon(g: &GlobalArgs, report: &mut Report) {
    let client = match ApiClient::new(g) {
        Ok(c) => c,
        Err(e) => {
            report.fail(
                "daemon",
                e.message,
                "fix --token / --token-file / FERRY_TOKEN_FILE",
            );
            return;
        }
    };
    let url = client.base().to_string();
    let resp = match client.request(Method::GET, "/v1/status").send().await {
        Ok(r) => r,
        Err(_) => {
            report.warn(
                "daemon",
                format!("not reachable at {url}"),
                "start it with `ferry serve` (or point --url / FERRY_URL at it)",
            );
            return;
        }
    };
    let status = resp.status().as_u16();
    if status == 401 {
        report.fail(
            "daemon auth",
            format!("{url} requires a bearer token and {}", if g.token.is_some() || g.token_file.is_some() { "did not accept the one given" } else { "none was given" }),
            "pass --token-file FILE (or set FERRY_TOKEN_FILE / FERRY_TOKEN) with the daemon's token",
        );
        return;
    }
    let Ok(st) = resp.json::<Value>().await else {
        report.fail(
            "daemon",
            format!("{url} answered HTTP {status} with no status document"),
            "is this a ferry daemon? check --url",
        );
        return;
    };
    let st: StatusView = match typed("doctor", &st) {
        Ok(st) => st,
        Err(e) => {
            report.fail(
                "daemon",
                e.message,
                "run the daemon and the CLI of the same ferry version",
            );
            return;
        }
    };
    report.ok(
        "daemon",
        format!("ferry {} at {url}, {}", st.version, st.state.as_str()),
    );
    let loopback = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            h == "localhost"
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
                || h == "[::1]"
        });
    let has_token = g.token.is_some() || g.token_file.is_some();
    if loopback {
        report.ok(
            "bind/auth",
            if has_token {
                "loopback, token in use"
            } else {
                "loopback; no token needed"
            },
        );
    } else if url.starts_with("http://") {
        report.warn(
            "bind/auth",
            format!("{url} is not loopback and plain HTTP: the bearer token and your prompts cross the network in clear text"),
            "serve ferry on loopback behind a TLS reverse proxy (docs/operations.md)",
        );
    } else {
        report.ok("bind/auth", "remote over HTTPS with a token");
    }
    if st.secrets_locked {
        report.warn(
            "daemon secrets",
            "the daemon runs without a master key: it cannot store secrets",
            "restart it with FERRY_MASTER_KEY_FILE set (docs/operations.md has a systemd unit)",
        );
    }
    for route in st.routes.iter().filter(|r| !r.ready) {
        report.fail(
            &format!("daemon route {}", route.id),
            route.reason.as_deref().unwrap_or("not ready").to_string(),
            route
                .fix
                .as_deref()
                .unwrap_or("see `ferry status`")
                .to_string(),
        );
    }
}
