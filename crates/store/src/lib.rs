//! ferry-store: the storage seams of ferry — one trait per aggregate, bundled as [`Storage`] — and
//! their embedded SQLite implementation (spec §5), plus the state-root lock.
//!
//! One database, `STATE_ROOT/ferry.db` (WAL, `synchronous=FULL`, versioned migrations),
//! holds runtime config, sessions, history, runs, run events, asset metadata, asset
//! derivations, video jobs, virtual keys, budget reservations and the spend ledger. A single writer thread
//! owns the only write connection and commits queued jobs in groups; reads use a small
//! pool of read-only connections. [`StateLock`] keeps two processes off one state root
//! and keeps it owner-only (0700, files 0600).

mod access;
mod assets;
mod clock;
mod connection;
mod error;
mod events;
mod json_column;
mod lock;
mod mailbox;
mod modes;
mod pool;
mod repos;
mod retention;
mod runs;
mod runtime_config;
mod schema;
mod sessions;
mod spend;
mod stats;
mod status;
mod store;
mod video_jobs;
mod wal_vfs;
mod writer;

pub use access::{KeyRow, ReservationRow};
pub use assets::{Asset, AssetFilter, AssetInsert, Derivation, NewAsset};
pub use clock::{format_rfc3339 as rfc3339, now_rfc3339};
pub use connection::skip_memory_statistics;
pub use error::{is_disk_full_io, StoreError};
pub use events::{NewEvent, RunEvent};
pub use ferry_types::{UsageError, UsageObject};
pub use lock::{StateLock, LOCK_FILE_NAME};
pub use modes::{restrict_umask, tighten};
pub use repos::{
    budget_fits, gcra, AccessRepo, AssetRepo, BlobLease, BudgetAccount, BudgetRepo, RateLeft,
    RateRefused, RateRepo, RateTake, RunRepo, RuntimeConfigRepo, SecretRepo, SessionRepo, Storage,
    UpkeepRepo, VideoJobRepo, SHARED_SECRETS_ORIGIN,
};
pub use retention::Pruned;
pub use runs::{
    message_roles, Creation, InsertOutcome, NewRun, Run, RunError, RunFilter, RunFinish, RunStart,
    SessionAtCreation,
};
pub use schema::SCHEMA_VERSION;
pub use sessions::{NewSession, Session, SessionPatch, StoredMessage};
pub use spend::{nanos_to_usd, LedgerEntry, SpendGroup, SpendGrouping};
pub use stats::{SessionTotals, StoreStats};
pub use status::{RunStatus, UnknownRunStatus};
pub use store::{Store, DB_FILE_NAME};
pub use video_jobs::{NewVideoJob, VideoJob, VideoJobUpdate};

/// The repository traits, for code that calls them on a concrete [`Store`].
pub mod prelude {
    pub use crate::repos::{
        AccessRepo, AssetRepo, RunRepo, RuntimeConfigRepo, SessionRepo, UpkeepRepo, VideoJobRepo,
    };
}
