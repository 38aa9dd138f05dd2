//! The state-root lock: exclusive within and across processes, released on drop.

use ferry_store::{StateLock, StoreError};

#[test]
fn second_acquire_is_refused_with_pid_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("state");
    let first = StateLock::acquire(&root).expect("first acquire creates the root");
    assert_eq!(first.path(), root.join("ferry.lock"));
    let recorded = std::fs::read_to_string(first.path()).expect("lock file");
    assert_eq!(recorded.trim(), std::process::id().to_string());

    let err = StateLock::acquire(&root).expect_err("second acquire must fail");
    match &err {
        StoreError::StateRootLocked { path, pid } => {
            assert_eq!(path, &root);
            assert_eq!(*pid, Some(std::process::id()));
        }
        other => panic!("unexpected error: {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "is in use by another ferry process (pid {})",
            std::process::id()
        )),
        "{message}"
    );
    assert!(message.contains("omit --offline"), "{message}");
    // The failed attempt must not have erased the holder's pid.
    let recorded = std::fs::read_to_string(first.path()).expect("lock file");
    assert_eq!(recorded.trim(), std::process::id().to_string());

    drop(first);
    let again = StateLock::acquire(&root).expect("acquire after drop");
    drop(again);
}

#[test]
fn locked_message_without_a_known_pid() {
    let err = StoreError::StateRootLocked {
        path: "/srv/ferry".into(),
        pid: None,
    };
    assert_eq!(
        err.to_string(),
        "state root /srv/ferry is in use by another ferry process — stop it first, or use the running daemon (omit --offline)"
    );
}
