//! Versioned schema migrations. `PRAGMA user_version` records how many steps of
//! [`MIGRATIONS`] a database has had; opening applies the missing ones in order, each in
//! its own transaction, and refuses a database from a newer ferry.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;

/// The spend ledger's columns after its `seq`, as step 6 created them and step 10 rebuilt
/// them (the rebuild must keep every column as it was).
macro_rules! spend_ledger_columns {
    () => {
        "
        at TEXT NOT NULL,
        key_id TEXT,
        route TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        cost REAL,
        cost_nanos INTEGER NOT NULL,
        estimated INTEGER NOT NULL DEFAULT 0,
        billed_cost REAL,
        generation_id TEXT,
        run_id TEXT
    );"
    };
}

/// Migration steps; step `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: runtime config, sessions, history, runs and run events.
    "CREATE TABLE runtime_config (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        pinned_selector TEXT,
        system_prompt TEXT,
        speak_replies TEXT
    );
    CREATE TABLE messages (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        seq INTEGER NOT NULL,
        run_id TEXT,
        role TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        input TEXT NOT NULL,
        route TEXT,
        model_requested TEXT,
        model_served TEXT,
        usage TEXT,
        cost REAL,
        output TEXT,
        error_code TEXT,
        error_message TEXT,
        attempts TEXT,
        idempotency_key TEXT,
        cache_status TEXT,
        generation_id TEXT
    );
    CREATE UNIQUE INDEX runs_idempotency ON runs(session_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX runs_session ON runs(session_id, created_at);
    CREATE TABLE run_events (
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );",
    // 2: assets (metadata of content-addressed blobs) and their derivations (transcripts).
    "CREATE TABLE assets (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        file_name TEXT,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (sha256, media_type)
    );
    CREATE INDEX assets_sha256 ON assets(sha256);
    CREATE TABLE asset_derivations (
        asset_id TEXT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        content TEXT NOT NULL,
        meta TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (asset_id, kind, model)
    );",
    // 3: the cost OpenRouter billed for a run (`GET /generation`), when reconciled.
    "ALTER TABLE runs ADD COLUMN billed_cost REAL;",
    // 4: video generation jobs, so polling resumes after a restart.
    "CREATE TABLE video_jobs (
        id TEXT PRIMARY KEY,
        route TEXT NOT NULL,
        model TEXT NOT NULL,
        upstream_id TEXT NOT NULL,
        polling_url TEXT,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        run_id TEXT,
        asset_id TEXT,
        cost REAL,
        error_code TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX video_jobs_active ON video_jobs(created_at) WHERE finished_at IS NULL;",
    // 5: retention pruning finds old runs by creation time.
    "CREATE INDEX runs_created ON runs(created_at);",
    // 6: team access (spec §14): virtual keys (only a hash of the secret), open budget
    // reservations (released at start: they belonged to a daemon that died), and the spend
    // ledger, one row per paid upstream call.
    concat!(
        "CREATE TABLE access_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        settings TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE spend_reservations (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        amount_nanos INTEGER NOT NULL,
        route TEXT NOT NULL,
        model TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE spend_ledger (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,",
        spend_ledger_columns!(),
        "
    CREATE INDEX spend_ledger_key_at ON spend_ledger(key_id, at);
    CREATE INDEX spend_ledger_at ON spend_ledger(at);
    CREATE INDEX spend_ledger_generation ON spend_ledger(generation_id)
        WHERE generation_id IS NOT NULL;"
    ),
    // 7: explicit order and sequence columns, so nothing above the store relies on SQLite's
    // rowid or on `MAX(seq) + 1`: runs get their creation order `ord` from a counter row
    // taken in the inserting transaction, sessions count their history messages
    // (`message_seq`, the last seq given).
    "CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    ALTER TABLE runs ADD COLUMN ord INTEGER;
    UPDATE runs SET ord = rowid;
    INSERT INTO counters (name, value) VALUES ('runs', (SELECT COALESCE(MAX(ord), 0) FROM runs));
    CREATE UNIQUE INDEX runs_ord ON runs(ord);
    ALTER TABLE sessions ADD COLUMN message_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE sessions SET message_seq =
        (SELECT COALESCE(MAX(seq), 0) FROM messages m WHERE m.session_id = sessions.id);",
    // 8: a batch of run events is one row (a run's end writes a dozen events: one row and
    // one index entry instead of a dozen of each); `events` is a JSON array of
    // `[kind, data]` pairs with seqs `first_seq..=last_seq`. Stored events move over one
    // row each (a payload that is not JSON, which ferry never wrote, is kept as a JSON
    // string rather than refusing to open), and the view `run_events` still shows one row
    // per event (and takes an insert of one, as a batch of one: for tools and scripts that
    // wrote the table).
    "CREATE TABLE run_event_batches (
        run_id TEXT NOT NULL REFERENCES runs(id),
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        events TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, first_seq),
        CHECK (last_seq >= first_seq)
    );
    INSERT INTO run_event_batches (run_id, first_seq, last_seq, events, created_at)
        SELECT run_id, seq, seq,
               json_array(json_array(kind,
                   CASE WHEN json_valid(data) THEN json(data) ELSE data END)),
               created_at
        FROM run_events ORDER BY run_id, seq;
    DROP TABLE run_events;
    CREATE VIEW run_events (run_id, seq, kind, data, created_at) AS
        SELECT b.run_id, b.first_seq + e.key, e.value ->> 0, e.value -> 1, b.created_at
        FROM run_event_batches b, json_each(b.events) e;
    CREATE TRIGGER run_events_insert INSTEAD OF INSERT ON run_events BEGIN
        INSERT INTO run_event_batches (run_id, first_seq, last_seq, events, created_at)
        VALUES (NEW.run_id, NEW.seq, NEW.seq,
                json_array(json_array(NEW.kind, json(NEW.data))), NEW.created_at);
    END;",
    // 9: the key index of the spend ledger holds keyed rows only. Every budget and report
    // query by key filters `key_id = ?`, which a partial index serves; the rows of calls
    // made without a key (a loopback daemon's, most of them) no longer each add an entry
    // to it (one b-tree insert, and one page per commit, fewer per call).
    "DROP INDEX spend_ledger_key_at;
    CREATE INDEX spend_ledger_key_at ON spend_ledger(key_id, at) WHERE key_id IS NOT NULL;",
    // 10: the spend ledger's `seq` without AUTOINCREMENT. AUTOINCREMENT keeps the largest
    // seq in `sqlite_sequence`, a row read and rewritten by every insert: one more page in
    // every commit that adds a ledger row (every paid call). Ledger rows are never deleted,
    // so a plain rowid key (the largest seq + 1) gives the same seqs. The table is rebuilt
    // (SQLite cannot drop AUTOINCREMENT in place), its rows and seqs kept; dropping the old
    // one removes its `sqlite_sequence` row.
    concat!(
        "CREATE TABLE spend_ledger_v10 (
        seq INTEGER PRIMARY KEY,",
        spend_ledger_columns!(),
        "
    INSERT INTO spend_ledger_v10 (seq, at, key_id, route, model, kind, prompt_tokens,
            completion_tokens, cost, cost_nanos, estimated, billed_cost, generation_id, run_id)
        SELECT seq, at, key_id, route, model, kind, prompt_tokens,
            completion_tokens, cost, cost_nanos, estimated, billed_cost, generation_id, run_id
        FROM spend_ledger ORDER BY seq;
    DROP TABLE spend_ledger;
    ALTER TABLE spend_ledger_v10 RENAME TO spend_ledger;
    CREATE INDEX spend_ledger_key_at ON spend_ledger(key_id, at) WHERE key_id IS NOT NULL;
    CREATE INDEX spend_ledger_at ON spend_ledger(at);
    CREATE INDEX spend_ledger_generation ON spend_ledger(generation_id)
        WHERE generation_id IS NOT NULL;"
    ),
    // 11: no `runs_created`. Retention walks `runs_ord` from the oldest run and stops at
    // the first one created inside its window (the planner already read `runs_ord` for
    // its `ORDER BY ord`), so the index served no query, while every run's creation added
    // an entry to it: one more page in every commit that creates runs.
    "DROP INDEX runs_created;",
    // 12: a run's creation order `ord` is one past the largest, read from the end of the
    // unique `runs_ord` index in the inserting transaction, instead of a counter row that
    // every creation read and rewrote (one more page in every commit that creates runs).
    // It is still an explicit column taken inside the store. Runs are deleted only by
    // retention, oldest first, so an order is given again only after every run above it
    // was pruned, when no stored run is ordered against it.
    "DROP TABLE counters;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Switches the database to `auto_vacuum = INCREMENTAL` (so retention pruning can shrink
