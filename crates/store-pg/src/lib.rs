//! ferry-store-pg: the PostgreSQL backend of ferry's storage seams (spec §15). [`PgStore`]
//! implements every repository trait of `ferry-store` (sessions, runs and their events,
//! assets, video jobs, runtime config, team access, upkeep) on PostgreSQL ≥ 14 through
//! `tokio-postgres` and a `deadpool` pool, so several `ferry serve` replicas can share one
//! database.
//!
//! Invariants (the same contract the SQLite store keeps):
//! - every trait method is one transaction that commits before it returns (the spend
//!   ledger's `*_nowait` writes go through one batching task and every ledger read settles
//!   it first);
//! - order comes from explicit columns filled in the inserting transaction (`runs.ord`,
//!   `assets.seq`, `spend_ledger.seq` from sequences; history seqs from the session's
//!   `message_seq` counter, taken under the session row's lock);
//! - timestamps are stored as the same fixed-width RFC 3339 text the SQLite store writes
//!   (`2026-01-02T03:04:05.678Z`), so they compare and group the same way on both, and
//!   JSON documents as text, so what a client sent comes back byte for byte (`jsonb` would
//!   reorder keys);
//! - migrations are versioned (`schema_version`) and applied under a transaction-scoped
//!   advisory lock, so replicas starting together migrate once.

mod access;
mod assets;
mod budgets;
mod cached;
mod columns;
mod db_error;
mod import;
mod ledger;
mod pool;
mod rates;
mod replica;
mod runs;
mod schema;
mod secrets;
mod sessions;
#[cfg(feature = "test-support")]
pub mod test_cluster;
mod upkeep;
mod video_jobs;

pub use import::{copy_from_sqlite, TableCopy};
pub use pool::{redact_url, PgStore};
pub use replica::{HEARTBEAT, LEASE};
pub use schema::SCHEMA_VERSION;
pub use secrets::read_shared_secrets;

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
