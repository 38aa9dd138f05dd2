//! ferry-secrets: the encrypted secret store (`STATE_ROOT/secrets.json`, or the same sealed
//! document kept in a shared database's `secret_store`/`secret_slots` tables) and master key
//! handling.
//!
//! Values are sealed with XChaCha20-Poly1305 under a key derived from the master key
//! (`FERRY_MASTER_KEY` / `FERRY_MASTER_KEY_FILE`: a raw 32-byte key or an Argon2id-stretched
//! passphrase). A key check value tells a wrong key apart from a damaged file, and a
//! file-level authenticator detects any change to the slot list or header. See
//! `docs/security.md` for the threat model and file format.

mod atomic;
mod cipher;
mod error;
mod fingerprint;
mod format;
mod kdf;
mod master_key;
mod store;
mod validate;

pub use error::SecretsError;
pub use fingerprint::{fingerprint, OPENROUTER_KEY_PREFIX};
pub use format::{SealedDocument, SealedSlot};
pub use kdf::KdfParams;
pub use master_key::{
    generate_master_key, MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, MIN_PASSPHRASE_CHARS,
    RAW_KEY_LEN,
};
pub use store::{SecretMeta, SecretStore, SetOutcome, Staged, STORE_FILE_NAME};
pub use validate::{validate_provider, validate_ref, MAX_PROVIDER_LEN, MAX_REF_LEN};
pub use zeroize::Zeroizing;

/// Writes a store file atomically (temp file, fsync, rename, directory fsync; owner-only),
/// for a caller that stages changes itself ([`SecretStore::stage_set`]).
pub fn write_store_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), SecretsError> {
    atomic::write_atomically(path, bytes)
}
