//! `ferry db copy`: copies every row of a state root's SQLite database into a PostgreSQL
//! database in ONE transaction (all or nothing), keeping ids, sequence numbers, run order
//! and timestamps as they are, then moves the sequences past the copied rows and checks
//! every table's row count. A target that already holds rows is refused unless `merge` is
//! set, in which case rows whose key exists are left as they are.

use std::path::Path;

use deadpool_postgres::Transaction;
use ferry_secrets::SealedDocument;
use ferry_store::StoreError;
use rusqlite::types::Value as Sql;
use tokio_postgres::types::ToSql;

use crate::db_error::{backend, db};
use crate::PgStore;

/// How a column is typed in PostgreSQL.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int8,
    Int4,
    Float,
}

use Kind::{Float, Int4, Int8, Text};

/// Every table ferry keeps, parents before children, with the columns both backends share.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "runtime_config",
        &[("key", Text), ("value", Text), ("updated_at", Text)],
    ),
    (
        "sessions",
        &[
            ("id", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("pinned_selector", Text),
            ("system_prompt", Text),
            ("speak_replies", Text),
            ("message_seq", Int8),
        ],
    ),
    (
        "messages",
        &[
            ("session_id", Text),
            ("seq", Int8),
            ("run_id", Text),
            ("role", Text),
            ("body", Text),
            ("created_at", Text),
        ],
    ),
    (
        "runs",
        &[
            ("id", Text),
            ("session_id", Text),
            ("status", Text),
            ("created_at", Text),
            ("started_at", Text),
            ("finished_at", Text),
            ("input", Text),
            ("route", Text),
            ("model_requested", Text),
            ("model_served", Text),
            ("usage", Text),
            ("cost", Float),
            ("output", Text),
            ("error_code", Text),
            ("error_message", Text),
            ("attempts", Text),
            ("idempotency_key", Text),
            ("cache_status", Text),
            ("generation_id", Text),
            ("billed_cost", Float),
            ("ord", Int8),
        ],
    ),
    (
        "run_events",
        &[
            ("run_id", Text),
            ("seq", Int8),
            ("kind", Text),
            ("data", Text),
            ("created_at", Text),
        ],
    ),
    (
        "assets",
        &[
            ("seq", Int8),
            ("id", Text),
            ("sha256", Text),
            ("media_type", Text),
            ("size", Int8),
            ("file_name", Text),
            ("source", Text),
            ("created_at", Text),
        ],
    ),
    (
        "asset_derivations",
        &[
            ("asset_id", Text),
            ("kind", Text),
            ("model", Text),
            ("content", Text),
            ("meta", Text),
            ("created_at", Text),
        ],
    ),
    (
        "video_jobs",
        &[
            ("id", Text),
            ("route", Text),
            ("model", Text),
            ("upstream_id", Text),
            ("polling_url", Text),
            ("status", Text),
            ("request", Text),
            ("run_id", Text),
            ("asset_id", Text),
            ("cost", Float),
            ("error_code", Text),
            ("error_message", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("finished_at", Text),
        ],
    ),
    (
        "access_keys",
        &[
            ("id", Text),
            ("name", Text),
            ("secret_hash", Text),
            ("hint", Text),
            ("settings", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("revoked_at", Text),
        ],
    ),
    (
        "spend_reservations",
        &[
            ("id", Text),
            ("key_id", Text),
            ("amount_nanos", Int8),
            ("route", Text),
            ("model", Text),
            ("created_at", Text),
        ],
    ),
    (
        "spend_ledger",
        &[
            ("seq", Int8),
            ("at", Text),
            ("key_id", Text),
            ("route", Text),
            ("model", Text),
            ("kind", Text),
            ("prompt_tokens", Int8),
            ("completion_tokens", Int8),
            ("cost", Float),
            ("cost_nanos", Int8),
            ("estimated", Int4),
            ("billed_cost", Float),
            ("generation_id", Text),
            ("run_id", Text),
        ],
    ),
];

/// One table's rows: in the source, and in the target after the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows in the target afterwards.
    pub target_rows: u64,
}

/// Writes the sealed secret store verbatim (it opens with the master key it was sealed
/// with, wherever it is kept). A target that already has one keeps it only when it is the
/// same document: two stores cannot be merged without opening them.
async fn copy_secrets(tx: &Transaction<'_>, doc: &SealedDocument) -> Result<TableCopy, StoreError> {
    match crate::secrets::read_document(tx).await? {
        None => {
            crate::secrets::write_document(tx, doc, 0).await?;
        }
        Some((existing, _)) if existing == *doc => {}
        Some(_) => return Err(backend(
            "the target database already holds a different secret store; nothing was committed. \
                 Copy into a database without one, or move STATE_ROOT/secrets.json aside to copy \
                 the rest and store its secrets through a replica (`ferry secrets set …`)"
                .to_owned(),
        )),
    }
    let target_rows: i64 = tx
        .query_one("SELECT COUNT(*) FROM secret_slots", &[])
        .await
        .map_err(db)?
        .get(0);
    Ok(TableCopy {
        table: "secret_slots",
        source_rows: doc.slots.len() as u64,
        target_rows: target_rows as u64,
    })
}

/// A source value as the parameter its PostgreSQL column takes.
fn param(
    value: Sql,
    kind: Kind,
    table: &str,
    column: &str,
) -> Result<Box<dyn ToSql + Sync + Send>, StoreError> {
    let mismatch = |v: &Sql| {
        backend(format!(
            "{table}.{column} holds {v:?}, which does not fit its column"
        ))
    };
    Ok(match (kind, value) {
        (Text, Sql::Null) => Box::new(None::<String>),
        (Int8, Sql::Null) => Box::new(None::<i64>),
        (Int4, Sql::Null) => Box::new(None::<i32>),
        (Float, Sql::Null) => Box::new(None::<f64>),
        (Text, Sql::Text(s)) => Box::new(Some(s)),
        (Text, Sql::Integer(i)) => Box::new(Some(i.to_string())),
        (Text, Sql::Real(f)) => Box::new(Some(f.to_string())),
        (Int8, Sql::Integer(i)) => Box::new(Some(i)),
        (Int4, Sql::Integer(i)) => Box::new(Some(
            i32::try_from(i).map_err(|_| mismatch(&Sql::Integer(i)))?,
        )),
        (Float, Sql::Real(f)) => Box::new(Some(f)),
        (Float, Sql::Integer(i)) => Box::new(Some(i as f64)),
        (_, other) => return Err(mismatch(&other)),
    })
}

/// Copies every row of the SQLite database at `sqlite_path` (a ferry state database at
/// the current schema version; open it with `ferry_store::Store::open` first to migrate
/// it) and the state root's sealed secret store, if any, into `target`, in one
/// transaction. Refuses a target holding any row unless `merge` (a target's secret store
/// is kept only when it is the same document); returns each table's row counts, checked:
/// every source row is in the target.
pub async fn copy_from_sqlite(
    sqlite_path: &Path,
    secrets: Option<&SealedDocument>,
    target: &PgStore,
    merge: bool,
) -> Result<Vec<TableCopy>, StoreError> {
    let path = sqlite_path.to_path_buf();
    // Read everything first (the source is small next to what PostgreSQL holds; a state
    // root is locked while this runs, so nothing changes underneath).
    let tables: Vec<(usize, Vec<Vec<Sql>>)> = tokio::task::spawn_blocking(move || {
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut out = Vec::with_capacity(TABLES.len());
        for (index, (table, columns)) in TABLES.iter().enumerate() {
            let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
            let mut stmt = conn.prepare(&format!("SELECT {} FROM {table}", names.join(", ")))?;
            let rows = stmt
                .query_map([], |row| {
                    (0..names.len())
                        .map(|i| row.get::<_, Sql>(i))
                        .collect::<Result<Vec<_>, _>>()
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push((index, rows));
        }
        Ok::<_, StoreError>(out)
    })
    .await
    .map_err(|e| backend(format!("reading the SQLite database failed: {e}")))??;

    let mut conn = target.writer().await?;
    let tx = conn.transaction().await.map_err(db)?;
    if !merge {
        for table in TABLES.iter().map(|(t, _)| *t).chain(["secret_store"]) {
            let any = tx
                .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])
                .await
                .map_err(db)?;
            if any.is_some() {
                return Err(backend(format!(
                    "the target database is not empty (table {table} has rows): copy into a new, empty database, or pass --merge to add the rows it lacks and keep the ones it has"
                )));
            }
        }
    }
    let mut report = Vec::with_capacity(TABLES.len());
    for (index, rows) in tables {
        let (table, columns) = TABLES[index];
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                names.join(", "),
                marks.join(", ")
            ))
            .await
            .map_err(db)?;
        let source_rows = rows.len() as u64;
        for row in rows {
            let params = row
                .into_iter()
                .zip(columns)
                .map(|(value, (column, kind))| param(value, *kind, table, column))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            tx.execute(&insert, &refs).await.map_err(db)?;
        }
        let target_rows: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await
            .map_err(db)?
            .get(0);
        report.push(TableCopy {
            table,
            source_rows,
            target_rows: target_rows as u64,
        });
    }
    if let Some(doc) = secrets {
        report.push(copy_secrets(&tx, doc).await?);
    }
    // New rows continue after the copied ones.
    tx.batch_execute(
        "SELECT setval('runs_ord_seq', COALESCE((SELECT MAX(ord) FROM runs), 0) + 1, false);
         SELECT setval(pg_get_serial_sequence('assets', 'seq'),
                       COALESCE((SELECT MAX(seq) FROM assets), 0) + 1, false);
         SELECT setval(pg_get_serial_sequence('spend_ledger', 'seq'),
                       COALESCE((SELECT MAX(seq) FROM spend_ledger), 0) + 1, false);",
    )
    .await
    .map_err(db)?;
    if let Some(short) = report.iter().find(|t| t.target_rows < t.source_rows) {
        return Err(backend(format!(
            "table {} has {} rows after the copy but the source has {}; nothing was committed",
            short.table, short.target_rows, short.source_rows
        )));
    }
    tx.commit().await.map_err(db)?;
    Ok(report)
}
