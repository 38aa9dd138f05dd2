//! The blob-store seam: where the bytes of assets live, addressed by their SHA-256.
//! [`BlobStore`] is the narrow trait the asset store uses; [`crate::FileBlobStore`]
//! (files under the state root) and [`crate::S3BlobStore`] (S3-compatible object storage)
//! implement it. Both verify hashes the same way, through [`verified`]: a put whose bytes
//! do not hash to the key is refused before anything is visible, and a get ends with an
//! error instead of its last chunk when the bytes read do not hash to the key.

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use sha2::{Digest, Sha256};

use crate::error::BlobError;

/// A blob's bytes, chunk by chunk. A get's stream ends with `Err` when the bytes read did
/// not hash to the key, so a consumer must not commit the bytes before the stream ended.
pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Where asset bytes live, keyed by lower-case hex SHA-256.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `body` under `sha256`, replacing what is there (so storing again repairs a
    /// damaged blob; storing the same bytes twice is harmless). The bytes are hashed as they
    /// are written: when they do not hash to `sha256`, nothing is stored and the answer is
    /// [`BlobError::Corrupted`]. Returns the number of bytes stored.
    async fn put(&self, sha256: &str, body: BlobStream) -> Result<u64, BlobError>;

    /// The blob's bytes, verified against `sha256` at the end of the stream.
    /// [`BlobError::Missing`] when there is no such blob.
    async fn get(&self, sha256: &str) -> Result<BlobStream, BlobError>;

    /// Whether a blob is stored under `sha256` (its bytes are not checked).
    async fn exists(&self, sha256: &str) -> Result<bool, BlobError>;

    /// Removes the blob (already gone is fine).
    async fn delete(&self, sha256: &str) -> Result<(), BlobError>;

    /// The hashes of every stored blob (for copying a store).
    async fn list(&self) -> Result<Vec<String>, BlobError>;

    /// Where the blob of `sha256` is, for messages (a path or an `s3://` URL).
    fn location(&self, sha256: &str) -> String;

    /// Where the store is, for messages (a directory or an `s3://` URL).
    fn describe(&self) -> String;
}

/// The relative key of a blob: `<first two hex digits>/<sha256>` (the same layout in
/// every store).
pub(crate) fn blob_key(sha256: &str) -> String {
    format!("{}/{sha256}", &sha256[..2])
}

/// Whether `name` is a blob hash (64 lower-case hex digits).
pub(crate) fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A one-chunk stream of bytes already in memory.
pub fn bytes_stream(bytes: Bytes) -> BlobStream {
    futures::stream::once(async move { Ok(bytes) }).boxed()
}

/// Passes `inner` through, hashing it; after the last chunk, yields
/// [`BlobError::Corrupted`] when the bytes did not hash to `sha256`.
pub(crate) fn verified(inner: BlobStream, sha256: &str) -> BlobStream {
    struct State {
        inner: Option<BlobStream>,
        hasher: Sha256,
        expected: String,
    }
    let state = State {
        inner: Some(inner),
        hasher: Sha256::new(),
        expected: sha256.to_owned(),
    };
    futures::stream::unfold(state, |mut state| async move {
        let inner = state.inner.as_mut()?;
        match inner.next().await {
            Some(Ok(chunk)) => {
                state.hasher.update(&chunk);
                Some((Ok(chunk), state))
            }
            Some(Err(e)) => {
                state.inner = None;
                Some((Err(e), state))
            }
            None => {
                state.inner = None;
                let actual = format!("{:x}", std::mem::take(&mut state.hasher).finalize());
                if actual == state.expected {
                    None
                } else {
                    let err = BlobError::Corrupted {
                        sha256: std::mem::take(&mut state.expected),
                        actual,
                    };
                    Some((Err(err), state))
                }
            }
        }
    })
    .boxed()
}

/// Reads a whole verified stream into memory (`size_hint` bytes reserved up front).
pub(crate) async fn collect(mut stream: BlobStream, size_hint: u64) -> Result<Bytes, BlobError> {
    let mut out = Vec::with_capacity(usize::try_from(size_hint).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256_hex;

    #[tokio::test]
    async fn verified_streams_pass_and_corrupted_ones_end_in_an_error() {
        let sha = sha256_hex(b"hello world");
        let chunks = |parts: &[&'static [u8]]| -> BlobStream {
            futures::stream::iter(
                parts
                    .iter()
                    .map(|p| Ok(Bytes::from_static(p)))
                    .collect::<Vec<_>>(),
            )
            .boxed()
        };
        let good = collect(verified(chunks(&[b"hello ", b"world"]), &sha), 0).await;
        assert_eq!(good.unwrap(), Bytes::from_static(b"hello world"));
        let bad = collect(verified(chunks(&[b"hello ", b"World"]), &sha), 0).await;
        assert!(
            matches!(bad, Err(BlobError::Corrupted { ref actual, .. }) if *actual == sha256_hex(b"hello World"))
        );
    }

    #[test]
    fn keys_and_hash_names() {
        let sha = sha256_hex(b"x");
        assert_eq!(blob_key(&sha), format!("{}/{sha}", &sha[..2]));
        assert!(is_sha256(&sha));
        assert!(!is_sha256(&sha.to_uppercase()));
        assert!(!is_sha256(".upload-abc"));
    }
}
