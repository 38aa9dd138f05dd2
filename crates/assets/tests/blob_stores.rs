//! One suite for every [`BlobStore`]: the files under a state root and an S3-compatible
//! bucket (a real moto server on loopback) must behave alike — put/get/verify, idempotent
//! put, delete, corrupted bytes detected on read, missing blobs — and [`copy_blobs`] moves
//! a state root's blobs into S3 verified.

use std::sync::Arc;

use bytes::Bytes;
use ferry_assets::moto::MotoServer;
use ferry_assets::{
    bytes_stream, copy_blobs, sha256_hex, AssetStoreConfigError, BlobError, BlobStore, BlobStream,
    CopyReport, FileBlobStore, S3BlobStore, S3Location,
};
use futures::{FutureExt, StreamExt};

/// Overwrites a blob behind the store's back.
type Corrupt = Box<dyn Fn(String, Vec<u8>) -> futures::future::BoxFuture<'static, ()>>;

/// A store under test and a way to corrupt one of its blobs.
struct Subject {
    store: Arc<dyn BlobStore>,
    corrupt: Corrupt,
    _keep: Box<dyn std::any::Any>,
}

fn files() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let store = FileBlobStore::open(dir.path().join("assets")).unwrap();
    let paths = store.clone();
    Subject {
        store: Arc::new(store),
        corrupt: Box::new(move |sha, bytes| {
            std::fs::write(paths.path(&sha), bytes).unwrap();
            futures::future::ready(()).boxed()
        }),
        _keep: Box::new(dir),
    }
}

async fn s3(moto: &Arc<MotoServer>, bucket: &str, prefix: &str) -> Subject {
    moto.create_bucket(bucket);
    let location = S3Location {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
    };
    let store = S3BlobStore::connect(location, moto.client_vars())
        .await
        .unwrap();
    let (server, bucket, prefix) = (Arc::clone(moto), bucket.to_owned(), prefix.to_owned());
    Subject {
        store: Arc::new(store),
        corrupt: Box::new(move |sha, bytes| {
            let (server, bucket, key) = (
                Arc::clone(&server),
                bucket.clone(),
                format!("{prefix}/{}/{sha}", &sha[..2]),
            );
            async move { server.put_object(&bucket, &key, &bytes).await }.boxed()
        }),
        _keep: Box::new(()),
    }
}

async fn read_all(stream: BlobStream) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// A body of `total` bytes sent in chunks of `chunk` bytes.
fn chunked(data: &Bytes, chunk: usize) -> BlobStream {
    let parts: Vec<_> = data
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(parts).boxed()
}

