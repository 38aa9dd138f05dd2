//! The master key: where it comes from (`FERRY_MASTER_KEY` / `FERRY_MASTER_KEY_FILE`),
//! how its text is interpreted (raw 32-byte key or passphrase), and generating new keys.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::SecretsError;

/// Environment variable holding the master key (or passphrase) itself.
pub const MASTER_KEY_ENV: &str = "FERRY_MASTER_KEY";
/// Environment variable naming a file that holds the master key (or passphrase).
pub const MASTER_KEY_FILE_ENV: &str = "FERRY_MASTER_KEY_FILE";
/// Minimum passphrase length, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;
/// Length of a raw master key, in bytes.
pub const RAW_KEY_LEN: usize = 32;

/// A master key: either 32 raw bytes or a passphrase to stretch with Argon2id.
///
/// Both forms zeroize their memory on drop, and `Debug` never shows them.
#[derive(Clone)]
pub enum MasterKey {
    /// A random key, given as standard base64 of exactly 32 bytes.
    Raw(Zeroizing<[u8; RAW_KEY_LEN]>),
    /// Anything else: a passphrase of at least [`MIN_PASSPHRASE_CHARS`] characters.
    Passphrase(Zeroizing<String>),
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterKey::Raw(_) => f.write_str("MasterKey::Raw(<redacted>)"),
            MasterKey::Passphrase(_) => f.write_str("MasterKey::Passphrase(<redacted>)"),
        }
    }
}

impl MasterKey {
    /// Reads the master key from `FERRY_MASTER_KEY` or `FERRY_MASTER_KEY_FILE`.
    ///
    /// `Ok(None)` when neither is set (an empty variable counts as unset).
    pub fn from_env() -> Result<Option<MasterKey>, SecretsError> {
        let key = env_text(MASTER_KEY_ENV)?;
        let file = std::env::var_os(MASTER_KEY_FILE_ENV);
        let file_path = file.as_deref().map(Path::new);
        MasterKey::from_env_vars(key.as_ref().map(|k| k.as_str()), file_path)
    }

    /// The testable core of [`MasterKey::from_env`]: `key` is the value of
    /// `FERRY_MASTER_KEY`, `key_file` the value of `FERRY_MASTER_KEY_FILE`.
    ///
    /// Empty values count as unset; both set is an error. Trailing whitespace (such as
    /// the newline an editor or `echo` adds) is trimmed from either source.
    pub fn from_env_vars(
        key: Option<&str>,
        key_file: Option<&Path>,
    ) -> Result<Option<MasterKey>, SecretsError> {
        let key = key.filter(|k| !k.is_empty());
        let key_file = key_file.filter(|p| !p.as_os_str().is_empty());
        match (key, key_file) {
            (Some(_), Some(_)) => Err(SecretsError::BothKeySources),
            (None, None) => Ok(None),
            (Some(text), None) => MasterKey::parse(text.trim_end()).map(Some),
            (None, Some(path)) => {
                let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| {
                    SecretsError::KeyFileUnreadable {
                        path: path.to_path_buf(),
                        source,
                    }
                })?);
                let text = std::str::from_utf8(&bytes).map_err(|_| SecretsError::KeyNotText {
                    origin: path.display().to_string(),
                })?;
                MasterKey::parse(text.trim_end()).map(Some)
            }
        }
    }

    /// Interprets key text: standard base64 of exactly 32 bytes is a raw key, anything
    /// else a passphrase (at least [`MIN_PASSPHRASE_CHARS`] characters).
    pub fn parse(text: &str) -> Result<MasterKey, SecretsError> {
        if let Some(raw) = decode_raw_key(text) {
            return Ok(MasterKey::Raw(raw));
        }
        if text.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(SecretsError::PassphraseTooShort {
                min: MIN_PASSPHRASE_CHARS,
            });
        }
        Ok(MasterKey::Passphrase(Zeroizing::new(text.to_owned())))
    }
}

/// A new random master key: standard base64 of 32 bytes from the OS random source.
pub fn generate_master_key() -> String {
    let mut bytes = Zeroizing::new([0u8; RAW_KEY_LEN]);
    OsRng.fill_bytes(&mut bytes[..]);
    STANDARD.encode(&bytes[..])
}

