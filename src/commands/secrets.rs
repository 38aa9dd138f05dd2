//! `ferry secrets …`: online through the daemon by default; `--offline --state-root DIR`
//! works on the store file directly after taking the state-root lock (so it refuses while a
//! daemon serves that root). Values are read into zeroizing strings and never printed.

use std::io::Read;
use std::path::Path;

use ferry_secrets::{generate_master_key, MasterKey, SecretStore};
use ferry_types::{SecretList, SecretMeta, SecretStored};
use reqwest::Method;
use serde_json::json;
use zeroize::Zeroizing;

use crate::answer::typed;
use crate::cli::{GlobalArgs, OfflineArgs, SecretSource, SecretsCommand};
use crate::client::{ApiClient, CliError};
use crate::render::print_json;

/// Runs a secrets command.
pub async fn run(g: &GlobalArgs, cmd: &SecretsCommand) -> Result<(), CliError> {
    match cmd {
        SecretsCommand::Generate => {
            println!("{}", generate_master_key());
            Ok(())
        }
        SecretsCommand::Set(args) => {
            let value = read_value(&args.source)?;
            let result: SecretStored = match offline_root(&args.offline) {
                Some(root) => offline(root, |store| {
                    store
                        .set(&args.reference, &args.provider, value)
                        .map(SecretStored::from)
                        .map_err(|e| CliError::usage(e.to_string()))
                })?,
                None => {
                    let client = ApiClient::new(g)?;
                    let body = Zeroizing::new(
                        json!({"ref": args.reference, "provider": args.provider, "value": value.as_str()})
                            .to_string(),
                    );
                    let resp = client
                        .send(
                            client
                                .request(Method::POST, "/v1/secrets")
                                .header("content-type", "application/json")
                                .body(body.as_bytes().to_vec()),
                        )
                        .await?;
                    typed("secrets set", &crate::client::json_of(resp).await?)?
                }
            };
            for w in &result.warnings {
                eprintln!("warning: {w}");
            }
            let meta = &result.secret;
            if g.json {
                print_json(&json!(meta));
            } else {
                println!(
                    "{} {} ({}, {})",
                    if result.created { "stored" } else { "replaced" },
                    meta.r#ref,
                    meta.provider,
                    meta.fingerprint
                );
            }
            Ok(())
        }
        SecretsCommand::List(off) => {
            let items: Vec<SecretMeta> = match offline_root(off) {
                Some(root) => offline(root, |store| Ok(store.list()))?,
                None => {
                    let v = ApiClient::new(g)?.get_json("/v1/secrets").await?;
                    typed::<SecretList>("secrets list", &v)?.secrets
                }
            };
            if g.json {
                print_json(&json!(items));
                return Ok(());
            }
            if items.is_empty() {
                println!("no secrets stored; add one with `ferry secrets set openrouter.primary --provider openrouter --from-env OPENROUTER_API_KEY`");
            }
            for m in items {
                println!(
                    "{:<28} {:<12} {:<18} {}",
                    m.r#ref, m.provider, m.fingerprint, m.updated_at
                );
            }
            Ok(())
        }
        SecretsCommand::Delete {
            reference,
            offline: off,
        } => {
            match offline_root(off) {
                Some(root) => {
                    let deleted = offline(root, |store| {
                        store
                            .delete(reference)
                            .map_err(|e| CliError::usage(e.to_string()))
                    })?;
                    if !deleted {
                        return Err(CliError {
                            message: format!("no secret named {reference}"),
                            exit: 5,
                            problem: None,
                        });
                    }
                }
                None => {
                    let client = ApiClient::new(g)?;
                    client
                        .call_json(Method::DELETE, &format!("/v1/secrets/{reference}"), None)
                        .await?;
                }
            }
            if g.json {
                print_json(&json!({"deleted": reference}));
            } else {
                println!("deleted {reference}");
            }
            Ok(())
        }
        SecretsCommand::RotateMasterKey {
            state_root,
            new_key_file,
            database_url,
        } => {
            let _lock = crate::state_root::lock(state_root, crate::state_root::Warn::Stderr)?;
            let old = MasterKey::from_env()
                .map_err(|e| CliError::usage(e.to_string()))?
                .ok_or_else(|| {
                    CliError::usage("set the CURRENT key in FERRY_MASTER_KEY or FERRY_MASTER_KEY_FILE, and pass the new one with --new-key-file")
                })?;
            let text = Zeroizing::new(std::fs::read_to_string(new_key_file).map_err(|e| {
                CliError::usage(format!("cannot read {}: {e}", new_key_file.display()))
            })?);
            let new = MasterKey::parse(text.trim()).map_err(|e| CliError::usage(e.to_string()))?;
            let n = match database_url {
                None => SecretStore::rotate(state_root, &old, &new)
                    .map_err(|e| CliError::fail(e.to_string()))?,
                Some(url) => rotate_shared(url, &old, &new).await?,
            };
            if g.json {
                print_json(&json!({"rotated": n}));
            } else {
                println!("re-encrypted {n} secret(s) under the new master key; start ferry with the new FERRY_MASTER_KEY");
            }
            Ok(())
        }
    }
}

