//! `{path}` attachments: a path is resolved against the daemon's workspace root and
//! canonicalised (every `..` and symlink resolved) before it is read; anything that ends
//! up outside the canonical root is refused, so neither `../../etc/passwd` nor a symlink
//! pointing out of the workspace can be attached.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::EngineError;

/// Symlinks followed at most while resolving one path (as the kernel's ELOOP limit).
const MAX_LINKS: usize = 40;

/// The canonical path of `requested` (relative to `root`, or absolute under it) if it is
/// a regular file inside `root`. `root` must itself be canonical.
///
/// The path is resolved one component at a time from `root`, following symlinks by
/// reading them, and refused the moment it would leave `root`: nothing outside the
/// workspace is ever looked at, so the answer (outside / not found) never reveals what
/// exists there. Errors name the path as the client gave it, never the root's location.
pub(crate) fn resolve_in_workspace(root: &Path, requested: &str) -> Result<PathBuf, EngineError> {
    let requested = requested.trim();
    if requested.is_empty() {
        return Err(EngineError::bad_input(
            "invalid_attachment",
            "an attachment {path} is empty; give a file path relative to the workspace root",
        ));
    }
    let candidate = Path::new(requested);
    let relative = if candidate.is_absolute() {
        candidate
            .strip_prefix(root)
            .map_err(|_| outside(requested))?
    } else {
        candidate
    };
    let resolved = match walk(root, relative) {
        Walk::Inside(p) => p,
        Walk::Outside => return Err(outside(requested)),
        Walk::Missing => {
            return Err(EngineError::bad_input(
                "attachment_not_found",
                format!(
                    "attachment {requested} does not exist in the workspace root; paths are relative to it"
                ),
            ))
        }
        Walk::Unreadable(why) => {
            return Err(EngineError::bad_input(
                "attachment_unreadable",
                format!("cannot read attachment {requested}: {why}"),
            ))
        }
    };
    if !resolved.is_file() {
        return Err(EngineError::bad_input(
            "attachment_not_a_file",
            format!("attachment {requested} is not a regular file"),
        ));
    }
    Ok(resolved)
}

/// Where resolving a path inside the root ended.
enum Walk {
    Inside(PathBuf),
    Outside,
    Missing,
    Unreadable(String),
}

fn walk(root: &Path, relative: &Path) -> Walk {
    let mut todo: VecDeque<OsString> = VecDeque::new();
    push_front(&mut todo, relative);
    let mut cur = root.to_path_buf();
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        match part.to_str() {
            Some(".") => continue,
            Some("..") => {
                if cur == root {
                    return Walk::Outside;
                }
                cur.pop();
                continue;
            }
            _ => {}
        }
        let next = cur.join(&part);
        match std::fs::symlink_metadata(&next) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // What is left is judged lexically: `nope/../../x` still leaves the root.
                let depth = cur.strip_prefix(root).map_or(0, |p| p.components().count());
                todo.push_front(part);
                return if leaves(depth, &todo) {
                    Walk::Outside
                } else {
                    Walk::Missing
                };
            }
            Err(e) => return Walk::Unreadable(e.kind().to_string()),
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Walk::Unreadable("too many levels of symbolic links".into());
                }
                let target = match std::fs::read_link(&next) {
                    Ok(t) => t,
                    Err(e) => return Walk::Unreadable(e.kind().to_string()),
                };
                if target.is_absolute() {
                    match target.strip_prefix(root) {
                        Ok(rest) => {
                            cur = root.to_path_buf();
                            push_front(&mut todo, rest);
                        }
                        Err(_) => return Walk::Outside,
                    }
                } else {
                    push_front(&mut todo, &target);
                }
            }
            Ok(_) => cur = next,
        }
    }
    Walk::Inside(cur)
}

/// Whether the components in `rest`, taken lexically from `depth` levels below the
/// root, climb above it.
fn leaves(mut depth: usize, rest: &VecDeque<OsString>) -> bool {
    for part in rest {
        match part.to_str() {
            Some(".") => {}
            Some("..") => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// Puts `path`'s components (`.`/`..` kept as such) in front of `todo`, in order.
fn push_front(todo: &mut VecDeque<OsString>, path: &Path) {
    for c in path.components().rev() {
        let part = match c {
            Component::Normal(n) => n.to_os_string(),
            Component::ParentDir => "..".into(),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => continue,
        };
        todo.push_front(part);
    }
}

fn outside(requested: &str) -> EngineError {
    EngineError::bad_input(
        "path_outside_workspace",
        format!(
            "attachment {requested} resolves outside the workspace root (through `..`, an absolute path or a symlink); only files under the workspace root can be attached — copy the file into it or upload it with `ferry assets import`"
        ),
    )
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

    #[cfg(unix)]
    #[test]
    fn outside_targets_answer_the_same_whether_they_exist_or_not() {
        let (d, root) = setup();
        let outside_dir = d.path().to_path_buf();
        std::os::unix::fs::symlink(outside_dir.join("secret.txt"), root.join("exists")).unwrap();
        std::os::unix::fs::symlink(outside_dir.join("missing.txt"), root.join("missing")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("rel-exists")).unwrap();
        std::os::unix::fs::symlink("../missing.txt", root.join("rel-missing")).unwrap();
        // A chain through a link inside the workspace.
        std::os::unix::fs::symlink("missing", root.join("chain")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("subdir-link")).unwrap();
        for p in [
            "exists",
            "missing",
            "rel-exists",
            "rel-missing",
            "chain",
            "sub/../../missing.txt",
            "nope/../../secret.txt",
        ] {
            let e = resolve_in_workspace(&root, p).unwrap_err();
            assert_eq!(e.code(), "path_outside_workspace", "{p}: {e}");
            assert!(
                !e.to_string().contains(root.to_str().unwrap()),
                "{p}: the workspace's location is not shown: {e}"
            );
        }
        let e = resolve_in_workspace(&root, "nope.txt").unwrap_err();
        assert!(!e.to_string().contains(root.to_str().unwrap()), "{e}");
        // Links that stay inside resolve to the real file.
        assert_eq!(
            resolve_in_workspace(&root, "subdir-link/a.txt").unwrap(),
            root.join("sub/a.txt")
        );
        let abs_link = root.join("abs");
        std::os::unix::fs::symlink(root.join("sub/a.txt"), &abs_link).unwrap();
        assert_eq!(
            resolve_in_workspace(&root, "abs").unwrap(),
            root.join("sub/a.txt")
        );
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
