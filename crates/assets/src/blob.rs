//! Blob files: content-addressed paths (`assets/<first two hex>/<sha256>`), writing
//! through a temporary file in the assets directory (fsynced, then renamed into place and
//! the directory fsynced, so a blob is either whole or absent), reading back with hash
//! verification, and removal.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempPath;

use crate::error::AssetError;

/// Prefix of temporary upload files inside the assets directory.
pub(crate) const TEMP_PREFIX: &str = ".upload-";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Where the blob with this hash lives under `root`.
pub(crate) fn blob_path(root: &Path, sha256: &str) -> PathBuf {
    root.join(&sha256[..2]).join(sha256)
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AssetError + 'a {
    move |source| AssetError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to a new temporary file in `root` and fsyncs it. Dropping the returned
/// path deletes the file, so an abandoned upload leaves nothing behind.
pub(crate) fn write_temp(root: &Path, bytes: &[u8]) -> Result<TempPath, AssetError> {
    let mut file = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(root)
        .map_err(io("create a temporary file in", root))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(io("write a temporary file in", root))?;
    Ok(file.into_temp_path())
}

/// Moves a fsynced temporary file to its blob path (replacing a damaged or identical
/// blob) and fsyncs the shard directory.
pub(crate) fn place(temp: TempPath, target: &Path) -> Result<(), AssetError> {
    let dir = target.parent().unwrap_or(target);
    fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    temp.persist(target).map_err(|e| AssetError::Io {
        action: "move an upload into",
        path: target.to_path_buf(),
        source: e.error,
    })?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

/// Reads the blob and checks it still hashes to `expected`.
pub(crate) fn read_verified(path: &Path, id: &str, expected: &str) -> Result<Vec<u8>, AssetError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AssetError::BlobMissing {
                id: id.to_owned(),
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(AssetError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let actual = sha256_hex(&bytes);
    if actual != expected {
        return Err(AssetError::Corrupted {
            id: id.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(bytes)
}

/// Removes a blob (already gone is fine).
pub(crate) fn remove(path: &Path) -> Result<(), AssetError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(AssetError::Io {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_place_verify_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let sha = sha256_hex(b"hello");
        let target = blob_path(dir.path(), &sha);
        let temp = write_temp(dir.path(), b"hello").unwrap();
        place(temp, &target).unwrap();
        assert_eq!(read_verified(&target, "a", &sha).unwrap(), b"hello");
        fs::write(&target, b"hellO").unwrap();
        assert!(matches!(
            read_verified(&target, "a", &sha),
            Err(AssetError::Corrupted { .. })
        ));
        remove(&target).unwrap();
        assert!(matches!(
            read_verified(&target, "a", &sha),
            Err(AssetError::BlobMissing { .. })
        ));
        remove(&target).unwrap();
    }

    #[test]
    fn dropped_temp_files_vanish_and_leftovers_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        drop(write_temp(dir.path(), b"x").unwrap());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        fs::write(dir.path().join(format!("{TEMP_PREFIX}left")), b"x").unwrap();
        assert_eq!(clean_temp_files(dir.path()), 1);
    }
}
