//! The daemon's handle on the secret store: opened once at start with the master key,
//! shared by the API (set/delete/list) and the runs (key lookup). Values stay zeroizing;
//! the read lock is never held across an `.await`.
//!
//! Where the sealed store is kept:
//! - alone (SQLite): `STATE_ROOT/secrets.json`, written atomically on each change;
//! - on a database shared by replicas: its `secret_store`/`secret_slots` tables (the same
//!   sealed document). A change is staged from this replica's copy and kept only if no
//!   other replica wrote since (compare-and-set on the generation); otherwise the copy is
//!   reloaded and the change made again. Every [`SECRETS_REFRESH`] each replica notices
//!   another's change and reloads, verifying it with the keys it derived at start (the
//!   master key itself is not kept).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use ferry_secrets::{
    KdfParams, MasterKey, SealedDocument, SecretMeta, SecretStore, SecretsError, SetOutcome, Staged,
};
use ferry_store::{SecretRepo, StoreError, SHARED_SECRETS_ORIGIN};
use zeroize::Zeroizing;

/// How often a replica looks for another replica's change to the shared secret store.
pub const SECRETS_REFRESH: Duration = Duration::from_secs(1);

/// How many times a change is made again after other replicas wrote first.
const WRITE_ATTEMPTS: u32 = 8;

/// Where the sealed store is kept.
enum Keeper {
    /// `STATE_ROOT/secrets.json`.
    File(PathBuf),
    /// A shared database; `generation` is the one this replica's copy was read at.
    Shared {
        repo: Arc<dyn SecretRepo>,
        generation: RwLock<i64>,
    },
    /// A copy read once for inspection (`ferry doctor`); it cannot be changed.
    Snapshot(String),
}

/// Why a secret could not be stored, deleted or reloaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretsWriteError {
    /// The store refused (bad ref, empty value, no master key, damaged store…).
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The shared database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Other replicas kept changing the store while this change was made again.
    #[error(
        "the secret store kept changing on other replicas while this change was retried \
         {WRITE_ATTEMPTS} times; try again"
    )]
    Contended,
}

/// The store, or nothing when the daemon started without a master key and no store exists.
pub struct SecretsHandle {
    keeper: Keeper,
    inner: RwLock<Option<SecretStore>>,
    /// One change (or reload) at a time in this process; held across the write.
    writes: tokio::sync::Mutex<()>,
}

