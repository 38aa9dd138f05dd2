//! Sessions: create, ensure, get, list with a cursor, patch.

use ferry_store::prelude::*;
use ferry_store::{NewSession, SessionPatch, StoreError};

use crate::support::{open_temp, session};

#[tokio::test]
async fn create_then_duplicate_is_refused() {
    let (_dir, store) = open_temp();
    let created = store
        .create_session(NewSession {
            id: "s1".into(),
            pinned_selector: Some("fast".into()),
            system_prompt: Some("be brief".into()),
        })
        .await
        .expect("create");
    assert_eq!(created.id, "s1");
    assert_eq!(created.pinned_selector.as_deref(), Some("fast"));
    assert_eq!(created.system_prompt.as_deref(), Some("be brief"));
    assert_eq!(created.speak_replies, None);
    assert_eq!(created.created_at, created.updated_at);
    assert_eq!((created.message_count, created.run_count), (0, 0));

    let err = store
        .create_session(NewSession {
            id: "s1".into(),
            pinned_selector: None,
            system_prompt: None,
        })
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, StoreError::SessionExists { ref id } if id == "s1"),
        "{err}"
    );
    // The original settings are untouched.
    let got = store.get_session("s1").await.expect("get").expect("exists");
    assert_eq!(got.pinned_selector.as_deref(), Some("fast"));
}

#[tokio::test]
async fn ensure_creates_once() {
    let (_dir, store) = open_temp();
    let (first, created) = store.ensure_session("e").await.expect("ensure");
    assert!(created);
    let (second, created) = store.ensure_session("e").await.expect("ensure");
    assert!(!created);
    assert_eq!(first.created_at, second.created_at);
    assert!(store.get_session("other").await.expect("get").is_none());
}

#[tokio::test]
async fn list_pages_by_id() {
    let (_dir, store) = open_temp();
    for id in ["c", "a", "e", "b", "d"] {
        session(&store, id).await;
    }
    let page = store.list_sessions(None, 2).await.expect("page 1");
    let ids: Vec<_> = page.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let page = store.list_sessions(Some("b"), 2).await.expect("page 2");
    let ids: Vec<_> = page.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["c", "d"]);
    let page = store.list_sessions(Some("d"), 2).await.expect("page 3");
    let ids: Vec<_> = page.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["e"]);
    assert!(store
        .list_sessions(Some("e"), 2)
        .await
        .expect("page 4")
        .is_empty());
}

#[tokio::test]
async fn patch_sets_clears_and_keeps_fields() {
    let (_dir, store) = open_temp();
    let created = store
        .create_session(NewSession {
            id: "p".into(),
            pinned_selector: Some("fast".into()),
            system_prompt: Some("old".into()),
        })
        .await
        .expect("create");
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let patched = store
        .update_session(
            "p",
            SessionPatch {
                pinned_selector: Some(None),
                system_prompt: None,
                speak_replies: Some(Some("always".into())),
            },
        )
        .await
        .expect("update");
    assert_eq!(patched.pinned_selector, None);
    assert_eq!(patched.system_prompt.as_deref(), Some("old"));
    assert_eq!(patched.speak_replies.as_deref(), Some("always"));
    assert_eq!(patched.created_at, created.created_at);
    assert!(patched.updated_at > created.updated_at);

    let err = store
        .update_session("missing", SessionPatch::default())
        .await
        .expect_err("missing");
    assert!(matches!(err, StoreError::SessionNotFound { .. }), "{err}");
}
