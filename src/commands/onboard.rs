//! `ferry onboard`: first-time set-up. Writes a routes file with one OpenRouter route and
//! stores the API key in the encrypted secret store (offline, under the state-root lock, so
//! it refuses while a daemon serves that root). The key is read from a flag, the
//! environment or a prompt that does not echo, is checked with OpenRouter (`GET /key`,
//! skipped with `--offline`) before anything is written, and is never printed. Without a
//! master key in the environment one is generated into a 0600 file next to the routes file
//! (or the one a previous onboard wrote is reused), and the printed `next:` command names
//! it, so it works as printed. `--service` also writes a systemd user unit.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use ferry_secrets::{generate_master_key, MasterKey, SecretStore};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{AuthChoice, GlobalArgs, OnboardArgs};
use crate::client::CliError;
use crate::render::{print_json, s};

/// The secret ref the written route uses.
const KEY_REF: &str = "openrouter.primary";
/// Name of a generated master key file, next to the routes file.
const MASTER_KEY_FILE: &str = "ferry-master.key";
/// Name of the systemd user unit `--service` writes, next to the routes file.
const SERVICE_FILE: &str = "ferry.service";
/// Longest wait for OpenRouter's answer to the key check.
const KEY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs `ferry onboard`.
pub async fn run(g: &GlobalArgs, args: &OnboardArgs) -> Result<(), CliError> {
    let AuthChoice::OpenrouterApiKey = args.auth_choice;
    if args.routes_file.exists() && !args.force {
        return Err(CliError::usage(format!(
            "{} already exists; pass --force to replace it (or edit it by hand: docs/routes.md)",
            args.routes_file.display()
        )));
    }
    let model = if args.non_interactive {
        args.model.clone()
    } else {
        prompt_line("Default model", &args.model)?
    };
    let routes_text = routes_toml(&model, args.base_url.as_deref());
    // Validate what will be written with the daemon's own parser before touching anything.
    let routes = ferry_config::parse_routes(&routes_text, &args.routes_file)
        .map_err(|e| CliError::usage(format!("the routes file would be invalid: {e}")))?;
    let api_key = read_api_key(args)?;
    let key_check = if args.offline {
        None
    } else {
        Some(check_key(&routes, &api_key).await?)
    };
    let service = args.service
        || (!args.non_interactive && prompt_yes("Write a systemd user unit (ferry.service)?")?);

    // Every folder first, so nothing is half-written when one cannot be created.
    let routes_dir = parent_dir(&args.routes_file);
    for dir in [routes_dir, args.state_root.as_path()] {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::fail(format!("cannot create {}: {e}", dir.display())))?;
    }
    let _lock = crate::state_root::lock(&args.state_root, crate::state_root::Warn::Stderr)?;
    let (master_key, key_source) = master_key(&args.state_root, &args.routes_file)?;
    let mut store = SecretStore::open(&args.state_root, &master_key)
        .map_err(|e| CliError::fail(e.to_string()))?;
    let outcome = store
        .set(KEY_REF, "openrouter", api_key)
        .map_err(|e| CliError::usage(e.to_string()))?;
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    write_atomically(&args.routes_file, routes_text.as_bytes())?;
    let key_file = key_source.file();
    let unit = if service {
        let path = routes_dir.join(SERVICE_FILE);
        write_atomically(&path, service_unit(args, key_file)?.as_bytes())?;
        Some(path)
    } else {
        None
    };
    let next = next_command(args, key_file);

    let meta = json!(outcome.meta);
    if g.json {
        print_json(&json!({
            "routes_file": args.routes_file,
            "secret": meta,
            "master_key_file": key_file,
            "master_key": key_source.as_str(),
            "key_check": key_check,
            "service_unit": unit,
            "next": next,
        }));
        return Ok(());
    }
    match &key_check {
        Some(label) => println!("OpenRouter accepted the key ({label})"),
        None => println!("key not checked with OpenRouter (--offline)"),
    }
    println!(
        "stored {} ({}, {}) in {}",
        s(&meta, "ref"),
        s(&meta, "provider"),
        s(&meta, "fingerprint"),
        store.origin()
    );
    println!(
        "wrote {}: route openrouter, default model {model}",
        args.routes_file.display()
    );
    match &key_source {
        MasterKeySource::Generated(file) => {
            println!(
                "generated a master key in {} (mode 0600); ferry needs it to read the stored key:",
                file.display()
            );
            println!("  export FERRY_MASTER_KEY_FILE={}", file.display());
            println!("  keep a copy somewhere safe, apart from backups of the state root (without it the key cannot be read)");
        }
        MasterKeySource::ExistingFile(file) => println!(
            "used the existing master key in {} (unchanged)",
            file.display()
        ),
        MasterKeySource::Environment => {
            println!("used the master key from FERRY_MASTER_KEY / FERRY_MASTER_KEY_FILE")
        }
    }
    if let Some(path) = &unit {
        println!("wrote {} — install it with:", path.display());
        println!("  mkdir -p ~/.config/systemd/user && cp {} ~/.config/systemd/user/ && systemctl --user daemon-reload && systemctl --user enable --now ferry", path.display());
    }
    println!("next: {next}   then: ferry doctor");
    Ok(())
}