impl SecretsHandle {
    /// Opens the store under `state_root` with the key from the environment. Refuses when a
    /// store exists and no key (or a wrong key) is given.
    pub fn open(state_root: PathBuf, key: Option<&MasterKey>) -> Result<Self, SecretsError> {
        let store = SecretStore::open_optional(&state_root, key)?;
        Ok(SecretsHandle {
            keeper: Keeper::File(SecretStore::store_path(&state_root)),
            inner: RwLock::new(store),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// A read-only handle on a store read once from `origin` (`ferry doctor` checking a
    /// shared database's store): lookups work, changes are refused.
    pub fn snapshot(store: Option<SecretStore>, origin: &str) -> Self {
        SecretsHandle {
            keeper: Keeper::Snapshot(origin.to_owned()),
            inner: RwLock::new(store),
            writes: tokio::sync::Mutex::new(()),
        }
    }

    /// Opens the store a shared database keeps, with `key`. When the database has none yet
    /// and `state_root` holds `secrets.json`, that store moves in verbatim (after it opened
    /// with `key`), so the first replica of an existing install brings its secrets. Refuses
    /// a stored store without a key or with a wrong one.
    pub async fn open_shared(
        repo: Arc<dyn SecretRepo>,
        key: Option<&MasterKey>,
        state_root: &Path,
    ) -> Result<Self, SecretsWriteError> {
        let (store, generation) = match repo.load_secrets().await? {
            Some((doc, generation)) => {
                let key = key.ok_or(SecretsError::NoMasterKey)?;
                let store = SecretStore::open_document(SHARED_SECRETS_ORIGIN, doc, key)?;
                (Some(store), generation)
            }
            None => match key {
                None => (None, 0),
                Some(key) => Self::first_shared(repo.as_ref(), key, state_root).await?,
            },
        };
        Ok(SecretsHandle {
            keeper: Keeper::Shared {
                repo,
                generation: RwLock::new(generation),
            },
            inner: RwLock::new(store),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The shared store when the database has none: the state root's file store moved in,
    /// or a new empty one, written at once so that every replica opens the same header
    /// (a passphrase's salt is chosen once). A replica that loses the race to write it
    /// opens the winner's.
    async fn first_shared(
        repo: &dyn SecretRepo,
        key: &MasterKey,
        state_root: &Path,
    ) -> Result<(Option<SecretStore>, i64), SecretsWriteError> {
        let file = SecretStore::store_path(state_root);
        let (store, from_file) = match SecretStore::read_document(state_root)? {
            // Opened first: a wrong key or a damaged file must not reach the database.
            Some(doc) => (
                SecretStore::open_document(SHARED_SECRETS_ORIGIN, doc, key)?,
                true,
            ),
            None => (
                SecretStore::new_detached(SHARED_SECRETS_ORIGIN, key, KdfParams::default())?,
                false,
            ),
        };
        if let Some(generation) = repo.save_secrets(&store.document()?, 0).await? {
            if from_file {
                tracing::info!(
                    secrets = store.len(),
                    from = %file.display(),
                    "moved the state root's secret store into the shared database (sealed as it was); the file is no longer read"
                );
            }
            return Ok((Some(store), generation));
        }
        let Some((doc, generation)) = repo.load_secrets().await? else {
            return Err(SecretsWriteError::Contended);
        };
        if from_file {
            tracing::warn!(
                file = %file.display(),
                "another replica created the shared secret store first; this state root's secrets.json is not used"
            );
        }
        let store = SecretStore::open_document(SHARED_SECRETS_ORIGIN, doc, key)?;
        Ok((Some(store), generation))
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

    /// Stores a secret; kept (file written, or database committed) before returning.
    pub async fn set(
        &self,
        r: &str,
        provider: &str,
        value: Zeroizing<String>,
    ) -> Result<SetOutcome, SecretsWriteError> {
        let _one = self.writes.lock().await;
        for _ in 0..WRITE_ATTEMPTS {
            let (staged, outcome) = self.stage(|s| s.stage_set(r, provider, value.clone()))?;
            if self.keep(staged).await? {
                return Ok(outcome);
            }
            self.reload_locked().await?;
        }
        Err(SecretsWriteError::Contended)
    }

    /// Deletes a secret; false when it did not exist.
    pub async fn delete(&self, r: &str) -> Result<bool, SecretsWriteError> {
        let _one = self.writes.lock().await;
        for _ in 0..WRITE_ATTEMPTS {
            if self.is_locked() {
                return Ok(false);
            }
            let Some(staged) = self.stage(|s| s.stage_delete(r))? else {
                return Ok(false);
            };
            if self.keep(staged).await? {
                return Ok(true);
            }
            self.reload_locked().await?;
        }
        Err(SecretsWriteError::Contended)
    }

    /// Where the store lives (for `doctor` and messages).
    pub fn location(&self) -> String {
        match &self.keeper {
            Keeper::File(path) => path.display().to_string(),
            Keeper::Shared { .. } => SHARED_SECRETS_ORIGIN.to_owned(),
            Keeper::Snapshot(origin) => origin.clone(),
        }
    }

    /// On a shared database, re-reads the store every [`SECRETS_REFRESH`] when another
    /// replica changed it, until `stop` (the engine's drain). Nothing for a file store.
    pub(crate) fn spawn_refresh(self: &Arc<Self>, tasks: &TaskTracker, stop: CancellationToken) {
        if !matches!(self.keeper, Keeper::Shared { .. }) {
            return;
        }
        let handle = Arc::clone(self);
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(SECRETS_REFRESH) => {}
                }
                if let Err(e) = handle.refresh().await {
                    tracing::warn!(error = %e, "could not re-read the shared secret store; keeping the secrets as last read");
                }
            }
        });
    }

    /// Reloads the shared store when its generation moved since this copy was read.
    pub async fn refresh(&self) -> Result<(), SecretsWriteError> {
        let Keeper::Shared { repo, generation } = &self.keeper else {
            return Ok(());
        };
        if repo.secrets_generation().await? == *generation.read() {
            return Ok(());
        }
        let _one = self.writes.lock().await;
        self.reload_locked().await
    }

    /// Seals a change from this copy of the store.
    fn stage<T>(
        &self,
        f: impl FnOnce(&SecretStore) -> Result<T, SecretsError>,
    ) -> Result<T, SecretsError> {
        self.read(|s| match s {
            Some(store) => f(store),
            None => Err(SecretsError::NoMasterKey),
        })
    }

    /// Keeps a staged change where the store lives and applies it; false when another
    /// replica wrote first (nothing changed).
    async fn keep(&self, staged: Staged) -> Result<bool, SecretsWriteError> {
        match &self.keeper {
            Keeper::File(path) => {
                let bytes = staged.document().to_json()?;
                let path = path.clone();
                // The atomic write syncs the file and its directory: blocking work.
                tokio::task::spawn_blocking(move || ferry_secrets::write_store_file(&path, &bytes))
                    .await
                    .map_err(|e| StoreError::Backend {
                        backend: "secrets",
                        message: format!("the write task failed: {e}"),
                        disk_full: false,
                    })??;
            }
            Keeper::Snapshot(origin) => {
                return Err(SecretsError::NotAFile {
                    store: origin.clone(),
                }
                .into())
            }
            Keeper::Shared { repo, generation } => {
                let expected = *generation.read();
                match repo.save_secrets(staged.document(), expected).await? {
                    Some(next) => *generation.write() = next,
                    None => return Ok(false),
                }
            }
        }
        if let Some(store) = self.inner.write().as_mut() {
            store.apply(staged);
        }
        Ok(true)
    }

    /// Re-reads the shared store (the caller holds `writes`). A store this replica cannot
    /// open (another master key) leaves the copy as it was.
    async fn reload_locked(&self) -> Result<(), SecretsWriteError> {
        let Keeper::Shared { repo, generation } = &self.keeper else {
            return Ok(());
        };
        let Some((doc, at)) = repo.load_secrets().await? else {
            return Ok(());
        };
        self.replace(doc)?;
        *generation.write() = at;
        Ok(())
    }

    fn replace(&self, doc: SealedDocument) -> Result<(), SecretsError> {
        match self.inner.write().as_mut() {
            Some(store) => store.reload(doc),
            // Started without a master key: the store stays locked.
            None => Ok(()),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Option<SecretStore>) -> T) -> T {
        let guard = self.inner.read();
        f(&guard)
    }
}
