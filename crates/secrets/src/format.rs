//! The sealed form of a secret store (version 1): the [`SealedDocument`] that is
//! `secrets.json` on disk and the rows of `secret_store`/`secret_slots` in a shared
//! database, its JSON encoding, the structural checks done before any key is tried, and
//! the canonical transcript the store authenticator covers. Nothing in it is specific to
//! where the document is kept, so a document moves between a file and a database
//! verbatim and still verifies.
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

/// A whole sealed store: its header (format, KDF parameters, key check value, store
/// authenticator) and its slots, each value sealed under the master key with its ref and
/// provider as associated data. It holds no plaintext; the authenticator covers every
/// field, so adding, removing, reordering or editing a slot is detected when the store is
/// opened, wherever the document was kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedDocument {
    format: String,
    version: u64,
    kdf: KdfDoc,
    cipher: String,
    key_check: SealedDoc,
    /// The slots, sorted by ref.
    pub slots: Vec<SealedSlot>,
    authenticator: AuthenticatorDoc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedDoc {
    nonce: String,
    ciphertext: String,
}

/// One sealed slot: its ref, provider and update time in the clear, its value as a
/// base64 nonce and XChaCha20-Poly1305 ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedSlot {
    /// The slot's ref (`openrouter.primary`).
    #[serde(rename = "ref")]
    pub r#ref: String,
    /// The provider the value is for.
    pub provider: String,
    /// When the value was stored (RFC 3339, UTC).
    pub updated_at: String,
    /// Base64 of the 24-byte nonce.
    pub nonce: String,
    /// Base64 of the ciphertext and its tag.
    pub ciphertext: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticatorDoc {
    algorithm: String,
    tag: String,
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

/// The sealed document of a store, with its authenticator. `slots` must be sorted by ref.
pub(crate) fn seal(
    kdf: &Kdf,
    key_check: &Sealed,
    slots: &[&SlotRecord],
    keys: &SubKeys,
) -> Result<SealedDocument, SecretsError> {
    let tag = keys.authenticate(&transcript(kdf, key_check, slots))?;
    Ok(SealedDocument {
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
            .map(|s| SealedSlot {
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
    })
}

impl SealedDocument {
    /// The document as `secrets.json` holds it (pretty JSON and a final newline).
    pub fn to_json(&self) -> Result<Vec<u8>, SecretsError> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|source| SecretsError::Encode { source })?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads a document from its JSON (`store` names where it was kept, for errors),
    /// checking its format and version; the cryptography is checked when it is opened.
    pub fn from_json(store: &str, bytes: &[u8]) -> Result<SealedDocument, SecretsError> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            SecretsError::corrupted(
                store,
                format!(
                    "not a JSON object (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        Self::from_value(store, value)
    }

    /// The header alone (everything but the slots), as JSON: what a database keeps in
    /// its one `secret_store` row beside a row per slot.
    pub fn header_json(&self) -> Result<String, SecretsError> {
        let mut value =
            serde_json::to_value(self).map_err(|source| SecretsError::Encode { source })?;
        if let Some(map) = value.as_object_mut() {
            map.remove("slots");
        }
        Ok(value.to_string())
    }

    /// Puts a document together from a header ([`SealedDocument::header_json`]) and its
    /// slots, checking it as [`SealedDocument::from_json`] does.
    pub fn from_parts(
        store: &str,
        header_json: &str,
        slots: Vec<SealedSlot>,
    ) -> Result<SealedDocument, SecretsError> {
        let mut value: serde_json::Value = serde_json::from_str(header_json)
            .map_err(|e| SecretsError::corrupted(store, format!("the header is not JSON: {e}")))?;
        let slots =
            serde_json::to_value(slots).map_err(|source| SecretsError::Encode { source })?;
        match value.as_object_mut() {
            Some(map) => {
                map.insert("slots".to_owned(), slots);
            }
            None => {
                return Err(SecretsError::corrupted(
                    store,
                    "the header is not a JSON object",
                ))
            }
        }
        Self::from_value(store, value)
    }

    fn from_value(store: &str, value: serde_json::Value) -> Result<SealedDocument, SecretsError> {
        let corrupted = |detail: String| SecretsError::corrupted(store, detail);
        let Some(fields) = value.as_object() else {
            return Err(corrupted("not a JSON object".to_owned()));
        };
        if fields.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(corrupted(format!(
                "the \"format\" field is missing or is not \"{FORMAT_NAME}\""
            )));
        }
        let version = fields
            .get("version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| corrupted("the \"version\" field is missing or not a number".into()))?;
        if version != FORMAT_VERSION {
            return Err(SecretsError::UnsupportedVersion {
                store: store.to_owned(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_value(value).map_err(|e| corrupted(format!("unexpected structure: {e}")))
    }
}

/// Structurally checks a document's fields. Cryptographic checks are the caller's.
pub(crate) fn decode(store: &str, doc: SealedDocument) -> Result<Parsed, SecretsError> {
    let corrupted = |detail: String| SecretsError::corrupted(store, detail);

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

fn decode_slot(doc: SealedSlot) -> Result<SlotRecord, String> {
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
