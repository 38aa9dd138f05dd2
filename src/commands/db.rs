//! `ferry db copy --from sqlite://STATE_ROOT --to postgres://… [--assets-to s3://…]`: moves
//! a stopped single-node install to the shared backends. It takes the state root's lock
//! (so no daemon writes meanwhile), brings the SQLite database to the current schema,
//! copies every row in one PostgreSQL transaction (refusing a non-empty target unless
//! `--merge`) and checks each table's row count, then copies the asset bytes, each verified
//! by its hash. The sealed secret store (`secrets.json`) is copied in the same transaction,
//! verbatim: the replicas open it with the master key it was sealed with. The state root is
//! left as it was.

use std::path::PathBuf;

use serde_json::json;

use crate::cli::{DbCommand, DbCopyArgs, GlobalArgs};
use crate::client::CliError;
use crate::render::print_json;

/// Runs a `ferry db` command.
pub async fn run(g: &GlobalArgs, cmd: &DbCommand) -> Result<(), CliError> {
    match cmd {
        DbCommand::Copy(args) => copy(g, args).await,
    }
}

fn state_root_of(from: &str) -> Result<PathBuf, CliError> {
    let path = from.strip_prefix("sqlite://").ok_or_else(|| {
        CliError::usage(format!(
            "--from {from:?} is not sqlite://STATE_ROOT: give the state root the daemon used, e.g. --from sqlite://./state"
        ))
    })?;
    let root = PathBuf::from(path);
    if !root.join(ferry_store::DB_FILE_NAME).is_file() {
        return Err(CliError::usage(format!(
            "{} holds no ferry database ({}): give the directory `ferry serve --state-root` used",
            root.display(),
            ferry_store::DB_FILE_NAME
        )));
    }
    Ok(root)
}

/// Reads the copied secret store back: it must be the source's sealed document exactly.
async fn verify_secrets(
    target: &ferry_store_pg::PgStore,
    doc: &ferry_secrets::SealedDocument,
) -> Result<(), CliError> {
    use ferry_store::AccessRepo;
    let copied = match target.shared_secrets() {
        Some(repo) => repo
            .load_secrets()
            .await
            .map_err(|e| CliError::fail(e.to_string()))?,
        None => None,
    };
    match copied {
        Some((copied, _)) if copied == *doc => Ok(()),
        _ => Err(CliError::fail(
            "the secret store read back from the target differs from the state root's secrets.json",
        )),
    }
}

async fn copy(g: &GlobalArgs, args: &DbCopyArgs) -> Result<(), CliError> {
    let root = state_root_of(&args.from)?;
    if !ferry_store_pg::is_postgres_url(&args.to) {
        return Err(CliError::usage(format!(
            "--to {} is not a PostgreSQL URL: give postgres://user:password@host:5432/database",
            ferry_store_pg::redact_url(&args.to)
        )));
    }
    let assets_to = match &args.assets_to {
        Some(value) => Some(
            value
                .parse::<ferry_assets::AssetStoreLocation>()
                .map_err(|e| CliError::usage(e.to_string()))?,
        ),
        None => None,
    };
    // Holding the lock: no daemon (and no other copy) uses the state root meanwhile.
    let _lock = crate::state_root::lock(&root, crate::state_root::Warn::Stderr)?;
    // Opening migrates an older database to the current schema, which the copy reads.
    let store = ferry_store::Store::open(&root).map_err(|e| CliError::fail(e.to_string()))?;
    store.close().await;
    drop(store);
    // The sealed secret store moves verbatim (no master key needed): it opens on the
    // replicas with the key it was sealed with.
    let secrets = ferry_secrets::SecretStore::read_document(&root)
        .map_err(|e| CliError::fail(e.to_string()))?;
    let target = ferry_store_pg::PgStore::connect(&args.to)
        .await
        .map_err(|e| CliError::fail(e.to_string()))?;
    let tables = ferry_store_pg::copy_from_sqlite(
        &root.join(ferry_store::DB_FILE_NAME),
        secrets.as_ref(),
        &target,
        args.merge,
    )
    .await
    .map_err(|e| CliError::fail(e.to_string()))?;
    if let Some(doc) = &secrets {
        verify_secrets(&target, doc).await?;
    }
    let blobs = match &assets_to {
        Some(location) => {
            let to = location
                .open(&root)
                .await
                .map_err(|e| CliError::fail(e.to_string()))?;
            let from = ferry_assets::AssetStoreLocation::StateRoot
                .open(&root)
                .await
                .map_err(|e| CliError::fail(e.to_string()))?;
            Some(
                ferry_assets::copy_blobs(from.as_ref(), to.as_ref())
                    .await
                    .map_err(|e| CliError::fail(e.to_string()))?,
            )
        }
        None => None,
    };
    if g.json {
        print_json(&json!({
            "tables": tables.iter().map(|t| json!({
                "table": t.table, "source_rows": t.source_rows, "target_rows": t.target_rows,
            })).collect::<Vec<_>>(),
            "blobs": blobs.as_ref().map(|b| json!({"copied": b.copied, "skipped": b.skipped, "bytes": b.bytes})),
        }));
        return Ok(());
    }
    println!(
        "copied {} into {}:",
        root.display(),
        ferry_store_pg::redact_url(&args.to)
    );
    for t in &tables {
        println!(
            "  {:<20} {:>8} rows (target now {})",
            t.table, t.source_rows, t.target_rows
        );
    }
    match &blobs {
        Some(b) => println!(
            "asset bytes: {} copied ({} bytes), {} already there — each verified by its SHA-256",
            b.copied, b.bytes, b.skipped
        ),
        None => println!(
            "asset bytes stay in {}/assets: pass --assets-to s3://BUCKET/PREFIX to move them to a shared store",
            root.display()
        ),
    }
    println!("next: ferry serve --database-url … (and --asset-store …) on each replica");
    Ok(())
}
