//! `ferry onboard`: first-time set-up. Writes a routes file with one OpenRouter route and
//! stores the API key in the encrypted secret store (offline, under the state-root lock, so
//! it refuses while a daemon serves that root). The key is read from a flag, the
//! environment or a prompt that does not echo, and is never printed. Without a master key
//! in the environment one is generated into a 0600 file and the user is told how to use it.

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
    ferry_config::parse_routes(&routes_text, &args.routes_file)
        .map_err(|e| CliError::usage(format!("the routes file would be invalid: {e}")))?;
    let api_key = read_api_key(args)?;

    let _lock = crate::state_root::lock(&args.state_root, crate::state_root::Warn::Stderr)?;
    let (master_key, generated) = master_key(&args.state_root, &args.routes_file)?;
    let mut store = SecretStore::open(&args.state_root, &master_key)
        .map_err(|e| CliError::fail(e.to_string()))?;
    let outcome = store
        .set(KEY_REF, "openrouter", api_key)
        .map_err(|e| CliError::usage(e.to_string()))?;
    for w in &outcome.warnings {
        eprintln!("warning: {w}");
    }
    write_atomically(&args.routes_file, routes_text.as_bytes())?;

    let meta = json!(outcome.meta);
    if g.json {
        print_json(&json!({
            "routes_file": args.routes_file,
            "secret": meta,
            "master_key_file": generated,
        }));
        return Ok(());
    }
    println!(
        "stored {} ({}, {}) in {}",
        s(&meta, "ref"),
        s(&meta, "provider"),
        s(&meta, "fingerprint"),
        store.path().display()
    );
    println!(
        "wrote {}: route openrouter, default model {model}",
        args.routes_file.display()
    );
    if let Some(file) = &generated {
        println!(
            "generated a master key in {} (mode 0600); ferry needs it to read the stored key:",
            file.display()
        );
        println!("  export FERRY_MASTER_KEY_FILE={}", file.display());
        println!("  keep a copy somewhere safe, apart from backups of the state root (without it the key cannot be read)");
    }
    println!(
        "next: ferry serve --routes-file {} --state-root {}   then: ferry doctor",
        args.routes_file.display(),
        args.state_root.display()
    );
    Ok(())
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

/// The master key from the environment; else the one a previous onboard generated next to
/// the routes file; else a new one written there. Returns the generated/used file, if any.
fn master_key(
    state_root: &Path,
    routes_file: &Path,
) -> Result<(MasterKey, Option<PathBuf>), CliError> {
    if let Some(key) = MasterKey::from_env().map_err(|e| CliError::usage(e.to_string()))? {
        return Ok((key, None));
    }
    let dir = routes_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = std::path::absolute(dir.join(MASTER_KEY_FILE))
        .map_err(|e| CliError::fail(format!("cannot resolve {}: {e}", dir.display())))?;
    if file.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&file)
                .map_err(|e| CliError::fail(format!("cannot read {}: {e}", file.display())))?,
        );
        let key = MasterKey::parse(text.trim()).map_err(|e| CliError::usage(e.to_string()))?;
        return Ok((key, Some(file)));
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
    Ok((key, Some(file)))
}

/// Writes `path` by a rename from a temp file in the same directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
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
