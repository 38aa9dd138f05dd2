//! Turning a master key into the store's 32-byte root key: raw keys are used as they
//! are, passphrases are stretched with Argon2id (salt and parameters live in the file
//! header).

use std::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::SecretsError;
use crate::master_key::{MasterKey, RAW_KEY_LEN};

/// Length of the Argon2id salt, in bytes.
pub(crate) const SALT_LEN: usize = 16;

/// Largest memory cost accepted from a store file (4 GiB), so a doctored header cannot
/// make `open` allocate without bound.
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
/// Largest iteration count accepted.
const MAX_ITERATIONS: u32 = 64;
/// Largest parallelism accepted.
const MAX_PARALLELISM: u32 = 64;

/// Argon2id cost parameters used when a passphrase store is created or rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl KdfParams {
    /// Memory cost of the default parameters, in KiB: 64 MiB (RFC 9106 §4, the second
    /// recommended option). The key is derived once per start, so the cost is paid once.
    /// Stores sealed with other parameters keep them (they are in the file header).
    pub const DEFAULT_MEMORY_KIB: u32 = 65_536;
    /// Iterations of the default parameters (RFC 9106: t = 3).
    pub const DEFAULT_ITERATIONS: u32 = 3;
    /// Parallelism of the default parameters (RFC 9106: p = 4 lanes).
    pub const DEFAULT_PARALLELISM: u32 = 4;

    /// Custom parameters (tests use cheap ones). Rejects values Argon2 does not accept
    /// or that are beyond what a store file may ask for.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, SecretsError> {
        if memory_kib > MAX_MEMORY_KIB {
            return Err(SecretsError::KdfParams {
                detail: format!("memory cost {memory_kib} KiB exceeds {MAX_MEMORY_KIB} KiB"),
            });
        }
        if iterations > MAX_ITERATIONS {
            return Err(SecretsError::KdfParams {
                detail: format!("{iterations} iterations exceed {MAX_ITERATIONS}"),
            });
        }
        if parallelism > MAX_PARALLELISM {
            return Err(SecretsError::KdfParams {
                detail: format!("parallelism {parallelism} exceeds {MAX_PARALLELISM}"),
            });
        }
        Params::new(memory_kib, iterations, parallelism, Some(RAW_KEY_LEN)).map_err(|e| {
            SecretsError::KdfParams {
                detail: e.to_string(),
            }
        })?;
        Ok(KdfParams {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory cost in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Degree of parallelism.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }
}

impl Default for KdfParams {
    /// m = 65536 KiB, t = 3, p = 4 (RFC 9106's second recommendation).
    fn default() -> Self {
        KdfParams {
            memory_kib: Self::DEFAULT_MEMORY_KIB,
            iterations: Self::DEFAULT_ITERATIONS,
            parallelism: Self::DEFAULT_PARALLELISM,
        }
    }
}

/// How a store's root key is obtained from its master key (recorded in the header).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kdf {
    /// The master key is a raw 32-byte key and is the root key.
    Raw,
    /// The master key is a passphrase stretched with Argon2id (v0x13).
    Argon2id {
        params: KdfParams,
        salt: [u8; SALT_LEN],
    },
}

impl fmt::Debug for Kdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kdf::Raw => f.write_str("Raw"),
            Kdf::Argon2id { params, .. } => f
                .debug_struct("Argon2id")
                .field("params", params)
                .finish_non_exhaustive(),
        }
    }
}

impl Kdf {
    /// The KDF for a new store (or a rotation) under `key`: a fresh random salt for
    /// passphrases.
    pub(crate) fn fresh_for(key: &MasterKey, params: KdfParams) -> Kdf {
        match key {
            MasterKey::Raw(_) => Kdf::Raw,
            MasterKey::Passphrase(_) => {
                let mut salt = [0u8; SALT_LEN];
                OsRng.fill_bytes(&mut salt);
                Kdf::Argon2id { params, salt }
            }
        }
    }

    /// Derives the root key, or `WrongMasterKey` when the kind of key does not match the
    /// kind the store was sealed with (a raw key for a passphrase store or vice versa).
    pub(crate) fn root_key(
        &self,
        key: &MasterKey,
    ) -> Result<Zeroizing<[u8; RAW_KEY_LEN]>, SecretsError> {
        match (self, key) {
            (Kdf::Raw, MasterKey::Raw(raw)) => Ok(raw.clone()),
            (Kdf::Argon2id { params, salt }, MasterKey::Passphrase(passphrase)) => {
                stretch(passphrase.as_bytes(), salt, *params)
            }
            _ => Err(SecretsError::WrongMasterKey),
        }
    }
}

fn stretch(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<Zeroizing<[u8; RAW_KEY_LEN]>, SecretsError> {
    let argon_params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(RAW_KEY_LEN),
    )
    .map_err(|e| SecretsError::KdfParams {
        detail: e.to_string(),
    })?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params.clone());
    let mut out = Zeroizing::new([0u8; RAW_KEY_LEN]);
    // Own the working memory so it is wiped afterwards (it holds passphrase-derived state).
    let mut blocks = Zeroizing::new(vec![Block::default(); argon_params.block_count()]);
    argon
        .hash_password_into_with_memory(passphrase, salt, &mut out[..], &mut blocks[..])
        .map_err(|_| SecretsError::Crypto {
            context: "Argon2id key stretching",
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> KdfParams {
        KdfParams::new(8, 1, 1).unwrap()
    }

    #[test]
    fn defaults_are_the_real_parameters() {
        let d = KdfParams::default();
        assert_eq!(
            (d.memory_kib(), d.iterations(), d.parallelism()),
            (65_536, 3, 4),
            "RFC 9106's second recommendation"
        );
    }

    #[test]
    fn out_of_range_params_are_rejected() {
        assert!(KdfParams::new(MAX_MEMORY_KIB + 1, 2, 1).is_err());
        assert!(KdfParams::new(19_456, 0, 1).is_err());
        assert!(KdfParams::new(19_456, MAX_ITERATIONS + 1, 1).is_err());
        assert!(KdfParams::new(19_456, 2, 0).is_err());
    }

    #[test]
    fn same_passphrase_and_salt_give_same_key_and_salt_matters() {
        let key = MasterKey::parse("a passphrase that is long").unwrap();
        let kdf = Kdf::fresh_for(&key, cheap());
        let a = kdf.root_key(&key).unwrap();
        let b = kdf.root_key(&key).unwrap();
        assert_eq!(a[..], b[..]);
        let other = Kdf::fresh_for(&key, cheap());
        assert_ne!(other.root_key(&key).unwrap()[..], a[..]);
    }

    #[test]
    fn key_kind_mismatch_is_wrong_key() {
        let pass = MasterKey::parse("a passphrase that is long").unwrap();
        let raw = MasterKey::parse(&crate::generate_master_key()).unwrap();
        let pass_kdf = Kdf::fresh_for(&pass, cheap());
        assert!(matches!(
            pass_kdf.root_key(&raw),
            Err(SecretsError::WrongMasterKey)
        ));
        assert!(matches!(
            Kdf::Raw.root_key(&pass),
            Err(SecretsError::WrongMasterKey)
        ));
    }

    #[test]
    fn debug_does_not_show_salt() {
        let key = MasterKey::parse("a passphrase that is long").unwrap();
        let shown = format!("{:?}", Kdf::fresh_for(&key, cheap()));
        assert!(!shown.contains("salt"), "{shown}");
    }
}
