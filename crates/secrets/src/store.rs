//! The secret store itself: opening and verifying a sealed document (`STATE_ROOT/secrets.json`,
//! or one kept in a shared database), reading, setting and deleting slots, and rotating the
//! master key. A file store persists each change atomically before it returns; a store kept
//! elsewhere stages each change as a whole sealed document for its keeper to write, then
//! applies it.
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
use crate::format::{self, SealedDocument, SlotRecord};
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
    /// Where the store is kept, for messages: its file, or its database tables.
    origin: String,
    /// The file a store opened from `secrets.json` writes; `None` for a store whose
    /// document is kept elsewhere (a shared database), changed with
    /// [`SecretStore::stage_set`] / [`SecretStore::apply`].
    file: Option<PathBuf>,
    kdf: Kdf,
    keys: SubKeys,
    key_check: Sealed,
    slots: BTreeMap<String, Slot>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("origin", &self.origin)
            .field("kdf", &self.kdf)
            .field("refs", &self.slots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A change sealed and ready to be kept: write [`Staged::document`] where the store
/// lives, then [`SecretStore::apply`] it. Until then nothing has changed.
pub struct Staged {
    document: SealedDocument,
    change: Change,
}

enum Change {
    Set(Slot),
    Delete(String),
}

impl Staged {
    /// The whole store as it is once the change is kept.
    pub fn document(&self) -> &SealedDocument {
        &self.document
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
        match Self::read_document(state_root)? {
            None => Ok(Self::create_empty(
                path.display().to_string(),
                Some(path),
                key,
                params,
            )?),
            Some(doc) => Self::open_parsed(path.display().to_string(), Some(path), doc, key),
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

    /// The sealed document in `STATE_ROOT/secrets.json`, structurally checked but not
    /// opened (no key needed); `Ok(None)` when there is no store file.
    pub fn read_document(state_root: &Path) -> Result<Option<SealedDocument>, SecretsError> {
        let path = Self::store_path(state_root);
        match read_store_file(&path)? {
            None => Ok(None),
            Some(bytes) => SealedDocument::from_json(&path.display().to_string(), &bytes).map(Some),
        }
    }

    /// Opens and fully verifies a document kept elsewhere than a file (`store` names
    /// where, for messages). Changes to it are made with [`SecretStore::stage_set`],
    /// [`SecretStore::stage_delete`] and [`SecretStore::apply`].
    pub fn open_document(
        store: &str,
        doc: SealedDocument,
        key: &MasterKey,
    ) -> Result<SecretStore, SecretsError> {
        Self::open_parsed(store.to_owned(), None, doc, key)
    }

    /// A new, empty store kept elsewhere than a file (a passphrase key gets a fresh salt
    /// and `params`); nothing exists until its first staged change is kept.
    pub fn new_detached(
        store: &str,
        key: &MasterKey,
        params: KdfParams,
    ) -> Result<SecretStore, SecretsError> {
        Self::create_empty(store.to_owned(), None, key, params)
    }

    /// Where the store is kept: its file's path, or its database tables.
    pub fn origin(&self) -> &str {
        &self.origin
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

    /// The sealed document of the store as it is.
    pub fn document(&self) -> Result<SealedDocument, SecretsError> {
        let records: Vec<&SlotRecord> = self.slots.values().map(|s| &s.record).collect();
        format::seal(&self.kdf, &self.key_check, &records, &self.keys)
    }

    /// Stores a value (sealed with a fresh nonce) and persists the store file atomically
    /// before returning. On error nothing changes, in memory or on disk.
    pub fn set(
        &mut self,
        r#ref: &str,
        provider: &str,
        value: Zeroizing<String>,
    ) -> Result<SetOutcome, SecretsError> {
        let (staged, outcome) = self.stage_set(r#ref, provider, value)?;
        self.write_file(&staged)?;
        self.apply(staged);
        Ok(outcome)
    }

    /// Removes a slot and persists the store file atomically. `Ok(false)` when it did
    /// not exist (nothing is written then).
    pub fn delete(&mut self, r#ref: &str) -> Result<bool, SecretsError> {
        let Some(staged) = self.stage_delete(r#ref)? else {
            return Ok(false);
        };
        self.write_file(&staged)?;
        self.apply(staged);
        Ok(true)
    }

    /// Seals `value` under `ref` (a fresh nonce) and the store around it, changing
    /// nothing yet; the outcome is what [`SecretStore::apply`] will make true.
    pub fn stage_set(
        &self,
        r#ref: &str,
        provider: &str,
        value: Zeroizing<String>,
    ) -> Result<(Staged, SetOutcome), SecretsError> {
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
        let document = format::seal(&self.kdf, &self.key_check, &records, &self.keys)?;

        let slot = Slot { record, value };
        let outcome = SetOutcome {
            created: !self.slots.contains_key(r#ref),
            warnings,
            meta: slot.meta(),
        };
        Ok((
            Staged {
                document,
                change: Change::Set(slot),
            },
            outcome,
        ))
    }

    /// The store without `ref`, changing nothing yet; `None` when there is no such slot.
    pub fn stage_delete(&self, r#ref: &str) -> Result<Option<Staged>, SecretsError> {
        if !self.slots.contains_key(r#ref) {
            return Ok(None);
        }
        let records: Vec<&SlotRecord> = self
            .slots
            .values()
            .map(|s| &s.record)
            .filter(|r| r.r#ref != r#ref)
            .collect();
        let document = format::seal(&self.kdf, &self.key_check, &records, &self.keys)?;
        Ok(Some(Staged {
            document,
            change: Change::Delete(r#ref.to_owned()),
        }))
    }

    /// Makes a staged change true in memory, once its document has been kept.
    pub fn apply(&mut self, staged: Staged) {
        match staged.change {
            Change::Set(slot) => {
                self.slots.insert(slot.record.r#ref.clone(), slot);
            }
            Change::Delete(r#ref) => {
                self.slots.remove(&r#ref);
            }
        }
    }

    /// Replaces the slots with those of `doc` (another process changed the store),
    /// verifying it fully with the keys this store was opened with. A document sealed
    /// under another master key is `WrongMasterKey`; on any error nothing changes.
    pub fn reload(&mut self, doc: SealedDocument) -> Result<(), SecretsError> {
        let parsed = format::decode(&self.origin, doc)?;
        if parsed.kdf != self.kdf || !self.keys.verify_key_check(&parsed.key_check) {
            return Err(SecretsError::WrongMasterKey);
        }
        self.slots = open_slots(&self.origin, &parsed, &self.keys)?;
        self.key_check = parsed.key_check;
        Ok(())
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
        let origin = path.display().to_string();
        let Some(doc) = Self::read_document(state_root)? else {
            return Err(SecretsError::NoStore { store: origin });
        };
        let (rotated, n) = Self::rotate_document(&origin, doc, old, new, params)?;
        write_atomically(&path, &rotated.to_json()?)?;
        Ok(n)
    }

    /// Opens `doc` with `old` and seals every slot again under `new` (a passphrase gets
    /// a fresh salt and `params`): the rotated document and its number of slots.
    pub fn rotate_document(
        store: &str,
        doc: SealedDocument,
        old: &MasterKey,
        new: &MasterKey,
        params: KdfParams,
    ) -> Result<(SealedDocument, usize), SecretsError> {
        let current = Self::open_parsed(store.to_owned(), None, doc, old)?;
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
        Ok((format::seal(&kdf, &key_check, &refs, &keys)?, records.len()))
    }

    fn create_empty(
        origin: String,
        file: Option<PathBuf>,
        key: &MasterKey,
        params: KdfParams,
    ) -> Result<SecretStore, SecretsError> {
        let kdf = Kdf::fresh_for(key, params);
        let root = kdf.root_key(key)?;
        let keys = SubKeys::derive(&root)?;
        let key_check = keys.make_key_check()?;
        Ok(SecretStore {
            origin,
            file,
            kdf,
            keys,
            key_check,
            slots: BTreeMap::new(),
        })
    }

    fn open_parsed(
        origin: String,
        file: Option<PathBuf>,
        doc: SealedDocument,
        key: &MasterKey,
    ) -> Result<SecretStore, SecretsError> {
        let parsed = format::decode(&origin, doc)?;
        let root = parsed.kdf.root_key(key)?;
        let keys = SubKeys::derive(&root)?;
        if !keys.verify_key_check(&parsed.key_check) {
            return Err(SecretsError::WrongMasterKey);
        }
        let slots = open_slots(&origin, &parsed, &keys)?;
        Ok(SecretStore {
            origin,
            file,
            kdf: parsed.kdf,
            keys,
            key_check: parsed.key_check,
            slots,
        })
    }

    fn write_file(&self, staged: &Staged) -> Result<(), SecretsError> {
        let Some(path) = &self.file else {
            return Err(SecretsError::NotAFile {
                store: self.origin.clone(),
            });
        };
        write_atomically(path, &staged.document.to_json()?)
    }
}

/// Opens every slot of a parsed document with `keys` and checks the store authenticator.
fn open_slots(
    origin: &str,
    parsed: &format::Parsed,
    keys: &SubKeys,
) -> Result<BTreeMap<String, Slot>, SecretsError> {
    let mut slots = BTreeMap::new();
    for record in &parsed.slots {
        let plain = keys
            .open_value(&record.r#ref, &record.provider, &record.sealed)
            .ok_or_else(|| {
                SecretsError::corrupted(
                    origin,
                    format!(
                        "slot {} failed authentication: its ciphertext, nonce, ref or \
                         provider was modified",
                        record.r#ref
                    ),
                )
            })?;
        let text = std::str::from_utf8(&plain).map_err(|_| {
            SecretsError::corrupted(
                origin,
                format!("slot {} does not hold UTF-8 text", record.r#ref),
            )
        })?;
        let value = Zeroizing::new(text.to_owned());
        slots.insert(
            record.r#ref.clone(),
            Slot {
                record: record.clone(),
                value,
            },
        );
    }

    let records: Vec<&SlotRecord> = slots.values().map(|s| &s.record).collect();
    let transcript = format::transcript(&parsed.kdf, &parsed.key_check, &records);
    if !keys.verify(&transcript, &parsed.tag)? {
        return Err(SecretsError::corrupted(
            origin,
            "the store authenticator does not match: a slot was added, removed or \
             reordered, or the header or an updated_at time was changed",
        ));
    }
    Ok(slots)
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
            &path.display().to_string(),
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
