//! The store's cryptography: per-purpose subkeys derived from the root key, sealing and
//! opening values with XChaCha20-Poly1305, the key check value, and the file-level
//! authenticator (keyed BLAKE2b-256 over a length-prefixed transcript).

use blake2::digest::consts::U32;
use blake2::digest::Mac;
use blake2::Blake2bMac;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::error::SecretsError;
use crate::master_key::RAW_KEY_LEN;

/// XChaCha20 nonce length.
pub(crate) const NONCE_LEN: usize = 24;
/// Length of the file authenticator.
pub(crate) const MAC_LEN: usize = 32;

const LABEL_SEAL: &[u8] = b"ferry-secrets/v1/subkey/slot-seal";
const LABEL_CHECK: &[u8] = b"ferry-secrets/v1/subkey/key-check";
const LABEL_MAC: &[u8] = b"ferry-secrets/v1/subkey/file-mac";

const DOMAIN_SLOT: &[u8] = b"ferry-secrets/v1/slot";
const DOMAIN_KEY_CHECK: &[u8] = b"ferry-secrets/v1/key-check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"ferry-secrets key check: this master key opens this store";

type Blake2bMac256 = Blake2bMac<U32>;

/// A sealed blob: the random nonce and the ciphertext with its 16-byte tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) ciphertext: Vec<u8>,
}

/// Independent keys for each purpose, derived from the root key so that no key is
/// used in two roles.
pub(crate) struct SubKeys {
    seal: Zeroizing<[u8; RAW_KEY_LEN]>,
    check: Zeroizing<[u8; RAW_KEY_LEN]>,
    mac: Zeroizing<[u8; RAW_KEY_LEN]>,
}

impl SubKeys {
    pub(crate) fn derive(root: &[u8; RAW_KEY_LEN]) -> Result<SubKeys, SecretsError> {
        Ok(SubKeys {
            seal: prf(root, LABEL_SEAL)?,
            check: prf(root, LABEL_CHECK)?,
            mac: prf(root, LABEL_MAC)?,
        })
    }

