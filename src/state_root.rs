//! Taking the state-root lock for a command (`serve`, the `--offline` secret commands,
//! `onboard`): the lock also makes the state root owner-only (0700/0600, see
//! `ferry_store::StateLock::acquire`), and this is where the user is told when something
//! in it was readable by other users and has been fixed.

use std::path::Path;

use ferry_store::StateLock;

use crate::client::CliError;

/// Where the "made private" warning goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warn {
    /// The daemon's log (`serve`).
    Log,
    /// stderr (one-shot commands).
    Stderr,
}

/// Locks `root` (creating it owner-only) and warns about entries whose modes were fixed.
pub fn lock(root: &Path, warn: Warn) -> Result<StateLock, CliError> {
    let lock = StateLock::acquire(root).map_err(|e| CliError::fail(e.to_string()))?;
    let fixed = lock.tightened();
    if let Some(first) = fixed.first() {
        let message = format!(
            "{} path(s) in the state root {} were readable by other users (first: {}); made them owner-only (directories 0700, files 0600)",
            fixed.len(),
            root.display(),
            first.display()
        );
        match warn {
            Warn::Log => tracing::warn!(fixed = fixed.len(), "{message}"),
            Warn::Stderr => eprintln!("warning: {message}"),
        }
    }
    Ok(lock)
}
