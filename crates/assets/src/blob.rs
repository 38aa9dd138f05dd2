//! [`FileBlobStore`]: blobs as files under the state root, content-addressed
//! (`assets/<first two hex>/<sha256>`). A put writes through a temporary file in the assets
//! directory (hashed as it is written, fsynced, then renamed into place and the directory
//! fsynced, so a blob is either whole or absent); a get streams the file back, verified.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::blob_store::{blob_key, is_sha256, verified, BlobStore, BlobStream};
use crate::error::BlobError;

/// Prefix of temporary upload files inside the assets directory.
pub(crate) const TEMP_PREFIX: &str = ".upload-";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Where the blob with this hash lives under `root`.
pub(crate) fn blob_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(blob_key(sha256))
}

/// Size of the chunks a get reads.
const READ_CHUNK: usize = 64 * 1024;

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BlobError + 'a {
    move |source| BlobError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a new temporary file in `root`. Dropping it deletes the file, so an abandoned
/// upload leaves nothing behind.
fn create_temp(root: &Path) -> Result<tempfile::NamedTempFile, BlobError> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(root)
        .map_err(io("create a temporary file in", root))
}

/// Moves a fsynced temporary file to its blob path (replacing a damaged or identical
/// blob) and fsyncs the shard directory.
fn place(temp: TempPath, target: &Path) -> Result<(), BlobError> {
    let dir = target.parent().unwrap_or(target);
    fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    temp.persist(target).map_err(|e| BlobError::Io {
        action: "move an upload into",
        path: target.to_path_buf(),
        source: e.error,
    })?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

/// Removes a blob (already gone is fine).
fn remove(path: &Path) -> Result<(), BlobError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BlobError::Io {
            action: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Deletes temporary upload files left by a crash; returns how many.
pub(crate) fn clean_temp_files(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Blobs as files under a directory (the state root's `assets/`).
#[derive(Debug, Clone)]
pub struct FileBlobStore {
    root: PathBuf,
}

impl FileBlobStore {
    /// Opens `root` (creating it) and removes temporary files a crash left.
    pub fn open(root: PathBuf) -> Result<FileBlobStore, BlobError> {
        fs::create_dir_all(&root).map_err(io("create the assets directory", &root))?;
        let cleaned = clean_temp_files(&root);
        if cleaned > 0 {
            tracing::info!(cleaned, "removed unfinished uploads left by an earlier run");
        }
        Ok(FileBlobStore { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob of `sha256` lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        blob_path(&self.root, sha256)
    }
}

/// Runs file work on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Io {
            action: "run file work for",
            path: PathBuf::from("the assets directory"),
            source: std::io::Error::other(e.to_string()),
        })?
}

#[async_trait::async_trait]
impl BlobStore for FileBlobStore {
    async fn put(&self, sha256: &str, mut body: BlobStream) -> Result<u64, BlobError> {
        let root = self.root.clone();
        let temp = blocking(move || create_temp(&root)).await?;
        let temp_path = temp.path().to_path_buf();
        let failed = io("write a temporary file in", &self.root);
        let mut file = tokio::fs::File::from_std(temp.reopen().map_err(io("open", &temp_path))?);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(io("write a temporary file in", &self.root))?;
        }
        let actual = format!("{:x}", hasher.finalize());
        if actual != sha256 {
            return Err(BlobError::Corrupted {
                sha256: sha256.to_owned(),
                actual,
            });
        }
        file.flush()
            .await
            .map_err(io("write a temporary file in", &self.root))?;
        file.sync_all().await.map_err(failed)?;
        drop(file);
        let target = self.path(sha256);
        blocking(move || place(temp.into_temp_path(), &target)).await?;
        Ok(size)
    }

    async fn get(&self, sha256: &str) -> Result<BlobStream, BlobError> {
        let path = self.path(sha256);
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::Missing {
                    sha256: sha256.to_owned(),
                    location: path.display().to_string(),
                })
            }
            Err(source) => {
                return Err(BlobError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK)
            .map(move |r| r.map_err(io("read", &path)))
            .boxed();
        Ok(verified(chunks, sha256))
    }

    async fn exists(&self, sha256: &str) -> Result<bool, BlobError> {
        let path = self.path(sha256);
        tokio::fs::try_exists(&path)
            .await
            .map_err(io("look for", &path))
    }

    async fn delete(&self, sha256: &str) -> Result<(), BlobError> {
        let path = self.path(sha256);
        blocking(move || remove(&path)).await
    }

    async fn list(&self) -> Result<Vec<String>, BlobError> {
        let root = self.root.clone();
        blocking(move || list_blobs(&root)).await
    }

    fn location(&self, sha256: &str) -> String {
        self.path(sha256).display().to_string()
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// The hashes of the blob files under `root` (`<2 hex>/<sha256>`; anything else is ignored).
fn list_blobs(root: &Path) -> Result<Vec<String>, BlobError> {
    let mut out = Vec::new();
    for shard in fs::read_dir(root).map_err(io("list", root))? {
        let shard = shard.map_err(io("list", root))?;
        let shard_name = shard.file_name();
        let Some(prefix) = shard_name.to_str().filter(|n| n.len() == 2) else {
            continue;
        };
        if !shard.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let dir = shard.path();
        for entry in fs::read_dir(&dir).map_err(io("list", &dir))? {
            let entry = entry.map_err(io("list", &dir))?;
            if let Some(name) = entry.file_name().to_str() {
                if is_sha256(name) && name.starts_with(prefix) {
                    out.push(name.to_owned());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropped_temp_files_vanish_and_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        drop(create_temp(dir.path()).unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        fs::write(dir.path().join(format!("{TEMP_PREFIX}left")), b"x").unwrap();
        assert_eq!(clean_temp_files(dir.path()), 1);
        // A refused put (bytes that do not hash to the key) leaves no file either.
        let store = FileBlobStore::open(dir.path().to_path_buf()).unwrap();
        let err = store
            .put(
                &sha256_hex(b"a"),
                crate::bytes_stream(bytes::Bytes::from_static(b"b")),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::Corrupted { .. }));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
