//! The state-root lock: an exclusive, non-blocking OS file lock on `STATE_ROOT/ferry.lock`
//! held for a process's whole life, so a second daemon or an offline mutating command
//! refuses instead of racing. The OS drops the lock when the file is closed or the
//! process dies, so a crash never leaves a stale lock behind.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// File name of the lock inside the state root.
pub const LOCK_FILE_NAME: &str = "ferry.lock";

/// Proof that this process exclusively owns a state root; released on drop.
#[derive(Debug)]
pub struct StateLock {
    file: File,
    path: PathBuf,
    tightened: Vec<PathBuf>,
}

impl StateLock {
    /// Creates `state_root` if needed and takes the exclusive lock on its `ferry.lock`,
    /// recording this process's pid in it. Fails with [`StoreError::StateRootLocked`]
    /// (naming the holder's pid when known) if another holder has it.
    ///
    /// Also keeps the state root private: the process umask becomes 0077 before anything
    /// is created, and once the lock is held anything under the root that other users
    /// could read is made owner-only ([`StateLock::tightened`] lists it, to warn about).
    pub fn acquire(state_root: &Path) -> Result<StateLock, StoreError> {
        crate::modes::restrict_umask();
        fs::create_dir_all(state_root).map_err(|source| StoreError::Io {
            action: "create state directory",
            path: state_root.to_path_buf(),
            source,
        })?;
        let path = state_root.join(LOCK_FILE_NAME);
        let io_err = |action, source| StoreError::Io {
            action,
            path: path.clone(),
            source,
        };
        // Not truncated on open: the current holder's pid must survive a failed attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err("open lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::StateRootLocked {
                    path: state_root.to_path_buf(),
                    pid: read_pid(&mut file),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_err("lock", e)),
        }
        write_pid(&mut file, std::process::id()).map_err(|e| io_err("write lock file", e))?;
        let tightened = crate::modes::tighten(state_root).map_err(|source| StoreError::Io {
            action: "make the state directory private (chmod)",
            path: state_root.to_path_buf(),
            source,
        })?;
        Ok(StateLock {
            file,
            path,
            tightened,
        })
    }

    /// Paths under the state root that other users could read and that were made
    /// owner-only when the lock was taken (empty normally).
    pub fn tightened(&self) -> &[PathBuf] {
        &self.tightened
    }

    /// The lock file (`STATE_ROOT/ferry.lock`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Clear the pid so nobody reports a stopped process as the holder; the lock
        // itself is released when `file` closes right after.
        if let Err(e) = self.file.set_len(0) {
            tracing::debug!(error = %e, "could not clear state lock file");
        }
    }
}

fn write_pid(file: &mut File, pid: u32) -> std::io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{pid}")?;
    file.sync_data()
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    Read::take(&mut *file, 64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
