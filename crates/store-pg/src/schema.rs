//! Versioned schema migrations on PostgreSQL. `schema_version` records how many steps of
//! [`MIGRATIONS`] the database has had; each step runs in its own transaction under a
//! transaction-scoped advisory lock, so replicas starting together apply it once and a
//! database from a newer ferry is refused.

use ferry_store::StoreError;

use crate::db_error;

/// The advisory lock key ferry's migrations take ("ferrymig" in ASCII).
const MIGRATION_LOCK: i64 = 0x6665_7272_796d_6967;

/// Migration steps; step `i` takes the schema from version `i` to `i + 1`. Timestamps and
/// JSON documents are text (see the crate docs); counters and sizes BIGINT.
const MIGRATIONS: &[&str] = &[
    // 1: the whole schema of the SQLite store's seven steps, in PostgreSQL's types.
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
        speak_replies TEXT,
        message_seq BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        session_id TEXT NOT NULL REFERENCES sessions(id),
        seq BIGINT NOT NULL,
        run_id TEXT,
        role TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    );
    CREATE SEQUENCE runs_ord_seq;
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
        cost DOUBLE PRECISION,
        output TEXT,
        error_code TEXT,
        error_message TEXT,
        attempts TEXT,
        idempotency_key TEXT,
        cache_status TEXT,
        generation_id TEXT,
        billed_cost DOUBLE PRECISION,
        ord BIGINT NOT NULL UNIQUE DEFAULT nextval('runs_ord_seq')
    );
    ALTER SEQUENCE runs_ord_seq OWNED BY runs.ord;
    CREATE UNIQUE INDEX runs_idempotency ON runs(session_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
    CREATE INDEX runs_session ON runs(session_id, ord);
    CREATE INDEX runs_created ON runs(created_at);
    CREATE INDEX runs_open ON runs(status) WHERE status IN ('queued', 'running');
    CREATE TABLE run_events (
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE assets (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size BIGINT NOT NULL,
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
    );
    CREATE TABLE video_jobs (
        id TEXT PRIMARY KEY,
        route TEXT NOT NULL,
        model TEXT NOT NULL,
        upstream_id TEXT NOT NULL,
        polling_url TEXT,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        run_id TEXT,
        asset_id TEXT,
        cost DOUBLE PRECISION,
        error_code TEXT,
        error_message TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX video_jobs_active ON video_jobs(created_at) WHERE finished_at IS NULL;
    CREATE TABLE access_keys (
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
        amount_nanos BIGINT NOT NULL,
        route TEXT NOT NULL,
        model TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE spend_ledger (
        seq BIGSERIAL PRIMARY KEY,
        at TEXT NOT NULL,
        key_id TEXT,
        route TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        prompt_tokens BIGINT,
        completion_tokens BIGINT,
        cost DOUBLE PRECISION,
        cost_nanos BIGINT NOT NULL,
        estimated INTEGER NOT NULL DEFAULT 0,
        billed_cost DOUBLE PRECISION,
        generation_id TEXT,
        run_id TEXT
    );
    CREATE INDEX spend_ledger_key_at ON spend_ledger(key_id, at);
    CREATE INDEX spend_ledger_at ON spend_ledger(at);
    CREATE INDEX spend_ledger_generation ON spend_ledger(generation_id)
        WHERE generation_id IS NOT NULL;",
    // 2: replicas (spec §15): each live `ferry serve` has a row with its heartbeat and
    // holds a session advisory lock on `lock_key` while it lives; a run records the
    // replica that owns it, so recovery interrupts only the runs of replicas that died.
    "CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        lock_key BIGINT NOT NULL UNIQUE,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    ALTER TABLE runs ADD COLUMN owner TEXT;",
    // 3: budget accounts shared by the replicas (spec §15): each key's current period
    // (unix seconds of its start) and spend in it, and what each replica holds reserved
    // for requests in flight (dropped with a dead replica's row).
    "CREATE TABLE budget_accounts (
        key_id TEXT PRIMARY KEY,
        period_start BIGINT NOT NULL,
        spent_nanos BIGINT NOT NULL
    );
    CREATE TABLE budget_holds (
        key_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        reserved_nanos BIGINT NOT NULL,
        PRIMARY KEY (key_id, owner)
    );",
    // 4: video jobs record the replica polling them, so a dead replica's jobs are taken
    // over by a live one.
    "ALTER TABLE video_jobs ADD COLUMN owner TEXT;",
    // 5: rate limits shared by the replicas: per key and limit (`requests`, `tokens`), the
    // GCRA theoretical arrival time of the next unit, in nanoseconds of the server clock.
    "CREATE TABLE rate_cells (
        key_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        tat_ns BIGINT NOT NULL,
        PRIMARY KEY (key_id, kind)
    );",
    // 6: the secret store shared by the replicas: the sealed document of `secrets.json`
    // — its header (KDF parameters, key check value, store authenticator) in the one
    // `secret_store` row with the generation each write advances, a row per sealed slot.
    "CREATE TABLE secret_store (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        generation BIGINT NOT NULL,
        header TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE secret_slots (
        ref TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        nonce TEXT NOT NULL,
        ciphertext TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`], one step per transaction, each under the
/// migration advisory lock (released at commit).
pub(crate) async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    loop {
        let tx = client.transaction().await.map_err(db_error::db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db_error::db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await
            .map_err(db_error::db)?;
        let found: i64 = match tx
            .query_opt("SELECT version FROM schema_version", &[])
            .await
            .map_err(db_error::db)?
        {
            Some(row) => row.get(0),
            None => {
                tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])
                    .await
                    .map_err(db_error::db)?;
                0
            }
        };
        if found > SCHEMA_VERSION {
            return Err(db_error::backend(format!(
                    "the database has schema version {found}, newer than this ferry supports ({SCHEMA_VERSION}); upgrade ferry"
            )));
        }
        let Some(step) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            tx.commit().await.map_err(db_error::db)?;
            return Ok(());
        };
        tx.batch_execute(step).await.map_err(db_error::db)?;
        tx.execute("UPDATE schema_version SET version = $1", &[&(found + 1)])
            .await
            .map_err(db_error::db)?;
        tx.commit().await.map_err(db_error::db)?;
        tracing::info!(version = found + 1, "migrated the PostgreSQL database");
    }
}