fn decode_raw_key(text: &str) -> Option<Zeroizing<[u8; RAW_KEY_LEN]>> {
    // Base64 of 32 bytes is always 44 characters; checking first avoids decoding
    // passphrases of other lengths at all.
    if text.len() != 44 {
        return None;
    }
    let decoded = Zeroizing::new(STANDARD.decode(text).ok()?);
    if decoded.len() != RAW_KEY_LEN {
        return None;
    }
    let mut key = Zeroizing::new([0u8; RAW_KEY_LEN]);
    key.copy_from_slice(&decoded);
    Some(key)
}

fn env_text(name: &str) -> Result<Option<Zeroizing<String>>, SecretsError> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => match value.into_string() {
            Ok(text) => Ok(Some(Zeroizing::new(text))),
            Err(_) => Err(SecretsError::KeyNotText {
                origin: name.to_owned(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_parses_as_raw() {
        let text = generate_master_key();
        assert_eq!(text.len(), 44);
        let key = MasterKey::parse(&text).expect("generated key parses");
        assert!(matches!(key, MasterKey::Raw(_)));
        assert_ne!(generate_master_key(), text, "two keys must differ");
    }

    #[test]
    fn base64_of_other_lengths_is_a_passphrase() {
        // 33 bytes of base64 (44 chars, no padding) is not a raw key.
        let text = STANDARD.encode([7u8; 33]);
        assert_eq!(text.len(), 44);
        let key = MasterKey::parse(&text).expect("long enough passphrase");
        assert!(matches!(key, MasterKey::Passphrase(_)));
    }

    #[test]
    fn short_passphrase_is_rejected() {
        let err = MasterKey::parse("short-pass1").unwrap_err();
        assert!(matches!(err, SecretsError::PassphraseTooShort { min: 12 }));
        assert!(!err.to_string().contains("short-pass1"));
        assert!(MasterKey::parse("twelve-chars").is_ok());
    }

    #[test]
    fn passphrase_length_counts_characters_not_bytes() {
        // 11 characters, 22 bytes.
        assert!(MasterKey::parse("ééééééééééé").is_err());
    }

    #[test]
    fn both_sources_is_an_error() {
        let err = MasterKey::from_env_vars(
            Some("a passphrase long enough"),
            Some(Path::new("/nonexistent")),
        )
        .unwrap_err();
        assert!(matches!(err, SecretsError::BothKeySources));
    }

    #[test]
    fn neither_source_or_empty_values_is_none() {
        assert!(MasterKey::from_env_vars(None, None).unwrap().is_none());
        assert!(MasterKey::from_env_vars(Some(""), Some(Path::new("")))
            .unwrap()
            .is_none());
    }

    #[test]
    fn key_file_is_read_and_trailing_whitespace_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = generate_master_key();
        std::fs::write(&path, format!("{key}\n")).unwrap();
        let loaded = MasterKey::from_env_vars(None, Some(&path))
            .unwrap()
            .unwrap();
        match (&loaded, MasterKey::parse(&key).unwrap()) {
            (MasterKey::Raw(a), MasterKey::Raw(b)) => assert_eq!(a[..], b[..]),
            _ => panic!("expected raw keys"),
        }

        std::fs::write(&path, "correct horse battery staple \r\n").unwrap();
        match MasterKey::from_env_vars(None, Some(&path))
            .unwrap()
            .unwrap()
        {
            MasterKey::Passphrase(p) => assert_eq!(p.as_str(), "correct horse battery staple"),
            MasterKey::Raw(_) => panic!("expected a passphrase"),
        }
    }

    #[test]
    fn unreadable_key_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.key");
        let err = MasterKey::from_env_vars(None, Some(&path)).unwrap_err();
        assert!(matches!(err, SecretsError::KeyFileUnreadable { .. }));
        assert!(err.to_string().contains("missing.key"));
    }

    #[test]
    fn non_utf8_key_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("binary.key");
        std::fs::write(&path, [0xff, 0xfe, 0xfd, 0x00, 0x80]).unwrap();
        let err = MasterKey::from_env_vars(None, Some(&path)).unwrap_err();
        assert!(matches!(err, SecretsError::KeyNotText { .. }));
    }

    #[test]
    fn debug_redacts_key_material() {
        let pass = MasterKey::parse("a very secret passphrase").unwrap();
        let shown = format!("{pass:?}");
        assert!(!shown.contains("secret passphrase"), "{shown}");
        let text = generate_master_key();
        let raw = MasterKey::parse(&text).unwrap();
        assert_eq!(format!("{raw:?}"), "MasterKey::Raw(<redacted>)");
        assert_eq!(format!("{pass:?}"), "MasterKey::Passphrase(<redacted>)");
    }
}
