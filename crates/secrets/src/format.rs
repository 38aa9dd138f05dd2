//! The on-disk format of `secrets.json` (version 1): JSON encoding and decoding, the
//! structural checks done before any key is tried, and the canonical transcript the file
//! authenticator covers.
//!
//! ```json
//! {
//!   "format": "ferry-secrets",
//!   "version": 1,
//!   "kdf": { "algorithm": "argon2id", "version": 19, "memory_kib": 65536,
//!            "iterations": 3, "parallelism": 4, "salt": "<base64, 16 bytes>" },
//!   "cipher": "xchacha20poly1305",
//!   "key_check": { "nonce": "<base64, 24 bytes>", "ciphertext": "<base64>" },
//!   "slots": [ { "ref": "openrouter.primary", "provider": "openrouter",
//!                "updated_at": "2025-01-01T00:00:00Z",
//!                "nonce": "<base64>", "ciphertext": "<base64>" } ],
//!   "authenticator": { "algorithm": "blake2b-256-keyed", "tag": "<base64, 32 bytes>" }
//! }
//! ```
//!
//! A raw-key store has `"kdf": { "algorithm": "raw" }`.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cipher::{Sealed, SubKeys, Transcript, MAC_LEN, NONCE_LEN};
use crate::error::SecretsError;
use crate::kdf::{Kdf, KdfParams, SALT_LEN};
use crate::validate::{validate_provider, validate_ref};

/// The `format` field of every store file.
pub(crate) const FORMAT_NAME: &str = "ferry-secrets";
/// The format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u64 = 1;
const CIPHER_NAME: &str = "xchacha20poly1305";
const AUTHENTICATOR_NAME: &str = "blake2b-256-keyed";
const ARGON2_VERSION: u32 = 0x13;
const TRANSCRIPT_DOMAIN: &[u8] = b"ferry-secrets/v1/file";
/// Poly1305 tag length: every ciphertext is at least this long.
const TAG_LEN: usize = 16;

/// One stored slot as it is on disk (metadata plus the sealed value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotRecord {
    pub(crate) r#ref: String,
    pub(crate) provider: String,
    pub(crate) updated_at: String,
    pub(crate) sealed: Sealed,
}

