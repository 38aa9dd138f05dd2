//! Asset rows, dedupe, the blob hooks, listing with filters and cursor, derivations, and
//! messages appended outside a run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferry_store::{AssetFilter, AssetInsert, NewAsset, StoreError};
use serde_json::json;

use crate::support::{open_temp, session};

fn new_asset(id: &str, sha: &str, media_type: &str) -> NewAsset {
    NewAsset {
        id: id.to_owned(),
        sha256: sha.to_owned(),
        media_type: media_type.to_owned(),
        size: 10,
        file_name: Some(format!("{id}.bin")),
        source: "upload".to_owned(),
    }
}

#[tokio::test]
async fn same_bytes_and_type_dedupe_and_the_blob_hook_always_runs() {
    let (_dir, store) = open_temp();
    let placed = Arc::new(AtomicUsize::new(0));
    let p = placed.clone();
    let first = store
        .insert_asset(new_asset("a1", "aa", "image/png"), move || {
            p.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await
        .unwrap();
    assert!(matches!(first, AssetInsert::Inserted(_)));
    let p = placed.clone();
    let again = store
        .insert_asset(new_asset("a1", "aa", "image/png"), move || {
            p.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await
        .unwrap();
    assert!(matches!(again, AssetInsert::Existing(ref a) if a.id == "a1"));
    assert_eq!(placed.load(Ordering::SeqCst), 2);

    let failed = store
        .insert_asset(new_asset("a2", "bb", "image/png"), || {
            Err(StoreError::Io {
                action: "place",
                path: "x".into(),
                source: std::io::Error::other("disk full"),
            })
        })
        .await;
    assert!(matches!(failed, Err(StoreError::Io { .. })));
    assert!(store.get_asset("a2").await.unwrap().is_none());
}

#[tokio::test]
async fn delete_removes_the_blob_only_when_unshared() {
    let (_dir, store) = open_temp();
    store
        .insert_asset(new_asset("t1", "cc", "text/plain"), || Ok(()))
        .await
        .unwrap();
    store
        .insert_asset(new_asset("t2", "cc", "text/markdown"), || Ok(()))
        .await
        .unwrap();
    store
        .put_derivation("t1", "transcript", "m", "hello", Some(json!({"cost": 1})))
        .await
        .unwrap();
    let removed = Arc::new(AtomicUsize::new(0));
    let r = removed.clone();
    store
        .delete_asset("t1", move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(removed.load(Ordering::SeqCst), 0, "t2 still uses the bytes");
    assert!(store.derivations("t1").await.unwrap().is_empty());
    let r = removed.clone();
    store
        .delete_asset("t2", move |sha| {
            assert_eq!(sha, "cc");
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(removed.load(Ordering::SeqCst), 1);
    let missing = store.delete_asset("t2", |_| Ok(())).await;
    assert!(matches!(missing, Err(StoreError::AssetNotFound { .. })));
}

#[tokio::test]
async fn list_filters_and_pages_newest_first() {
    let (_dir, store) = open_temp();
    for (i, mt) in ["image/png", "audio/wav", "image/jpeg", "text/plain"]
        .iter()
        .enumerate()
    {
        store
            .insert_asset(new_asset(&format!("x{i}"), &format!("s{i}"), mt), || Ok(()))
            .await
            .unwrap();
    }
    let all = store
        .list_assets(AssetFilter {
            limit: 10,
            ..AssetFilter::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["x3", "x2", "x1", "x0"]);
    let images = store
        .list_assets(AssetFilter {
            media_types: vec!["image/png".into(), "image/jpeg".into()],
            limit: 10,
            ..AssetFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(images.len(), 2);
    let page = store
        .list_assets(AssetFilter {
            before: Some(all[1].seq),
            limit: 1,
            ..AssetFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page[0].id, "x1");
}

#[tokio::test]
async fn derivations_first_writer_wins() {
    let (_dir, store) = open_temp();
    store
        .insert_asset(new_asset("au", "dd", "audio/wav"), || Ok(()))
        .await
        .unwrap();
    let d1 = store
        .put_derivation("au", "transcript", "stt/a", "first", None)
        .await
        .unwrap();
    let d2 = store
        .put_derivation("au", "transcript", "stt/a", "second", None)
        .await
        .unwrap();
    assert_eq!(d1.content, "first");
    assert_eq!(d2.content, "first");
    assert!(store
        .get_derivation("au", "transcript", "stt/b")
        .await
        .unwrap()
        .is_none());
    let gone = store
        .put_derivation("nope", "transcript", "stt/a", "x", None)
        .await;
    assert!(matches!(gone, Err(StoreError::AssetNotFound { .. })));
}

#[tokio::test]
async fn messages_append_outside_runs() {
    let (_dir, store) = open_temp();
    session(&store, "s").await;
    let stored = store
        .append_messages("s", vec![json!({"role": "user", "content": "heard"})])
        .await
        .unwrap();
    assert_eq!(stored[0].seq, 1);
    assert!(stored[0].run_id.is_none());
    let history = store.history("s").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].body["content"], "heard");
    let missing = store
        .append_messages("nope", vec![json!({"role": "user", "content": "x"})])
        .await;
    assert!(matches!(missing, Err(StoreError::SessionNotFound { .. })));
    let bad = store
        .append_messages("s", vec![json!({"content": "x"})])
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidMessage { .. })));
}
