//! The secret store itself: opening and verifying `STATE_ROOT/secrets.json`, reading,
//! setting and deleting slots (each change persisted atomically before it returns), and
//! rotating the master key.
//!
//! Decrypted values are kept in memory for the life of the store, in `Zeroizing`
//! strings; the sealed form of every slot is kept beside them so that a write re-seals
//! only the slot that changed.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::atomic::write_atomically;
use crate::cipher::{Sealed, SubKeys};
use crate::error::SecretsError;
use crate::fingerprint::{fingerprint, OPENROUTER_KEY_PREFIX};
use crate::format::{self, SlotRecord};
use crate::kdf::{Kdf, KdfParams};
use crate::master_key::MasterKey;
use crate::validate::{validate_provider, validate_ref};

/// File name of the store inside the state root.
pub const STORE_FILE_NAME: &str = "secrets.json";

/// A store file larger than this is refused as corrupted rather than read.
const MAX_STORE_BYTES: u64 = 16 * 1024 * 1024;

pub use ferry_types::SecretMeta;

/// The result of [`SecretStore::set`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetOutcome {
    /// True when the ref did not exist before.
    pub created: bool,
    /// Things the user probably wants to know (the value was stored regardless).
    pub warnings: Vec<String>,
    /// The slot as stored.
    pub meta: SecretMeta,
}

impl From<SetOutcome> for ferry_types::SecretStored {
    fn from(o: SetOutcome) -> Self {
        ferry_types::SecretStored {
            secret: o.meta,
            created: o.created,
            warnings: o.warnings,
        }
    }
}

struct Slot {
    record: SlotRecord,
    value: Zeroizing<String>,
}

impl Slot {
    fn meta(&self) -> SecretMeta {
        SecretMeta {
            r#ref: self.record.r#ref.clone(),
            provider: self.record.provider.clone(),
            fingerprint: fingerprint(&self.value),
            updated_at: self.record.updated_at.clone(),
        }
    }
}

