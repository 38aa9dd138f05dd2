//! The store's error type: every failure of opening, locking, migrating, reading or
//! writing the state database, as one `thiserror` enum the API edge can map to codes.

use std::path::PathBuf;

use crate::status::RunStatus;

/// Any failure of the persistence layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the exclusive lock on the state root.
    #[error(
        "state root {} is in use by another ferry process{} — stop it first, or use the running daemon (omit --offline)",
        path.display(),
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    StateRootLocked {
        /// The state root directory.
        path: PathBuf,
        /// The holder's pid, when the lock file records one.
        pid: Option<u32>,
    },

    /// A filesystem operation on the state root failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The database was written by a newer ferry with a schema this build does not know.
    #[error(
        "database {} has schema version {found}, newer than this ferry supports ({supported}); upgrade ferry",
        path.display()
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The `user_version` found in the file.
        found: i64,
        /// The newest version this build can migrate to.
        supported: i64,
    },

    /// SQLite refused to switch the database to WAL journaling.
    #[error("database {} cannot use WAL journaling (journal mode stayed {mode:?})", path.display())]
    WalUnavailable {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported instead.
        mode: String,
    },

    /// An SQLite call failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// A call to another database backend (PostgreSQL) failed; `message` is the server's
    /// reason and code, never the connection string.
    #[error("{backend} error: {message}")]
    Backend {
        /// Which backend, e.g. `postgresql`.
        backend: &'static str,
        /// What went wrong.
        message: String,
        /// Whether the server ran out of disk space.
        disk_full: bool,
    },

    /// `create_session` for an id that already exists.
    #[error("session {id:?} already exists")]
    SessionExists {
        /// The session id.
        id: String,
    },

    /// The named session does not exist.
    #[error("session {id:?} not found")]
    SessionNotFound {
        /// The session id.
        id: String,
    },

    /// The named run does not exist.
    #[error("run {id:?} not found")]
    RunNotFound {
        /// The run id.
        id: String,
    },

    /// The named video job does not exist.
    #[error("video job {id:?} not found")]
    VideoJobNotFound {
        /// The job id.
        id: String,
    },
    /// The video job already finished and cannot change.
    #[error("video job {id:?} already finished")]
    VideoJobFinished {
        /// The job id.
        id: String,
    },
    /// The named asset does not exist.
    #[error("asset {id:?} not found")]
    AssetNotFound {
        /// The asset id.
        id: String,
    },

    /// A state change that the run's current status does not allow.
    #[error("run {id:?} is {current}; it cannot become {requested}")]
    InvalidTransition {
        /// The run id.
        id: String,
        /// The status the run has now.
        current: RunStatus,
        /// The status that was asked for.
        requested: RunStatus,
    },

    /// A history message given to `finish_run` is not a usable message object.
    #[error("history message {index} is invalid: {reason}")]
    InvalidMessage {
        /// Position of the message in `RunFinish::messages`.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A batch of run events overlaps seqs the run already stored.
    #[error("run {run_id:?} already has events stored in seq {first}..={last}; a run's events are written once")]
    EventsOverlap {
        /// The run.
        run_id: String,
        /// First seq of the refused batch.
        first: u64,
        /// Last seq of the refused batch.
        last: u64,
    },

    /// The write succeeded on its own but its group transaction did not commit.
    #[error("write was not committed: {message}")]
    GroupFailed {
        /// SQLite's reason for the failed group.
        message: String,
    },

    /// A write job panicked; its changes were rolled back.
    #[error("write job panicked; its changes were rolled back")]
    JobPanicked,

    /// A read task panicked or was cancelled.
    #[error("read task failed: {0}")]
    ReadTaskFailed(String),

    /// The writer thread has stopped (the store was closed).
    #[error("the store is closed")]
    Closed,

    /// A maintenance task (checkpoint) panicked or was cancelled.
    #[error("maintenance task failed: {0}")]
    MaintenanceFailed(String),
}

impl StoreError {
    /// Whether the failure is the disk (or the database's size limit) being full: the
    /// write may succeed once space is freed.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => {
                matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull))
            }
            StoreError::Io { source, .. } => is_disk_full_io(source),
            StoreError::GroupFailed { message } => message.contains("database or disk is full"),
            StoreError::Backend { disk_full, .. } => *disk_full,
            _ => false,
        }
    }
}

/// Whether an I/O error says the disk is full (ENOSPC, or EDQUOT: over quota).
pub fn is_disk_full_io(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