    /// Seals a slot value; the ref and provider are bound as associated data.
    pub(crate) fn seal_value(
        &self,
        r#ref: &str,
        provider: &str,
        value: &str,
    ) -> Result<Sealed, SecretsError> {
        seal(&self.seal, &slot_aad(r#ref, provider), value.as_bytes())
    }

    /// Opens a slot value; `None` if the ciphertext, nonce, ref or provider was altered.
    pub(crate) fn open_value(
        &self,
        r#ref: &str,
        provider: &str,
        sealed: &Sealed,
    ) -> Option<Zeroizing<Vec<u8>>> {
        open(&self.seal, &slot_aad(r#ref, provider), sealed)
    }

    /// A fresh key check value for this key.
    pub(crate) fn make_key_check(&self) -> Result<Sealed, SecretsError> {
        seal(&self.check, DOMAIN_KEY_CHECK, KEY_CHECK_PLAINTEXT)
    }

    /// True when the key check value was sealed under this key.
    pub(crate) fn verify_key_check(&self, sealed: &Sealed) -> bool {
        open(&self.check, DOMAIN_KEY_CHECK, sealed)
            .is_some_and(|plain| plain.as_slice() == KEY_CHECK_PLAINTEXT)
    }

    /// The file authenticator over a transcript.
    pub(crate) fn authenticate(
        &self,
        transcript: &Transcript,
    ) -> Result<[u8; MAC_LEN], SecretsError> {
        let mut mac = mac_instance(&self.mac)?;
        mac.update(&transcript.0);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&mac.finalize().into_bytes());
        Ok(out)
    }

    /// Checks the file authenticator in constant time.
    pub(crate) fn verify(&self, transcript: &Transcript, tag: &[u8]) -> Result<bool, SecretsError> {
        let mut mac = mac_instance(&self.mac)?;
        mac.update(&transcript.0);
        Ok(mac.verify_slice(tag).is_ok())
    }
}

/// An unambiguous byte encoding of a sequence of fields: a domain label, then each
/// field as a big-endian u64 length followed by its bytes.
pub(crate) struct Transcript(Vec<u8>);

impl Transcript {
    pub(crate) fn new(domain: &[u8]) -> Transcript {
        let mut t = Transcript(Vec::with_capacity(256));
        t.bytes(domain);
        t
    }

    pub(crate) fn bytes(&mut self, field: &[u8]) -> &mut Transcript {
        self.0
            .extend_from_slice(&(field.len() as u64).to_be_bytes());
        self.0.extend_from_slice(field);
        self
    }

    pub(crate) fn u64(&mut self, n: u64) -> &mut Transcript {
        self.bytes(&n.to_be_bytes())
    }
}

fn slot_aad(r#ref: &str, provider: &str) -> Vec<u8> {
    let mut t = Transcript::new(DOMAIN_SLOT);
    t.bytes(r#ref.as_bytes()).bytes(provider.as_bytes());
    t.0
}

fn mac_instance(key: &[u8; RAW_KEY_LEN]) -> Result<Blake2bMac256, SecretsError> {
    <Blake2bMac256 as Mac>::new_from_slice(key).map_err(|_| SecretsError::Crypto {
        context: "BLAKE2b key setup",
    })
}

fn prf(
    root: &[u8; RAW_KEY_LEN],
    label: &[u8],
) -> Result<Zeroizing<[u8; RAW_KEY_LEN]>, SecretsError> {
    let mut mac = mac_instance(root)?;
    mac.update(label);
    let mut out = Zeroizing::new([0u8; RAW_KEY_LEN]);
    let mut digest = mac.finalize().into_bytes();
    out.copy_from_slice(&digest);
    zeroize::Zeroize::zeroize(digest.as_mut_slice());
    Ok(out)
}

fn seal(key: &[u8; RAW_KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Result<Sealed, SecretsError> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SecretsError::Crypto {
            context: "XChaCha20-Poly1305 encryption",
        })?;
    Ok(Sealed { nonce, ciphertext })
}

fn open(key: &[u8; RAW_KEY_LEN], aad: &[u8], sealed: &Sealed) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = XChaCha20Poly1305::new(Key::from_slice(key));
    cipher
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(byte: u8) -> SubKeys {
        SubKeys::derive(&[byte; RAW_KEY_LEN]).unwrap()
    }

    #[test]
    fn value_round_trips_and_nonces_are_fresh() {
        let k = keys(1);
        let a = k
            .seal_value("openrouter.primary", "openrouter", "sk-or-v1-abc")
            .unwrap();
        let b = k
            .seal_value("openrouter.primary", "openrouter", "sk-or-v1-abc")
            .unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        let plain = k
            .open_value("openrouter.primary", "openrouter", &a)
            .unwrap();
        assert_eq!(plain.as_slice(), b"sk-or-v1-abc");
    }

    #[test]
    fn ref_and_provider_are_bound() {
        let k = keys(1);
        let s = k.seal_value("a", "openrouter", "value").unwrap();
        assert!(k.open_value("b", "openrouter", &s).is_none());
        assert!(k.open_value("a", "other", &s).is_none());
        // The length prefix keeps ("ab","c") distinct from ("a","bc").
        let s = k.seal_value("ab", "c", "value").unwrap();
        assert!(k.open_value("a", "bc", &s).is_none());
    }

    #[test]
    fn key_check_distinguishes_keys() {
        let check = keys(1).make_key_check().unwrap();
        assert!(keys(1).verify_key_check(&check));
        assert!(!keys(2).verify_key_check(&check));
    }

    #[test]
    fn subkeys_differ_per_purpose() {
        let k = keys(9);
        assert_ne!(k.seal[..], k.check[..]);
        assert_ne!(k.check[..], k.mac[..]);
        assert_ne!(k.seal[..], [9u8; RAW_KEY_LEN][..]);
    }

    #[test]
    fn authenticator_detects_changes() {
        let k = keys(3);
        let mut t = Transcript::new(b"test");
        t.bytes(b"one").u64(2);
        let tag = k.authenticate(&t).unwrap();
        assert!(k.verify(&t, &tag).unwrap());
        let mut t2 = Transcript::new(b"test");
        t2.bytes(b"one").u64(3);
        assert!(!k.verify(&t2, &tag).unwrap());
        assert!(!keys(4).verify(&t, &tag).unwrap());
    }
}