/// Asks OpenRouter (`GET /key`) whether it accepts the key; returns the key's label.
async fn check_key(
    routes: &ferry_config::RoutesFile,
    key: &Zeroizing<String>,
) -> Result<String, CliError> {
    let client = ferry_openrouter::OpenRouterClient::new(routes.default())
        .map_err(|e| CliError::fail(e.to_string()))?;
    let check = tokio::time::timeout(KEY_CHECK_TIMEOUT, client.key_info(key)).await;
    match check {
        Ok(Ok(info)) => {
            let data = info.get("data").unwrap_or(&info);
            Ok(data
                .get("label")
                .and_then(|l| l.as_str())
                .unwrap_or("no label")
                .to_string())
        }
        Ok(Err(e)) if e.kind == ferry_openrouter::UpstreamErrorKind::Unauthorized => {
            Err(CliError::usage(format!(
                "OpenRouter rejected the key (GET /key answered {}); nothing was written. Copy the key again from https://openrouter.ai/settings/keys",
                e.status.unwrap_or(401)
            )))
        }
        Ok(Err(e)) => Err(CliError::fail(format!(
            "cannot check the key with OpenRouter: {}; nothing was written. Fix the network (or --base-url), or pass --offline to store the key unchecked",
            e.message
        ))),
        Err(_) => Err(CliError::fail(format!(
            "OpenRouter did not answer GET /key within {} s; nothing was written. Retry, or pass --offline to store the key unchecked",
            KEY_CHECK_TIMEOUT.as_secs()
        ))),
    }
}

/// The command that starts the daemon on what onboard wrote, as it must be typed.
fn next_command(args: &OnboardArgs, key_file: Option<&Path>) -> String {
    let mut cmd = String::new();
    if let Some(file) = key_file {
        cmd.push_str(&format!(
            "FERRY_MASTER_KEY_FILE={} ",
            shell_word(&file.display().to_string())
        ));
    }
    cmd.push_str(&format!(
        "ferry serve --routes-file {} --state-root {}",
        shell_word(&args.routes_file.display().to_string()),
        shell_word(&args.state_root.display().to_string())
    ));
    cmd
}

/// A word the shell reads back unchanged.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A systemd user unit that runs `ferry serve` on the files onboard wrote.
fn service_unit(args: &OnboardArgs, key_file: Option<&Path>) -> Result<String, CliError> {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .map_err(|e| CliError::fail(format!("cannot resolve {}: {e}", p.display())))
    };
    let exe = std::env::current_exe()
        .map_err(|e| CliError::fail(format!("cannot find the ferry binary: {e}")))?;
    let routes = abs(&args.routes_file)?;
    let state = abs(&args.state_root)?;
    let workspace = abs(parent_dir(&args.routes_file))?;
    let key_line = match key_file {
        Some(f) => format!("Environment=FERRY_MASTER_KEY_FILE={}", abs(f)?.display()),
        None => "# Environment=FERRY_MASTER_KEY_FILE=/path/to/the/master.key   # the key you onboarded with".to_string(),
    };
    Ok(format!(
        r#"# Written by `ferry onboard --service`; docs/operations.md has the system-wide variant.
[Unit]
Description=ferry model-route daemon
After=network-online.target

[Service]
Type=exec
{key_line}
Environment=FERRY_LOG_FORMAT=json
ExecStart={exe} serve --bind 127.0.0.1:4000 --routes-file {routes} --state-root {state} --workspace-root {workspace}
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
PrivateTmp=yes

[Install]
WantedBy=default.target
"#,
        exe = exe.display(),
        routes = routes.display(),
        state = state.display(),
        workspace = workspace.display(),
    ))
}