/// Re-seals the store the replicas share under `new`, in one transaction that fails when
/// anything changed the store meanwhile.
async fn rotate_shared(url: &str, old: &MasterKey, new: &MasterKey) -> Result<usize, CliError> {
    use ferry_store::AccessRepo;
    if !ferry_store_pg::is_postgres_url(url) {
        return Err(CliError::usage(format!(
            "--database-url {} is not a PostgreSQL URL: give postgres://user:password@host:5432/database",
            ferry_store_pg::redact_url(url)
        )));
    }
    let pg = ferry_store_pg::PgStore::connect(url)
        .await
        .map_err(|e| CliError::fail(e.to_string()))?;
    let Some(repo) = pg.shared_secrets() else {
        return Err(CliError::fail("this database keeps no shared secret store"));
    };
    let Some((doc, generation)) = repo
        .load_secrets()
        .await
        .map_err(|e| CliError::fail(e.to_string()))?
    else {
        return Err(CliError::usage(format!(
            "the database {} holds no secret store yet: nothing to rotate",
            ferry_store_pg::redact_url(url)
        )));
    };
    let (rotated, n) = SecretStore::rotate_document(
        ferry_store::SHARED_SECRETS_ORIGIN,
        doc,
        old,
        new,
        ferry_secrets::KdfParams::default(),
    )
    .map_err(|e| CliError::fail(e.to_string()))?;
    match repo
        .save_secrets(&rotated, generation)
        .await
        .map_err(|e| CliError::fail(e.to_string()))?
    {
        Some(_) => Ok(n),
        None => Err(CliError::fail(
            "a replica changed the shared secret store while it was being rotated; nothing was rotated. \
             Stop every replica and run the rotation again",
        )),
    }
}

fn offline_root(off: &OfflineArgs) -> Option<&Path> {
    if off.offline {
        off.state_root.as_deref()
    } else {
        None
    }
}

fn offline<T>(
    root: &Path,
    f: impl FnOnce(&mut SecretStore) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let _lock = crate::state_root::lock(root, crate::state_root::Warn::Stderr)?;
    let key = MasterKey::from_env()
        .map_err(|e| CliError::usage(e.to_string()))?
        .ok_or_else(|| {
            CliError::usage(
                "no master key: set FERRY_MASTER_KEY (create one with `ferry secrets generate`) or FERRY_MASTER_KEY_FILE",
            )
        })?;
    if std::env::var("FERRY_DATABASE_URL").is_ok_and(|v| !v.trim().is_empty()) {
        eprintln!(
            "warning: FERRY_DATABASE_URL is set: replicas on a shared database read their secrets from it, \
             not from {} (only the first replica on a database without a secret store moves this file in); \
             store secrets through a running replica instead (`ferry secrets set …` without --offline)",
            SecretStore::store_path(root).display()
        );
    }
    let mut store = SecretStore::open(root, &key).map_err(|e| CliError::fail(e.to_string()))?;
    f(&mut store)
}

fn read_value(src: &SecretSource) -> Result<Zeroizing<String>, CliError> {
    let raw = if let Some(var) = &src.from_env {
        Zeroizing::new(std::env::var(var).map_err(|_| {
            CliError::usage(format!(
                "environment variable {var} is not set (export it first, or use --from-file/--stdin)"
            ))
        })?)
    } else if let Some(path) = &src.from_file {
        Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?,
        )
    } else if src.stdin {
        let mut buf = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| CliError::usage(format!("cannot read standard input: {e}")))?;
        buf
    } else if let Some(v) = &src.value {
        Zeroizing::new(v.clone())
    } else {
        return Err(CliError::usage(
            "give exactly one of --from-env, --from-file, --stdin, --value",
        ));
    };
    let trimmed = Zeroizing::new(raw.trim_end_matches(['\n', '\r']).to_string());
    if trimmed.trim().is_empty() {
        return Err(CliError::usage("the secret value is empty"));
    }
    Ok(trimmed)
}
