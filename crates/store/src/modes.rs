//! Owner-only file modes for the state root (docs/security.md, "Other local users"): the
//! state root holds every conversation, asset and the encrypted secret store, so it is
//! 0700 and everything in it 0600, whatever the umask. A process that takes the
//! state-root lock first narrows its umask to 0077 (so SQLite's `-wal`/`-shm`, blobs,
//! caches and temp files are born private), then tightens anything already there that
//! is looser and reports what it fixed, so the caller can warn.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Mode bits no file or directory under the state root may have (group and other).
const SHARED_BITS: u32 = 0o077;

/// Makes every file this process creates from now on owner-only (umask 0077). Process
/// wide: only commands that work on a state root call it (through the lock).
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask(2) has no memory-safety preconditions; it only swaps the mask.
    unsafe {
        libc::umask(SHARED_BITS as libc::mode_t);
    }
}

/// Removes group/other bits from `root` and everything under it (symlinks are neither
/// followed nor changed). Returns the paths whose mode was changed.
pub fn tighten(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut fixed = Vec::new();
    tighten_into(root, &mut fixed)?;
    Ok(fixed)
}

#[cfg(unix)]
fn tighten_into(path: &Path, fixed: &mut Vec<PathBuf>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & SHARED_BITS != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7700))?;
        fixed.push(path.to_path_buf());
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            tighten_into(&entry?.path(), fixed)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_into(_path: &Path, _fixed: &mut Vec<PathBuf>) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn loose_modes_are_tightened_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        fs::create_dir_all(root.join("assets/ab")).unwrap();
        fs::write(root.join("ferry.db"), b"x").unwrap();
        fs::write(root.join("assets/ab/blob"), b"x").unwrap();
        for (p, m) in [
            (root.clone(), 0o755),
            (root.join("assets"), 0o700),
            (root.join("assets/ab"), 0o775),
            (root.join("ferry.db"), 0o644),
            (root.join("assets/ab/blob"), 0o600),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
        }
        let outside = dir.path().join("outside");
        fs::write(&outside, b"y").unwrap();
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();

        let mut fixed = tighten(&root).unwrap();
        fixed.sort();
        assert_eq!(
            fixed,
            vec![root.clone(), root.join("assets/ab"), root.join("ferry.db")]
        );
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("assets/ab")), 0o700);
        assert_eq!(mode(&root.join("ferry.db")), 0o600);
        assert_eq!(mode(&outside), 0o644, "symlink targets are left alone");
        assert!(tighten(&root).unwrap().is_empty(), "idempotent");
    }
}