/// An open, verified secret store. See the module docs for what is held in memory.
pub struct SecretStore {
    path: PathBuf,
    kdf: Kdf,
    keys: SubKeys,
    key_check: Sealed,
    slots: BTreeMap<String, Slot>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("path", &self.path)
            .field("kdf", &self.kdf)
            .field("refs", &self.slots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// `STATE_ROOT/secrets.json`.
    pub fn store_path(state_root: &Path) -> PathBuf {
        state_root.join(STORE_FILE_NAME)
    }

    /// True when a store file exists under the state root.
    pub fn exists(state_root: &Path) -> bool {
        Self::store_path(state_root).is_file()
    }

    /// Opens and fully verifies the store. A missing file is an empty store, created on
    /// the first write; a passphrase key then uses the default Argon2id parameters.
    pub fn open(state_root: &Path, key: &MasterKey) -> Result<SecretStore, SecretsError> {
        Self::open_with_params(state_root, key, KdfParams::default())
    }

    /// Like [`SecretStore::open`], with the Argon2id parameters to use if the store has
    /// to be created (an existing store always uses the parameters in its header).
    pub fn open_with_params(
        state_root: &Path,
        key: &MasterKey,
        params: KdfParams,
    ) -> Result<SecretStore, SecretsError> {
        let path = Self::store_path(state_root);
        match read_store_file(&path)? {
            None => Self::create_empty(path, key, params),
            Some(bytes) => Self::load(path, &bytes, key),
        }
    }

    /// What the daemon does at start: `Ok(None)` when there is neither a store nor a
    /// key, `NoMasterKey` when a store exists but no key was given, otherwise
    /// [`SecretStore::open`].
    pub fn open_optional(
        state_root: &Path,
        key: Option<&MasterKey>,
    ) -> Result<Option<SecretStore>, SecretsError> {
        match key {
            Some(key) => Self::open(state_root, key).map(Some),
            None if Self::exists(state_root) => Err(SecretsError::NoMasterKey),
            None => Ok(None),
        }
    }

    /// The store file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when there are no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The value of a slot.
    pub fn get(&self, r#ref: &str) -> Option<Zeroizing<String>> {
        self.slots.get(r#ref).map(|s| s.value.clone())
    }

    /// True when the slot exists.
    pub fn contains(&self, r#ref: &str) -> bool {
        self.slots.contains_key(r#ref)
    }

    /// Metadata of the slot, if it exists.
    pub fn meta(&self, r#ref: &str) -> Option<SecretMeta> {
        self.slots.get(r#ref).map(Slot::meta)
    }

    /// Metadata of every slot, sorted by ref.
    pub fn list(&self) -> Vec<SecretMeta> {
        self.slots.values().map(Slot::meta).collect()
    }

    /// Stores a value (sealed with a fresh nonce) and persists the store atomically
    /// before returning. On error nothing changes, in memory or on disk.
    pub fn set(
        &mut self,
        r#ref: &str,
        provider: &str,
        value: Zeroizing<String>,
    ) -> Result<SetOutcome, SecretsError> {
        validate_ref(r#ref)?;
        validate_provider(provider)?;
        if value.trim().is_empty() {
            return Err(SecretsError::EmptyValue);
        }
        let warnings = value_warnings(r#ref, provider, &value);
        let record = SlotRecord {
            r#ref: r#ref.to_owned(),
            provider: provider.to_owned(),
            updated_at: now_rfc3339(),
            sealed: self.keys.seal_value(r#ref, provider, &value)?,
        };

        let mut records: Vec<&SlotRecord> = self
            .slots
            .values()
            .map(|s| &s.record)
            .filter(|r| r.r#ref != record.r#ref)
            .collect();
        records.push(&record);
        records.sort_by(|a, b| a.r#ref.cmp(&b.r#ref));
        self.persist(&records)?;

        let slot = Slot { record, value };
        let meta = slot.meta();
        let created = self.slots.insert(r#ref.to_owned(), slot).is_none();
        Ok(SetOutcome {
            created,
            warnings,
            meta,
        })
    }

    /// Removes a slot and persists the store atomically. `Ok(false)` when it did not
    /// exist (nothing is written then).
    pub fn delete(&mut self, r#ref: &str) -> Result<bool, SecretsError> {
        if !self.slots.contains_key(r#ref) {
            return Ok(false);
        }
        let records: Vec<&SlotRecord> = self
            .slots
            .values()
            .map(|s| &s.record)
            .filter(|r| r.r#ref != r#ref)
            .collect();
        self.persist(&records)?;
        self.slots.remove(r#ref);
        Ok(true)
    }

    /// Re-encrypts every slot under `new` (a passphrase gets a fresh salt and the
    /// default Argon2id parameters) and replaces the file in one atomic rename.
    /// Returns the number of slots. Afterwards `old` fails with `WrongMasterKey`.
    pub fn rotate(
        state_root: &Path,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<usize, SecretsError> {
        Self::rotate_with_params(state_root, old, new, KdfParams::default())
    }

    /// Like [`SecretStore::rotate`], with the Argon2id parameters for a passphrase `new`.
    pub fn rotate_with_params(
        state_root: &Path,
        old: &MasterKey,
        new: &MasterKey,
        params: KdfParams,
    ) -> Result<usize, SecretsError> {
        let path = Self::store_path(state_root);
        let Some(bytes) = read_store_file(&path)? else {
            return Err(SecretsError::NoStore { path });
        };
        let current = Self::load(path.clone(), &bytes, old)?;

        let kdf = Kdf::fresh_for(new, params);
        let root = kdf.root_key(new)?;
        let keys = SubKeys::derive(&root)?;
        let key_check = keys.make_key_check()?;
        let records = current
            .slots
            .values()
            .map(|slot| {
                Ok(SlotRecord {
                    r#ref: slot.record.r#ref.clone(),
                    provider: slot.record.provider.clone(),
                    updated_at: slot.record.updated_at.clone(),
                    sealed: keys.seal_value(
                        &slot.record.r#ref,
                        &slot.record.provider,
                        &slot.value,
                    )?,
                })
            })
            .collect::<Result<Vec<_>, SecretsError>>()?;
        let refs: Vec<&SlotRecord> = records.iter().collect();
        let bytes = format::encode(&kdf, &key_check, &refs, &keys)?;
        write_atomically(&path, &bytes)?;
        Ok(records.len())
    }

    fn create_empty(
        path: PathBuf,
        key: &MasterKey,
        params: KdfParams,
    ) -> Result<SecretStore, SecretsError> {
        let kdf = Kdf::fresh_for(key, params);
        let root = kdf.root_key(key)?;
        let keys = SubKeys::derive(&root)?;
        let key_check = keys.make_key_check()?;
        Ok(SecretStore {
            path,
            kdf,
            keys,
            key_check,
            slots: BTreeMap::new(),
        })
    }

    fn load(path: PathBuf, bytes: &[u8], key: &MasterKey) -> Result<SecretStore, SecretsError> {
        let parsed = format::decode(&path, bytes)?;
        let root = parsed.kdf.root_key(key)?;
        let keys = SubKeys::derive(&root)?;
        if !keys.verify_key_check(&parsed.key_check) {
            return Err(SecretsError::WrongMasterKey);
        }

        let mut slots = BTreeMap::new();
        for record in parsed.slots {
            let plain = keys
                .open_value(&record.r#ref, &record.provider, &record.sealed)
                .ok_or_else(|| {
                    SecretsError::corrupted(
                        &path,
                        format!(
                            "slot {} failed authentication: its ciphertext, nonce, ref or \
                             provider was modified",
                            record.r#ref
                        ),
                    )
                })?;
            let text = std::str::from_utf8(&plain).map_err(|_| {
                SecretsError::corrupted(
                    &path,
                    format!("slot {} does not hold UTF-8 text", record.r#ref),
                )
            })?;
            let value = Zeroizing::new(text.to_owned());
            slots.insert(record.r#ref.clone(), Slot { record, value });
        }

        let records: Vec<&SlotRecord> = slots.values().map(|s| &s.record).collect();
        let transcript = format::transcript(&parsed.kdf, &parsed.key_check, &records);
        if !keys.verify(&transcript, &parsed.tag)? {
            return Err(SecretsError::corrupted(
                &path,
                "the file authenticator does not match: a slot was added, removed or \
                 reordered, or the header or an updated_at time was changed",
            ));
        }

        Ok(SecretStore {
            path,
            kdf: parsed.kdf,
            keys,
            key_check: parsed.key_check,
            slots,
        })
    }

    fn persist(&self, records: &[&SlotRecord]) -> Result<(), SecretsError> {
        let bytes = format::encode(&self.kdf, &self.key_check, records, &self.keys)?;
        write_atomically(&self.path, &bytes)
    }
}

/// Reads the store file; `Ok(None)` when it does not exist.
fn read_store_file(path: &Path) -> Result<Option<Vec<u8>>, SecretsError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SecretsError::io(path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| SecretsError::io(path, e))?
        .len();
    if len > MAX_STORE_BYTES {
        return Err(SecretsError::corrupted(
            path,
            format!("the file is {len} bytes, more than a store can hold ({MAX_STORE_BYTES})"),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_STORE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| SecretsError::io(path, e))?;
    Ok(Some(bytes))
}

fn value_warnings(r#ref: &str, provider: &str, value: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    if provider == "openrouter" && !value.starts_with(OPENROUTER_KEY_PREFIX) {
        warnings.push(format!(
            "value for {name} does not start with sk-or- — OpenRouter keys look like \
             sk-or-v1-…; check you pasted the key, not something else",
            name = r#ref
        ));
    }
    if value.trim() != value {
        warnings.push(format!(
            "value for {name} has leading or trailing whitespace (a newline from a file?); \
             it was stored as given",
            name = r#ref
        ));
    }
    warnings
}

/// Now, as RFC 3339 UTC with whole seconds (`2025-01-31T12:00:00Z`).
fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = now_rfc3339();
        assert!(now.ends_with('Z'), "{now}");
        assert!(OffsetDateTime::parse(&now, &Rfc3339).is_ok(), "{now}");
    }

    #[test]
    fn openrouter_warning_text() {
        let w = value_warnings("openrouter.primary", "openrouter", "not-a-key-value");
        assert_eq!(
            w,
            vec![
                "value for openrouter.primary does not start with sk-or- — OpenRouter keys \
                  look like sk-or-v1-…; check you pasted the key, not something else"
                    .to_owned()
            ]
        );
        assert!(value_warnings("a", "openrouter", "sk-or-v1-abcdef").is_empty());
        assert!(value_warnings("a", "other", "anything-goes").is_empty());
    }

    #[test]
    fn whitespace_warning() {
        let w = value_warnings("a", "other", "value\n");
        assert_eq!(w.len(), 1);
        assert!(!w[0].contains("value\n"));
    }
}
