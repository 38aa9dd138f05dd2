//! Crash-safe file replacement: write a new 0600 temp file in the same directory,
//! fsync it, rename it over the target, fsync the directory. Readers see either the
//! old file or the new one, never a mix; a failure leaves the old file as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::rngs::OsRng;
use rand::RngCore;

use crate::error::SecretsError;

/// Replaces `path` with `bytes` atomically. The parent directory is created (0700) if
/// missing; the file ends up with mode 0600 on Unix.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    let dir = parent_dir(path);
    create_dir_private(&dir)?;

    let tmp = temp_path(path);
    let result = write_temp(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| SecretsError::io(path, e)));
    if let Err(err) = result {
        // Best effort: the temp file holds only ciphertext, but leave no litter.
        let _ = fs::remove_file(&tmp);
        return Err(err);
    }
    sync_dir(&dir)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut suffix = [0u8; 8];
    OsRng.fill_bytes(&mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(path).join(format!(".{name}.tmp-{hex}"))
}

fn write_temp(tmp: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    let mut file = open_new_private(tmp).map_err(|e| SecretsError::io(tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SecretsError::io(tmp, e))
}

#[cfg(unix)]
fn open_new_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_new_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn create_dir_private(dir: &Path) -> Result<(), SecretsError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| SecretsError::io(dir, e))
}

#[cfg(not(unix))]
fn create_dir_private(dir: &Path) -> Result<(), SecretsError> {
    fs::create_dir_all(dir).map_err(|e| SecretsError::io(dir, e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SecretsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SecretsError::io(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), SecretsError> {
    // Directory handles cannot be fsynced portably; the rename itself is atomic.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_contents_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(entries(dir.path()), vec!["f.json".to_owned()]);
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_new_dir_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("f.json");
        write_atomically(&path, b"x").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
    }

    #[test]
    fn failed_rename_cleans_up_the_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory at the target path makes the rename fail.
        let path = dir.path().join("f.json");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"old").unwrap();
        let err = write_atomically(&path, b"new").unwrap_err();
        assert!(matches!(err, SecretsError::Io { .. }));
        assert_eq!(entries(dir.path()), vec!["f.json".to_owned()]);
        assert_eq!(fs::read(path.join("keep")).unwrap(), b"old");
    }
}
