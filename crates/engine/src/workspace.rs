//! `{path}` attachments: a path is resolved against the daemon's workspace root and
//! canonicalised (every `..` and symlink resolved) before it is read; anything that ends
//! up outside the canonical root is refused, so neither `../../etc/passwd` nor a symlink
//! pointing out of the workspace can be attached.

use std::path::{Path, PathBuf};

use crate::EngineError;

/// The canonical path of `requested` (relative to `root`, or absolute) if it is a
/// regular file inside `root`. `root` must itself be canonical.
pub(crate) fn resolve_in_workspace(root: &Path, requested: &str) -> Result<PathBuf, EngineError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(EngineError::bad_input(
            "invalid_attachment",
            "an attachment {path} is empty; give a file path relative to the workspace root",
        ));
    }
    let candidate = Path::new(requested);
    let joined = if candidate.is_absolute() {
        candidate.to_path_buf()
    } else {
        root.join(candidate)
    };
    let canonical = match joined.canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Say "outside" rather than "missing" for paths that leave the root lexically,
            // so the answer does not reveal what exists outside the workspace.
            if leaves_root(root, &joined) {
                return Err(outside(requested, root));
            }
            return Err(EngineError::bad_input(
                "attachment_not_found",
                format!(
                    "attachment {requested} does not exist in the workspace root {}; paths are relative to it",
                    root.display()
                ),
            ));
        }
        Err(e) => {
            return Err(EngineError::bad_input(
                "attachment_unreadable",
                format!("cannot read attachment {requested}: {e}"),
            ))
        }
    };
    if !canonical.starts_with(root) {
        return Err(outside(requested, root));
    }
    if !canonical.is_file() {
        return Err(EngineError::bad_input(
            "attachment_not_a_file",
            format!("attachment {requested} is not a regular file"),
        ));
    }
    Ok(canonical)
}

fn outside(requested: &str, root: &Path) -> EngineError {
    EngineError::bad_input(
        "path_outside_workspace",
        format!(
            "attachment {requested} resolves outside the workspace root {} (through `..` or a symlink); only files under the workspace root can be attached — copy the file into it or upload it with `ferry assets import`",
            root.display()
        ),
    )
}

/// Whether normalising `.`/`..` lexically takes `path` out of `root`.
fn leaves_root(root: &Path, path: &Path) -> bool {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    !out.starts_with(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), b"a").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"s").unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn files_inside_resolve() {
        let (_d, root) = setup();
        let p = resolve_in_workspace(&root, "sub/a.txt").unwrap();
        assert_eq!(p, root.join("sub/a.txt"));
        let p = resolve_in_workspace(&root, "sub/../sub/./a.txt").unwrap();
        assert_eq!(p, root.join("sub/a.txt"));
        let abs = root.join("sub/a.txt");
        assert!(resolve_in_workspace(&root, abs.to_str().unwrap()).is_ok());
    }

    #[test]
    fn escapes_are_refused() {
        let (_d, root) = setup();
        for bad in [
            "../secret.txt",
            "sub/../../secret.txt",
            "../../etc/passwd",
            "/etc/passwd",
        ] {
            let e = resolve_in_workspace(&root, bad).unwrap_err();
            assert_eq!(e.code(), "path_outside_workspace", "{bad}: {e}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                root.parent().unwrap().join("secret.txt"),
                root.join("link"),
            )
            .unwrap();
            let e = resolve_in_workspace(&root, "link").unwrap_err();
            assert_eq!(e.code(), "path_outside_workspace");
        }
    }

    #[test]
    fn missing_and_directories() {
        let (_d, root) = setup();
        assert_eq!(
            resolve_in_workspace(&root, "nope.txt").unwrap_err().code(),
            "attachment_not_found"
        );
        assert_eq!(
            resolve_in_workspace(&root, "sub").unwrap_err().code(),
            "attachment_not_a_file"
        );
        assert_eq!(
            resolve_in_workspace(&root, " ").unwrap_err().code(),
            "invalid_attachment"
        );
    }
}
