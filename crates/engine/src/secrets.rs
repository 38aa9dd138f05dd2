//! The daemon's handle on the secret store: opened once at start with the master key,
//! shared by the API (set/delete/list) and the runs (key lookup). Values stay zeroizing;
//! the lock is never held across an `.await`.

use parking_lot::RwLock;
use std::path::PathBuf;

use ferry_secrets::{MasterKey, SecretMeta, SecretStore, SecretsError, SetOutcome};
use zeroize::Zeroizing;

/// The store, or nothing when the daemon started without a master key and no store exists.
pub struct SecretsHandle {
    state_root: PathBuf,
    inner: RwLock<Option<SecretStore>>,
}

impl SecretsHandle {
    /// Opens the store under `state_root` with the key from the environment. Refuses when a
    /// store exists and no key (or a wrong key) is given.
    pub fn open(state_root: PathBuf, key: Option<&MasterKey>) -> Result<Self, SecretsError> {
        let store = SecretStore::open_optional(&state_root, key)?;
        Ok(SecretsHandle {
            state_root,
            inner: RwLock::new(store),
        })
    }

    /// True when the daemon has no master key and cannot store secrets.
    pub fn is_locked(&self) -> bool {
        self.read(|s| s.is_none())
    }

    /// A secret's value.
    pub fn get(&self, r: &str) -> Option<Zeroizing<String>> {
        self.read(|s| s.as_ref().and_then(|s| s.get(r)))
    }

    /// Whether a secret exists.
    pub fn contains(&self, r: &str) -> bool {
        self.read(|s| s.as_ref().is_some_and(|s| s.contains(r)))
    }

    /// Metadata of every secret.
    pub fn list(&self) -> Vec<SecretMeta> {
        self.read(|s| s.as_ref().map(|s| s.list()).unwrap_or_default())
    }

    /// Stores a secret (persisted atomically before returning).
    pub fn set(
        &self,
        r: &str,
        provider: &str,
        value: Zeroizing<String>,
    ) -> Result<SetOutcome, SecretsError> {
        let mut guard = self.inner.write();
        match guard.as_mut() {
            Some(store) => store.set(r, provider, value),
            None => Err(SecretsError::NoMasterKey),
        }
    }

    /// Deletes a secret; false when it did not exist.
    pub fn delete(&self, r: &str) -> Result<bool, SecretsError> {
        let mut guard = self.inner.write();
        match guard.as_mut() {
            Some(store) => store.delete(r),
            None => Ok(false),
        }
    }

    /// Where the store lives.
    pub fn path(&self) -> PathBuf {
        SecretStore::store_path(&self.state_root)
    }

    fn read<T>(&self, f: impl FnOnce(&Option<SecretStore>) -> T) -> T {
        let guard = self.inner.read();
        f(&guard)
    }
}