/// The directory a file is in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A routes file with one OpenRouter route using the stored key.
fn routes_toml(model: &str, base_url: Option<&str>) -> String {
    let base = match base_url {
        Some(url) => format!("base_url = {}\n", toml_string(url)),
        None => "# base_url = \"https://openrouter.ai/api/v1\"   # default; another URL = a custom proxy\n".to_string(),
    };
    format!(
        r#"# Written by `ferry onboard`; see routes.example.toml and docs/routes.md for every option.
version = 1
default_route = "openrouter"

[routes.openrouter]
driver = "openrouter"
default_model = {model}
model_support = "any"
auth_ref = "{KEY_REF}"
{base}timeout_ms = 120000

[routes.openrouter.attribution]
title = "ferry"
"#,
        model = toml_string(model),
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn read_api_key(args: &OnboardArgs) -> Result<Zeroizing<String>, CliError> {
    let key = match &args.openrouter_api_key {
        Some(k) => Zeroizing::new(k.trim().to_string()),
        None if args.non_interactive => {
            return Err(CliError::usage(
                "--non-interactive needs the key: pass --openrouter-api-key KEY or set OPENROUTER_API_KEY",
            ))
        }
        None => {
            if !std::io::stdin().is_terminal() {
                return Err(CliError::usage(
                    "no terminal to prompt on: pass --non-interactive --openrouter-api-key KEY (or set OPENROUTER_API_KEY)",
                ));
            }
            Zeroizing::new(
                rpassword::prompt_password("OpenRouter API key (input is hidden): ")
                    .map_err(|e| CliError::fail(format!("cannot read the key: {e}")))?
                    .trim()
                    .to_string(),
            )
        }
    };
    if key.is_empty() {
        return Err(CliError::usage(
            "the OpenRouter API key is empty; create one at https://openrouter.ai/settings/keys",
        ));
    }
    Ok(key)
}

/// A yes/no question on the terminal (no terminal or an empty answer = no).
fn prompt_yes(question: &str) -> Result<bool, CliError> {
    let answer = prompt_line(&format!("{question} (y/n)"), "n")?;
    Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// A line from the terminal, or `default` when the answer is empty or there is no terminal.
fn prompt_line(question: &str, default: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Ok(default.to_string());
    }
    eprint!("{question} [{default}]: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::fail(format!("cannot read the answer: {e}")))?;
    let answer = line.trim();
    Ok(if answer.is_empty() { default } else { answer }.to_string())
}

/// Where the master key came from.
#[derive(Debug)]
enum MasterKeySource {
    /// `FERRY_MASTER_KEY` / `FERRY_MASTER_KEY_FILE`.
    Environment,
    /// The key file a previous onboard wrote next to the routes file.
    ExistingFile(PathBuf),
    /// A new key file written now.
    Generated(PathBuf),
}

impl MasterKeySource {
    fn file(&self) -> Option<&Path> {
        match self {
            MasterKeySource::Environment => None,
            MasterKeySource::ExistingFile(f) | MasterKeySource::Generated(f) => Some(f),
        }
    }

    fn as_str(&self) -> &'static str {
        match self {
            MasterKeySource::Environment => "environment",
            MasterKeySource::ExistingFile(_) => "existing_file",
            MasterKeySource::Generated(_) => "generated",
        }
    }
}

/// The master key from the environment; else the one a previous onboard generated next to
/// the routes file; else a new one written there.
fn master_key(
    state_root: &Path,
    routes_file: &Path,
) -> Result<(MasterKey, MasterKeySource), CliError> {
    if let Some(key) = MasterKey::from_env().map_err(|e| CliError::usage(e.to_string()))? {
        return Ok((key, MasterKeySource::Environment));
    }
    let dir = parent_dir(routes_file);
    let file = std::path::absolute(dir.join(MASTER_KEY_FILE))
        .map_err(|e| CliError::fail(format!("cannot resolve {}: {e}", dir.display())))?;
    if file.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&file)
                .map_err(|e| CliError::fail(format!("cannot read {}: {e}", file.display())))?,
        );
        let key = MasterKey::parse(text.trim()).map_err(|e| CliError::usage(e.to_string()))?;
        return Ok((key, MasterKeySource::ExistingFile(file)));
    }
    if SecretStore::exists(state_root) {
        return Err(CliError::usage(format!(
            "{} already holds secrets but no master key is set: set FERRY_MASTER_KEY or FERRY_MASTER_KEY_FILE to the key it was created with",
            SecretStore::store_path(state_root).display()
        )));
    }
    let text = Zeroizing::new(generate_master_key());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&file)
        .map_err(|e| CliError::fail(format!("cannot create {}: {e}", file.display())))?;
    f.write_all(format!("{}\n", text.as_str()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| CliError::fail(format!("cannot write {}: {e}", file.display())))?;
    let key = MasterKey::parse(&text).map_err(|e| CliError::fail(e.to_string()))?;
    Ok((key, MasterKeySource::Generated(file)))
}

/// Writes `path` by a rename from a temp file in the same directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::fail(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("routes.toml"),
        std::process::id()
    ));
    let result = std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::fail(format!(
            "cannot write {}: {e}",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_routes_parse_with_and_without_base_url() {
        for base in [None, Some("http://127.0.0.1:9/api/v1")] {
            let text = routes_toml("anthropic/claude-sonnet-4-5", base);
            let f = ferry_config::parse_routes(&text, Path::new("routes.toml")).unwrap();
            let r = f.route("openrouter").unwrap();
            assert_eq!(r.default_model, "anthropic/claude-sonnet-4-5");
            assert_eq!(r.is_verified_openrouter(), base.is_none());
        }
        let bad = routes_toml("x", Some("ftp://nope"));
        assert!(ferry_config::parse_routes(&bad, Path::new("routes.toml")).is_err());
    }
}