async fn behaves_like_a_blob_store(subject: Subject) {
    let store = &subject.store;
    let data = Bytes::from_static(b"the quick brown fox");
    let sha = sha256_hex(&data);

    // Missing before anything is stored.
    assert!(!store.exists(&sha).await.unwrap());
    assert!(matches!(
        store.get(&sha).await,
        Err(BlobError::Missing { .. })
    ));

    // Put, then read back verified; a second put of the same bytes is harmless.
    assert_eq!(
        store.put(&sha, bytes_stream(data.clone())).await.unwrap(),
        19
    );
    assert!(store.exists(&sha).await.unwrap());
    assert_eq!(
        read_all(store.get(&sha).await.unwrap()).await.unwrap(),
        data
    );
    assert_eq!(store.put(&sha, chunked(&data, 4)).await.unwrap(), 19);
    assert_eq!(
        read_all(store.get(&sha).await.unwrap()).await.unwrap(),
        data
    );
    assert_eq!(store.list().await.unwrap(), vec![sha.clone()]);

    // Bytes that do not hash to the key are refused and store nothing.
    let other = sha256_hex(b"something else");
    let refused = store.put(&other, bytes_stream(data.clone())).await;
    assert!(matches!(refused, Err(BlobError::Corrupted { ref sha256, .. }) if *sha256 == other));
    assert!(!store.exists(&other).await.unwrap());

    // Corrupted behind the store's back: the read ends in an error, never good bytes.
    (subject.corrupt)(sha.clone(), b"the quick brown cat".to_vec()).await;
    let read = read_all(store.get(&sha).await.unwrap()).await;
    assert!(
        matches!(read, Err(BlobError::Corrupted { ref actual, .. }) if *actual == sha256_hex(b"the quick brown cat")),
        "{read:?}"
    );
    // Storing the original again repairs it.
    store.put(&sha, bytes_stream(data.clone())).await.unwrap();
    assert_eq!(
        read_all(store.get(&sha).await.unwrap()).await.unwrap(),
        data
    );

    // A blob larger than one upload part streams in and out whole.
    let big = Bytes::from(
        (0..6 * 1024 * 1024 + 17)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let big_sha = sha256_hex(&big);
    assert_eq!(
        store
            .put(&big_sha, chunked(&big, 256 * 1024))
            .await
            .unwrap(),
        big.len() as u64
    );
    assert_eq!(
        read_all(store.get(&big_sha).await.unwrap()).await.unwrap(),
        big
    );
    // ... and a large body with the wrong hash is refused too, leaving nothing.
    let wrong = sha256_hex(b"not the big one");
    assert!(matches!(
        store.put(&wrong, chunked(&big, 256 * 1024)).await,
        Err(BlobError::Corrupted { .. })
    ));
    assert!(!store.exists(&wrong).await.unwrap());

    // Delete; deleting again is fine.
    store.delete(&sha).await.unwrap();
    store.delete(&sha).await.unwrap();
    assert!(!store.exists(&sha).await.unwrap());
    assert!(matches!(
        store.get(&sha).await,
        Err(BlobError::Missing { .. })
    ));
    assert_eq!(store.list().await.unwrap(), vec![big_sha]);
}

#[tokio::test]
async fn files_under_the_state_root() {
    behaves_like_a_blob_store(files()).await;
}

#[tokio::test]
async fn s3_compatible_bucket() {
    let moto = Arc::new(MotoServer::start());
    behaves_like_a_blob_store(s3(&moto, "suite", "ferry/assets").await).await;
}

#[tokio::test]
async fn copy_moves_a_state_root_into_s3_and_skips_what_is_there() {
    let moto = Arc::new(MotoServer::start());
    let from = files();
    let to = s3(&moto, "copy", "state").await;
    let blobs: Vec<Bytes> = ["one", "two", "three"]
        .iter()
        .map(|s| Bytes::from(s.repeat(1000)))
        .collect();
    for b in &blobs {
        from.store
            .put(&sha256_hex(b), bytes_stream(b.clone()))
            .await
            .unwrap();
    }
    // One is there already.
    to.store
        .put(&sha256_hex(&blobs[0]), bytes_stream(blobs[0].clone()))
        .await
        .unwrap();
    let report = copy_blobs(from.store.as_ref(), to.store.as_ref())
        .await
        .unwrap();
    assert_eq!(
        report,
        CopyReport {
            copied: 2,
            skipped: 1,
            bytes: 3000 + 5000
        }
    );
    for b in &blobs {
        let got = read_all(to.store.get(&sha256_hex(b)).await.unwrap()).await;
        assert_eq!(got.unwrap(), *b);
    }
    // Again: nothing left to copy.
    let again = copy_blobs(from.store.as_ref(), to.store.as_ref())
        .await
        .unwrap();
    assert_eq!((again.copied, again.skipped), (0, 3));

    // A corrupted source blob is not copied; the error names it.
    let bad = Bytes::from_static(b"will rot");
    let bad_sha = sha256_hex(&bad);
    from.store.put(&bad_sha, bytes_stream(bad)).await.unwrap();
    (from.corrupt)(bad_sha.clone(), b"has rotted".to_vec()).await;
    let err = copy_blobs(from.store.as_ref(), to.store.as_ref())
        .await
        .unwrap_err();
    assert_eq!(err.sha256, bad_sha);
    assert!(matches!(err.source, BlobError::Corrupted { .. }));
    assert!(!to.store.exists(&bad_sha).await.unwrap());
}

#[tokio::test]
async fn a_missing_bucket_is_a_clear_startup_error() {
    let moto = MotoServer::start();
    let location = S3Location {
        bucket: "no-such-bucket".into(),
        prefix: "x".into(),
    };
    let err = S3BlobStore::connect(location, moto.client_vars())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AssetStoreConfigError::BucketMissing { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("no-such-bucket") && text.contains("create it"),
        "{text}"
    );
    assert!(!text.contains("moto-test-secret"), "{text}");
}