/// the file), once: the change takes a `VACUUM`, done here outside any transaction (and
/// logged for an existing database, where it takes a moment).
pub(crate) fn ensure_incremental_vacuum(conn: &Connection) -> Result<(), StoreError> {
    const INCREMENTAL: i64 = 2;
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |row| row.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables > 0 {
        tracing::info!("switching the state database to incremental vacuum (once; a large file takes a moment)");
    }
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    // Takes effect only through a VACUUM once the file has a header (WAL mode writes one
    // at open); on a new database it is instant.
    conn.execute_batch("VACUUM;")?;
    Ok(())
}

/// Brings the database at `path` (open on `conn`) up to [`SCHEMA_VERSION`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    loop {
        // IMMEDIATE: the version is read under the write lock, so two openers can never
        // both apply the same step.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(step) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
        tracing::info!(version = found + 1, "migrated state database");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use crate::{NewRun, RunFilter, Store, DB_FILE_NAME};
    use serde_json::json;

    /// A database file in a new directory, migrated to `version` and filled by `sql`
    /// (which sets `user_version`), as an older build left it.
    fn database_at(version: usize, sql: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        for step in &MIGRATIONS[..version] {
            conn.execute_batch(step).unwrap();
        }
        conn.execute_batch(sql).unwrap();
        dir
    }

    /// Creates the queued run `id` in session `s` through the store.
    async fn create_run_in_s(store: &Store, id: &str) {
        store
            .create_run(NewRun {
                id: id.into(),
                session_id: "s".into(),
                input: json!({}),
                idempotency_key: None,
                acknowledged: false,
            })
            .await
            .unwrap();
    }

    /// The ids of the stored runs, newest first.
    async fn listed_run_ids(store: &Store) -> Vec<String> {
        let all = RunFilter {
            limit: 10,
            ..RunFilter::default()
        };
        let runs = store.list_runs_page(all).await.unwrap();
        runs.into_iter().map(|r| r.id).collect()
    }

    /// What `key_a` spent since 2026-01-01 12:00 UTC, as its budget reads it.
    async fn key_a_spend(store: &Store) -> Vec<(String, i64)> {
        let since = time::macros::datetime!(2026-01-01 12:00 UTC);
        let keys = vec![("key_a".to_owned(), since)];
        store.key_spend_since(keys).await.unwrap()
    }

    /// Every row `sql` answers on `conn`, each read by `row`.
    fn rows_of<T>(
        conn: &Connection,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], row).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// A database at version 6 (before explicit order and sequence columns) opens,
    /// migrates, reads back in its old order, and carries on numbering after it.
    #[tokio::test]
    async fn a_version_6_database_opens_and_reads_back() {
        let dir = database_at(
            6,
            "INSERT INTO sessions (id, created_at, updated_at)
                 VALUES ('s', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
             INSERT INTO messages (session_id, seq, role, body, created_at) VALUES
                 ('s', 1, 'user', '{\"role\":\"user\",\"content\":\"a\"}', '2026-01-01T00:00:00.000Z'),
                 ('s', 2, 'assistant', '{\"role\":\"assistant\",\"content\":\"b\"}', '2026-01-01T00:00:00.000Z');
             INSERT INTO runs (id, session_id, status, created_at, input) VALUES
                 ('run_z', 's', 'completed', '2026-01-01T00:00:00.000Z', '{}'),
                 ('run_a', 's', 'completed', '2026-01-01T00:00:00.000Z', '{}');
             PRAGMA user_version = 6;",
        );
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(listed_run_ids(&store).await, ["run_a", "run_z"]);
        create_run_in_s(&store, "run_new").await;
        assert_eq!(listed_run_ids(&store).await, ["run_new", "run_a", "run_z"]);
        let added = store
            .append_messages("s", vec![json!({"role": "user", "content": "c"})])
            .await
            .unwrap();
        assert_eq!(added[0].seq, 3);
        assert_eq!(store.history("s").await.unwrap().len(), 3);
    }

    /// A version-7 database's events (a row each) move to batch rows unchanged: read back
    /// with their seqs, kinds, payloads and times, still shown a row each by the
    /// `run_events` view, and the run's next events go after them.
    #[tokio::test]
    async fn a_version_7_database_keeps_its_events() {
        let dir = database_at(
            7,
            r#"INSERT INTO sessions (id, created_at, updated_at)
                 VALUES ('s', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
             INSERT INTO runs (id, session_id, status, created_at, input, ord) VALUES
                 ('r', 's', 'running', '2026-01-01T00:00:00.000Z', '{}', 1);
             INSERT INTO run_events (run_id, seq, kind, data, created_at) VALUES
                 ('r', 2, 'output.delta', '{"text":"b \"q\" é","n":1.5}', '2026-01-01T00:00:02.000Z'),
                 ('r', 3, 'hand.edited', '{not json', '2026-01-01T00:00:03.000Z'),
                 ('r', 1, 'run.started', '{"route":"main"}', '2026-01-01T00:00:01.000Z');
             PRAGMA user_version = 7;"#,
        );
        let store = Store::open(dir.path()).unwrap();
        let events = store.events_after("r", 0).await.unwrap();
        let read: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    e.seq,
                    e.kind.as_str(),
                    e.data.clone(),
                    e.created_at.as_str(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (
                    1,
                    "run.started",
                    json!({"route": "main"}),
                    "2026-01-01T00:00:01.000Z"
                ),
                (
                    2,
                    "output.delta",
                    json!({"text": "b \"q\" é", "n": 1.5}),
                    "2026-01-01T00:00:02.000Z"
                ),
                (
                    3,
                    "hand.edited",
                    json!("{not json"),
                    "2026-01-01T00:00:03.000Z"
                ),
            ]
        );
        store
            .append_events(
                "r",
                None,
                vec![crate::NewEvent::new(4, "output.delta", &json!({"text": "c"})).unwrap()],
            )
            .await
            .unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        conn.execute(
            "INSERT INTO run_events (run_id, seq, kind, data, created_at)
             VALUES ('r', 5, 'by.hand', '{\"a\": [1]}', '2026-01-01T00:00:05.000Z')",
            [],
        )
        .unwrap();
        let shown: Vec<(i64, String, String)> = rows_of(
            &conn,
            "SELECT seq, kind, data FROM run_events WHERE run_id = 'r' ORDER BY seq",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        );
        assert_eq!(
            shown,
            [
                (
                    1,
                    "run.started".to_owned(),
                    r#"{"route":"main"}"#.to_owned()
                ),
                (
                    2,
                    "output.delta".to_owned(),
                    r#"{"text":"b \"q\" é","n":1.5}"#.to_owned()
                ),
                (3, "hand.edited".to_owned(), r#""{not json""#.to_owned()),
                (4, "output.delta".to_owned(), r#"{"text":"c"}"#.to_owned()),
                (5, "by.hand".to_owned(), r#"{"a":[1]}"#.to_owned()),
            ]
        );
        assert_eq!(
            store.events_after("r", 4).await.unwrap()[0].data,
            json!({"a": [1]})
        );
    }

    /// A version-8 database's spend ledger keeps its rows, and its key index now holds
    /// keyed rows only: the budget query by key still searches that index, while a query
    /// for rows without a key no longer can (at version 8 it did).
    #[tokio::test]
    async fn a_version_8_ledger_indexes_keyed_rows_only() {
        let dir = database_at(
            8,
            "INSERT INTO spend_ledger (at, key_id, route, model, kind, cost_nanos) VALUES
                 ('2026-01-01T00:00:00.000Z', 'key_a', 'main', 'm', 'facade', 5),
                 ('2026-01-02T00:00:00.000Z', 'key_a', 'main', 'm', 'facade', 7),
                 ('2026-01-02T00:00:00.000Z', NULL, 'main', 'm', 'facade', 11);
             PRAGMA user_version = 8;",
        );
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(key_a_spend(&store).await, [("key_a".to_owned(), 7)]);
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        let plan = |sql: &str| -> String {
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .join("; ")
        };
        let by_key = plan(
            "SELECT SUM(cost_nanos) FROM spend_ledger WHERE key_id = 'key_a' AND at >= '2026'",
        );
        assert!(by_key.contains("INDEX spend_ledger_key_at"), "{by_key}");
        let keyless =
            plan("SELECT SUM(cost_nanos) FROM spend_ledger WHERE key_id IS NULL AND at >= '2026'");
        assert!(!keyless.contains("spend_ledger_key_at"), "{keyless}");
    }

    /// A version-11 database loses its counter row: a new run is still ordered after the
    /// stored ones, from the largest order in `runs_ord`.
    #[tokio::test]
    async fn a_version_11_database_orders_runs_without_a_counter() {
        let dir = database_at(
            11,
            "INSERT INTO sessions (id, created_at, updated_at)
                 VALUES ('s', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
             INSERT INTO runs (id, session_id, status, created_at, input, ord) VALUES
                 ('run_b', 's', 'completed', '2026-01-01T00:00:00.000Z', '{}', 7),
                 ('run_a', 's', 'completed', '2026-01-01T00:00:00.000Z', '{}', 3);
             UPDATE counters SET value = 7 WHERE name = 'runs';
             PRAGMA user_version = 11;",
        );
        let store = Store::open(dir.path()).unwrap();
        create_run_in_s(&store, "run_new").await;
        assert_eq!(listed_run_ids(&store).await, ["run_new", "run_b", "run_a"]);
        store.close().await;
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        let ord: i64 = conn
            .query_row("SELECT ord FROM runs WHERE id = 'run_new'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(ord, 8);
        let counters: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'counters'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(counters, 0, "the counter table is gone");
    }

    /// A version-10 database loses `runs_created`, and retention's walk reads `runs_ord`
    /// in order, without sorting.
    #[tokio::test]
    async fn a_version_10_database_drops_the_creation_time_index() {
        let dir = database_at(10, "PRAGMA user_version = 10;");
        Store::open(dir.path()).unwrap().close().await;
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        let indexes: Vec<String> = rows_of(
            &conn,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs'",
            |r| r.get(0),
        );
        assert!(!indexes.iter().any(|i| i == "runs_created"), "{indexes:?}");
        let plan: Vec<String> = rows_of(
            &conn,
            "EXPLAIN QUERY PLAN SELECT id, created_at < '2026' FROM runs ORDER BY ord",
            |r| r.get(3),
        );
        assert_eq!(plan, ["SCAN runs USING INDEX runs_ord"]);
    }

    /// A version-9 database's spend ledger keeps its rows and seqs, and loses
    /// AUTOINCREMENT: no `sqlite_sequence` row is read or written for it any more, the
    /// next row still gets the largest seq + 1, and the indexes are back.
    #[tokio::test]
    async fn a_version_9_ledger_keeps_its_rows_without_autoincrement() {
        let dir = database_at(
            9,
            "INSERT INTO spend_ledger (seq, at, key_id, route, model, kind, cost_nanos,
                     generation_id) VALUES
                 (1, '2026-01-01T00:00:00.000Z', 'key_a', 'main', 'm', 'facade', 5, 'gen-1'),
                 (4, '2026-01-02T00:00:00.000Z', 'key_a', 'main', 'm', 'facade', 7, NULL),
                 (9, '2026-01-02T00:00:00.000Z', NULL, 'main', 'm', 'session', 11, 'gen-9');
             PRAGMA user_version = 9;",
        );
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(key_a_spend(&store).await, [("key_a".to_owned(), 7)]);
        store.charge_nowait(crate::LedgerEntry {
            route: "main".to_owned(),
            model: "m".to_owned(),
            kind: "facade".to_owned(),
            cost_nanos: 13,
            ..Default::default()
        });
        store.close().await;
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        let rows: Vec<(i64, i64, Option<String>)> = rows_of(
            &conn,
            "SELECT seq, cost_nanos, generation_id FROM spend_ledger ORDER BY seq",
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        );
        assert_eq!(
            rows,
            [
                (1, 5, Some("gen-1".to_owned())),
                (4, 7, None),
                (9, 11, Some("gen-9".to_owned())),
                (10, 13, None)
            ]
        );
        let table: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'spend_ledger'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!table.to_uppercase().contains("AUTOINCREMENT"), "{table}");
        let sequenced: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_sequence WHERE name = 'spend_ledger'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sequenced, 0);
        let mut indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'spend_ledger'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        indexes.sort();
        assert_eq!(
            indexes,
            [
                "spend_ledger_at",
                "spend_ledger_generation",
                "spend_ledger_key_at"
            ]
        );
    }
}
