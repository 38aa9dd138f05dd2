//! Asset rows, dedupe, whether a blob is shared, listing with filters and cursor,
//! derivations, and messages appended outside a run.

use ferry_store::prelude::*;
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
async fn same_bytes_and_type_dedupe() {
    let (_dir, store) = open_temp();
    let first = store
        .insert_asset(new_asset("a1", "aa", "image/png"))
        .await
        .unwrap();
    assert!(matches!(first, AssetInsert::Inserted(_)));
    let again = store
        .insert_asset(new_asset("a1", "aa", "image/png"))
        .await
        .unwrap();
    assert!(matches!(again, AssetInsert::Existing(ref a) if a.id == "a1"));
    assert!(store.blob_in_use("aa").await.unwrap());
    assert!(!store.blob_in_use("bb").await.unwrap());
}

#[tokio::test]
async fn delete_says_whether_the_blob_is_still_shared() {
    let (_dir, store) = open_temp();
    store
        .insert_asset(new_asset("t1", "cc", "text/plain"))
        .await
        .unwrap();
    store
        .insert_asset(new_asset("t2", "cc", "text/markdown"))
        .await
        .unwrap();
    store
        .put_derivation("t1", "transcript", "m", "hello", Some(json!({"cost": 1})))
        .await
        .unwrap();
    let (gone, shared) = store.delete_asset("t1").await.unwrap();
    assert_eq!(gone.id, "t1");
    assert!(shared, "t2 still uses the bytes");
    assert!(store.derivations("t1").await.unwrap().is_empty());
    let (gone, shared) = store.delete_asset("t2").await.unwrap();
    assert_eq!(gone.sha256, "cc");
    assert!(!shared);
    assert!(!store.blob_in_use("cc").await.unwrap());
    let missing = store.delete_asset("t2").await;
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
            .insert_asset(new_asset(&format!("x{i}"), &format!("s{i}"), mt))
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
        .insert_asset(new_asset("au", "dd", "audio/wav"))
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
