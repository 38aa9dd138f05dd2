//! The error type of the secret store.
//!
//! No variant ever carries a secret value, a master key or a passphrase: messages name
//! the file, the ref or the part that failed, and say how to fix it.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while loading a master key or using the store.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Both `FERRY_MASTER_KEY` and `FERRY_MASTER_KEY_FILE` were set.
    #[error(
        "both FERRY_MASTER_KEY and FERRY_MASTER_KEY_FILE are set: set only one of them \
         (prefer FERRY_MASTER_KEY_FILE, which keeps the key out of the environment)"
    )]
    BothKeySources,

    /// The file named by `FERRY_MASTER_KEY_FILE` could not be read.
    #[error("cannot read master key file {path} (FERRY_MASTER_KEY_FILE): {source}")]
    KeyFileUnreadable {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// The master key source is not UTF-8 text.
    #[error("the master key from {origin} is not valid UTF-8 text")]
    KeyNotText {
        /// Where the key came from (`FERRY_MASTER_KEY` or the key file path).
        origin: String,
    },

    /// A passphrase master key shorter than the minimum.
    #[error(
        "master key passphrase is too short: use at least {min} characters, or use a random \
         key printed by `ferry secrets generate`"
    )]
    PassphraseTooShort {
        /// The minimum passphrase length in characters.
        min: usize,
    },

    /// A master key is needed (a store exists, or a value is to be stored) but none was
    /// given.
    #[error(
        "no master key: set FERRY_MASTER_KEY to the key or passphrase (for an existing secret \
         store, the one it was created with; for a new store, e.g. the output of \
         `ferry secrets generate`), or FERRY_MASTER_KEY_FILE to a file containing it"
    )]
    NoMasterKey,

    /// The key check value did not open with the given key.
    #[error(
        "wrong master key: this store was sealed with a different FERRY_MASTER_KEY \
         (or FERRY_MASTER_KEY_FILE); use the key the store was created with, or the new key \
         if it was rotated"
    )]
    WrongMasterKey,

    /// The store is damaged or was modified behind ferry's back.
    #[error("secret store {store} is corrupted or was tampered with: {detail}")]
    Corrupted {
        /// Where the store is kept (its file, or its database tables).
        store: String,
        /// Which part failed (never a value).
        detail: String,
    },

    /// The store file was written by a format version this build does not know.
    #[error(
        "secret store {store} has format version {found}, but this ferry understands only \
         version {supported}: upgrade ferry"
    )]
    UnsupportedVersion {
        /// Where the store is kept.
        store: String,
        /// The version found in the file.
        found: u64,
        /// The version this build writes and reads.
        supported: u64,
    },

    /// `rotate` was asked to re-encrypt a store that does not exist.
    #[error("there is no secret store at {store}: nothing to rotate")]
    NoStore {
        /// Where the store was expected.
        store: String,
    },

    /// A store opened from a document kept elsewhere (a shared database) was asked to
    /// write itself to a file.
    #[error(
        "secret store {store} is kept in the daemon's database, not in a file: change it through \
         the daemon (`ferry secrets set …` without --offline)"
    )]
    NotAFile {
        /// Where the store is kept.
        store: String,
    },

    /// A ref that does not follow the grammar.
    #[error("invalid secret ref: {reason}")]
    InvalidRef {
        /// What is wrong with it.
        reason: String,
    },

    /// A provider name that does not follow the grammar.
    #[error("invalid provider name: {reason}")]
    InvalidProvider {
        /// What is wrong with it.
        reason: String,
    },

    /// An empty (or whitespace-only) secret value.
    #[error("secret value is empty: nothing to store")]
    EmptyValue,

    /// Argon2 parameters out of range.
    #[error("invalid Argon2id parameters: {detail}")]
    KdfParams {
        /// What is wrong with them.
        detail: String,
    },

    /// A cryptographic primitive failed where it cannot fail with valid inputs.
    #[error("cryptographic operation failed: {context}")]
    Crypto {
        /// Which operation.
        context: &'static str,
    },

    /// The store could not be serialized.
    #[error("cannot encode secret store: {source}")]
    Encode {
        /// The serializer error.
        #[source]
        source: serde_json::Error,
    },

    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

impl SecretsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        SecretsError::Io {
            path: path.into(),
            source,
        }
    }

    /// The store kept at `store` is damaged (`detail` says which part, never a value).
    pub fn corrupted(store: &str, detail: impl Into<String>) -> Self {
        SecretsError::Corrupted {
            store: store.to_owned(),
            detail: detail.into(),
        }
    }
}