/// A structurally valid store file whose cryptography has not been checked yet.
pub(crate) struct Parsed {
    pub(crate) kdf: Kdf,
    pub(crate) key_check: Sealed,
    /// Sorted by ref, refs unique.
    pub(crate) slots: Vec<SlotRecord>,
    pub(crate) tag: [u8; MAC_LEN],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    format: String,
    version: u64,
    kdf: KdfDoc,
    cipher: String,
    key_check: SealedDoc,
    slots: Vec<SlotDoc>,
    authenticator: AuthenticatorDoc,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase", deny_unknown_fields)]
enum KdfDoc {
    Raw,
    Argon2id {
        version: u32,
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        salt: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedDoc {
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotDoc {
    #[serde(rename = "ref")]
    r#ref: String,
    provider: String,
    updated_at: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticatorDoc {
    algorithm: String,
    tag: String,
}

/// Only the fields needed to decide whether the rest can be read at all.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    version: Option<serde_json::Value>,
}

/// The canonical transcript the file authenticator covers: every field of the file
/// except the authenticator tag itself, in a fixed order, length-prefixed.
pub(crate) fn transcript(kdf: &Kdf, key_check: &Sealed, slots: &[&SlotRecord]) -> Transcript {
    let mut t = Transcript::new(TRANSCRIPT_DOMAIN);
    t.bytes(FORMAT_NAME.as_bytes())
        .u64(FORMAT_VERSION)
        .bytes(CIPHER_NAME.as_bytes())
        .bytes(AUTHENTICATOR_NAME.as_bytes());
    match kdf {
        Kdf::Raw => {
            t.bytes(b"raw");
        }
        Kdf::Argon2id { params, salt } => {
            t.bytes(b"argon2id")
                .u64(u64::from(ARGON2_VERSION))
                .u64(u64::from(params.memory_kib()))
                .u64(u64::from(params.iterations()))
                .u64(u64::from(params.parallelism()))
                .bytes(salt);
        }
    }
    t.bytes(&key_check.nonce).bytes(&key_check.ciphertext);
    t.u64(slots.len() as u64);
    for slot in slots {
        t.bytes(slot.r#ref.as_bytes())
            .bytes(slot.provider.as_bytes())
            .bytes(slot.updated_at.as_bytes())
            .bytes(&slot.sealed.nonce)
            .bytes(&slot.sealed.ciphertext);
    }
    t
}

/// Serializes a store, computing its authenticator. `slots` must be sorted by ref.
pub(crate) fn encode(
    kdf: &Kdf,
    key_check: &Sealed,
    slots: &[&SlotRecord],
    keys: &SubKeys,
) -> Result<Vec<u8>, SecretsError> {
    let tag = keys.authenticate(&transcript(kdf, key_check, slots))?;
    let doc = FileDoc {
        format: FORMAT_NAME.to_owned(),
        version: FORMAT_VERSION,
        kdf: match kdf {
            Kdf::Raw => KdfDoc::Raw,
            Kdf::Argon2id { params, salt } => KdfDoc::Argon2id {
                version: ARGON2_VERSION,
                memory_kib: params.memory_kib(),
                iterations: params.iterations(),
                parallelism: params.parallelism(),
                salt: STANDARD.encode(salt),
            },
        },
        cipher: CIPHER_NAME.to_owned(),
        key_check: SealedDoc {
            nonce: STANDARD.encode(key_check.nonce),
            ciphertext: STANDARD.encode(&key_check.ciphertext),
        },
        slots: slots
            .iter()
            .map(|s| SlotDoc {
                r#ref: s.r#ref.clone(),
                provider: s.provider.clone(),
                updated_at: s.updated_at.clone(),
                nonce: STANDARD.encode(s.sealed.nonce),
                ciphertext: STANDARD.encode(&s.sealed.ciphertext),
            })
            .collect(),
        authenticator: AuthenticatorDoc {
            algorithm: AUTHENTICATOR_NAME.to_owned(),
            tag: STANDARD.encode(tag),
        },
    };
    let mut bytes =
        serde_json::to_vec_pretty(&doc).map_err(|source| SecretsError::Encode { source })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Parses and structurally checks a store file. Cryptographic checks are the caller's.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Parsed, SecretsError> {
    let corrupted = |detail: String| SecretsError::corrupted(path, detail);

    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| {
        corrupted(format!(
            "not a JSON object (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if probe.format.as_ref().and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        return Err(corrupted(format!(
            "the \"format\" field is missing or is not \"{FORMAT_NAME}\""
        )));
    }
    let version = probe
        .version
        .as_ref()
        .and_then(|v| v.as_u64())
        .ok_or_else(|| corrupted("the \"version\" field is missing or not a number".into()))?;
    if version != FORMAT_VERSION {
        return Err(SecretsError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }

    let doc: FileDoc = serde_json::from_slice(bytes)
        .map_err(|e| corrupted(format!("unexpected structure: {e}")))?;
    if doc.cipher != CIPHER_NAME {
        return Err(corrupted(format!(
            "unknown cipher (expected \"{CIPHER_NAME}\")"
        )));
    }
    if doc.authenticator.algorithm != AUTHENTICATOR_NAME {
        return Err(corrupted(format!(
            "unknown authenticator algorithm (expected \"{AUTHENTICATOR_NAME}\")"
        )));
    }
    let kdf = decode_kdf(doc.kdf).map_err(corrupted)?;
    let key_check = decode_sealed(&doc.key_check.nonce, &doc.key_check.ciphertext)
        .map_err(|what| corrupted(format!("key check value: {what}")))?;
    let tag: [u8; MAC_LEN] = decode_fixed(&doc.authenticator.tag)
        .map_err(|what| corrupted(format!("authenticator tag: {what}")))?;

    let mut slots: Vec<SlotRecord> = Vec::with_capacity(doc.slots.len());
    for (i, slot) in doc.slots.into_iter().enumerate() {
        let record =
            decode_slot(slot).map_err(|what| corrupted(format!("slot {}: {what}", i + 1)))?;
        if let Some(prev) = slots.last() {
            if prev.r#ref >= record.r#ref {
                return Err(corrupted(format!(
                    "slot {} ({}) is out of order or duplicates an earlier ref",
                    i + 1,
                    record.r#ref
                )));
            }
        }
        slots.push(record);
    }

    Ok(Parsed {
        kdf,
        key_check,
        slots,
        tag,
    })
}

fn decode_kdf(doc: KdfDoc) -> Result<Kdf, String> {
    match doc {
        KdfDoc::Raw => Ok(Kdf::Raw),
        KdfDoc::Argon2id {
            version,
            memory_kib,
            iterations,
            parallelism,
            salt,
        } => {
            if version != ARGON2_VERSION {
                return Err(format!("unsupported Argon2 version {version}"));
            }
            let params = KdfParams::new(memory_kib, iterations, parallelism)
                .map_err(|e| format!("kdf parameters: {e}"))?;
            let salt: [u8; SALT_LEN] =
                decode_fixed(&salt).map_err(|what| format!("kdf salt: {what}"))?;
            Ok(Kdf::Argon2id { params, salt })
        }
    }
}

fn decode_slot(doc: SlotDoc) -> Result<SlotRecord, String> {
    validate_ref(&doc.r#ref).map_err(|e| e.to_string())?;
    validate_provider(&doc.provider).map_err(|e| e.to_string())?;
    OffsetDateTime::parse(&doc.updated_at, &Rfc3339)
        .map_err(|_| "updated_at is not an RFC 3339 time".to_owned())?;
    let sealed = decode_sealed(&doc.nonce, &doc.ciphertext)?;
    Ok(SlotRecord {
        r#ref: doc.r#ref,
        provider: doc.provider,
        updated_at: doc.updated_at,
        sealed,
    })
}

fn decode_sealed(nonce: &str, ciphertext: &str) -> Result<Sealed, String> {
    let nonce: [u8; NONCE_LEN] = decode_fixed(nonce).map_err(|what| format!("nonce: {what}"))?;
    let ciphertext = STANDARD
        .decode(ciphertext)
        .map_err(|_| "ciphertext is not valid base64".to_owned())?;
    if ciphertext.len() < TAG_LEN {
        return Err("ciphertext is shorter than its authentication tag".to_owned());
    }
    Ok(Sealed { nonce, ciphertext })
}

fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| "not valid base64".to_owned())?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("expected {N} bytes, found {}", bytes.len()))
}
