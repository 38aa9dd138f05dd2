//! [`AssetStore`]: the daemon's asset store. Ingest sniffs and checks the bytes, hashes
//! them, writes the blob (temp file + rename) and then records the metadata row through
//! the [`AssetRepo`]; reads verify the hash; deletes remove the row, then the blob once no
//! asset uses it. Both hold the blob's lock ([`BlobLocks`]) across their two steps.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use ferry_store::{Asset, AssetFilter, AssetInsert, AssetRepo, NewAsset};
use serde::Serialize;

use crate::blob::{sha256_hex, FileBlobStore};
use crate::blob_locks::BlobLocks;
use crate::blob_store::{bytes_stream, collect, BlobStore};
use crate::error::AssetError;
use crate::media_type::{Kind, MediaType};
use crate::sniff::sniff;

/// Name of the assets directory inside the state root.
pub const ASSETS_DIR: &str = "assets";
/// Default upload size limit: 25 MiB.
pub const DEFAULT_MAX_ASSET_BYTES: u64 = 25 * 1024 * 1024;
/// Longest file name kept with an asset.
const MAX_FILE_NAME: usize = 255;

/// How an asset arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /v1/assets` (also `ferry assets import` and `--file`).
    Upload,
    /// A `{path}` attachment read from the workspace.
    Workspace,
    /// A `{media_type, data_base64}` attachment.
    Inline,
    /// `POST /v1/observations`.
    Observation,
    /// Made by a media tool (image, speech, video) or a spoken reply.
    Generated,
}

impl Source {
    /// Every source, in the order docs list them.
    pub const ALL: [Source; 5] = [
        Source::Upload,
        Source::Workspace,
        Source::Inline,
        Source::Observation,
        Source::Generated,
    ];

    /// The source with this stored name.
    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The name stored with the asset.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Upload => "upload",
            Source::Workspace => "workspace",
            Source::Inline => "inline",
            Source::Observation => "observation",
            Source::Generated => "generated",
        }
    }
}

/// What the client said about the bytes.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// The declared media type (`Content-Type`), if any.
    pub media_type: Option<String>,
    /// The file name, if any (only its last path component is kept).
    pub file_name: Option<String>,
}

/// An asset as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AssetView {
    /// The stored row.
    #[serde(flatten)]
    pub asset: Asset,
    /// The broad kind (`image`, `audio`, `video`, `document`, `text`).
    pub kind: Kind,
}

impl AssetView {
    /// The parsed media type (always one of the accepted types for stored assets).
    pub fn media_type(&self) -> Option<MediaType> {
        MediaType::parse(&self.asset.media_type)
    }
}

/// The result of [`AssetStore::ingest`].
#[derive(Debug, Clone)]
pub struct Ingested {
    /// The asset.
    pub view: AssetView,
    /// The decided media type.
    pub media_type: MediaType,
    /// False when the same bytes and type were already stored (same id).
    pub created: bool,
}

/// The asset store (cheap to clone).
#[derive(Clone)]
pub struct AssetStore {
    blobs: Arc<dyn BlobStore>,
    store: Arc<dyn AssetRepo>,
    locks: BlobLocks,
    max_bytes: u64,
    /// Its bytes are files under this replica's state root, and other replicas share the
    /// database (see [`AssetStore::on_one_replica_of_several`]).
    one_replica_of_several: bool,
}

impl std::fmt::Debug for AssetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssetStore")
            .field("blobs", &self.blobs.describe())
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// The id of the asset with these bytes and type: `ast_` + 32 hex digits of
/// SHA-256(type NUL sha256), so the same bytes and type always get the same id.
pub fn asset_id(sha256: &str, media_type: MediaType) -> String {
    let key = format!("{}\0{sha256}", media_type.as_str());
    format!("ast_{}", &sha256_hex(key.as_bytes())[..32])
}

fn view(asset: Asset) -> AssetView {
    let kind = MediaType::parse(&asset.media_type)
        .map(MediaType::kind)
        .unwrap_or(Kind::Document);
    AssetView { asset, kind }
}

/// Keeps the last path component, without control characters, at most 255 bytes.
fn clean_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return None;
    }
    let mut end = cleaned.len().min(MAX_FILE_NAME);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    Some(cleaned[..end].to_owned())
}

impl AssetStore {
    /// Opens `state_root/assets` (creating it) and removes temporary files a crash left.
    pub fn open(
        state_root: &Path,
        store: Arc<dyn AssetRepo>,
        max_bytes: u64,
    ) -> Result<AssetStore, AssetError> {
        let blobs = FileBlobStore::open(state_root.join(ASSETS_DIR))
            .map_err(|e| e.for_asset("(assets directory)"))?;
        Ok(AssetStore::with_blobs(Arc::new(blobs), store, max_bytes))
    }

    /// An asset store keeping its bytes in `blobs` (see
    /// [`crate::AssetStoreLocation::open`]).
    pub fn with_blobs(
        blobs: Arc<dyn BlobStore>,
        store: Arc<dyn AssetRepo>,
        max_bytes: u64,
    ) -> AssetStore {
        AssetStore {
            blobs,
            store,
            locks: BlobLocks::new(),
            max_bytes,
            one_replica_of_several: false,
        }
    }

    /// Marks the store as one replica's among several sharing a database: its asset
    /// files are its own, so an asset another replica stored is missing here, and a read
    /// of it says so and how to share the bytes (`--asset-store`).
    pub fn on_one_replica_of_several(mut self) -> Self {
        self.one_replica_of_several = true;
        self
    }

    /// Where the bytes live.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// The upload size limit in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Decides the type of `bytes` without storing them (the same rules as ingest).
    pub fn check(&self, bytes: &[u8], declared: &Declared) -> Result<MediaType, AssetError> {
        if bytes.len() as u64 > self.max_bytes {
            return Err(AssetError::TooLarge {
                limit: self.max_bytes,
            });
        }
        let name = declared.file_name.as_deref().and_then(clean_file_name);
        Ok(sniff(
            bytes,
            declared.media_type.as_deref(),
            name.as_deref(),
        )?)
    }

    /// Stores `bytes`: checks size and type, hashes, writes the blob and records the
    /// row. The same bytes with the same type return the existing asset.
    pub async fn ingest(
        &self,
        bytes: Bytes,
        declared: Declared,
        source: Source,
    ) -> Result<Ingested, AssetError> {
        let media_type = self.check(&bytes, &declared)?;
        self.ingest_as(bytes, media_type, declared.file_name, source)
            .await
    }

    /// Stores bytes whose type was already decided with [`AssetStore::check`].
    pub async fn ingest_as(
        &self,
        bytes: Bytes,
        media_type: MediaType,
        file_name: Option<String>,
        source: Source,
    ) -> Result<Ingested, AssetError> {
        let size = bytes.len() as u64;
        let sha256 = sha256_hex(&bytes);
        let new = NewAsset {
            id: asset_id(&sha256, media_type),
            sha256,
            media_type: media_type.as_str().to_owned(),
            size,
            file_name: file_name.as_deref().and_then(clean_file_name),
            source: source.as_str().to_owned(),
        };
        // The blob is in place before its row exists (a failure leaves at most an
        // unused blob, never a row without bytes); storing it again repairs a damaged one.
        let _blob = self.locks.lock(&new.sha256).await;
        let _replicas = self.store.lock_blob(&new.sha256).await?;
        self.blobs
            .put(&new.sha256, bytes_stream(bytes))
            .await
            .map_err(|e| e.for_asset(&new.id))?;
        let outcome = self.store.insert_asset(new).await?;
        let created = matches!(outcome, AssetInsert::Inserted(_));
        let asset = match outcome {
            AssetInsert::Inserted(a) | AssetInsert::Existing(a) => a,
        };
        Ok(Ingested {
            view: view(asset),
            media_type,
            created,
        })
    }

    /// The asset with this id.
    pub async fn get(&self, id: &str) -> Result<AssetView, AssetError> {
        self.store
            .get_asset(id)
            .await?
            .map(view)
            .ok_or_else(|| AssetError::NotFound { id: id.to_owned() })
    }

    /// Assets newest first.
    pub async fn list(&self, filter: AssetFilter) -> Result<Vec<AssetView>, AssetError> {
        Ok(self
            .store
            .list_assets(filter)
            .await?
            .into_iter()
            .map(view)
            .collect())
    }

    /// The asset and its bytes, after checking they still hash to its SHA-256.
    pub async fn read(&self, id: &str) -> Result<(AssetView, Bytes), AssetError> {
        let asset = self.get(id).await?;
        let id = &asset.asset.id;
        let bytes = async {
            let stream = self.blobs.get(&asset.asset.sha256).await?;
            collect(stream, asset.asset.size).await
        }
        .await
        .map_err(|e| match e.for_asset(id) {
            AssetError::BlobMissing { id, location, .. } if self.one_replica_of_several => {
                AssetError::BlobMissing {
                    id,
                    location,
                    fix: "another replica may have stored them under its own state root; give every replica the same --asset-store (an S3 bucket) so any of them serves every asset",
                }
            }
            other => other,
        })?;
        Ok((asset, bytes))
    }

    /// Deletes the asset (and its derivations); its blob goes when no asset uses it.
    pub async fn delete(&self, id: &str) -> Result<AssetView, AssetError> {
        let sha256 = self.get(id).await?.asset.sha256;
        let _blob = self.locks.lock(&sha256).await;
        let _replicas = self.store.lock_blob(&sha256).await?;
        let (asset, shared) = self.store.delete_asset(id).await?;
        if !shared {
            self.blobs
                .delete(&asset.sha256)
                .await
                .map_err(|e| e.for_asset(&asset.id))?;
        }
        Ok(view(asset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    fn open(limit: u64) -> (tempfile::TempDir, AssetStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ferry_store::Store::open(dir.path()).unwrap();
        let assets = AssetStore::open(dir.path(), Arc::new(store), limit).unwrap();
        (dir, assets)
    }

    fn blob_path(dir: &tempfile::TempDir, sha256: &str) -> std::path::PathBuf {
        crate::blob::blob_path(&dir.path().join(ASSETS_DIR), sha256)
    }

    fn declared(t: &str) -> Declared {
        Declared {
            media_type: Some(t.into()),
            file_name: Some("../../x/pic.png".into()),
        }
    }

    #[tokio::test]
    async fn ingest_dedupes_reads_back_and_deletes() {
        let (_dir, assets) = open(1 << 20);
        let png = Bytes::from(testdata::png());
        let a = assets
            .ingest(png.clone(), declared("image/png"), Source::Upload)
            .await
            .unwrap();
        assert!(a.created);
        assert_eq!(a.view.asset.file_name.as_deref(), Some("pic.png"));
        assert_eq!(a.view.asset.size, png.len() as u64);
        let b = assets
            .ingest(png.clone(), Declared::default(), Source::Upload)
            .await
            .unwrap();
        assert!(!b.created);
        assert_eq!(a.view.asset.id, b.view.asset.id);
        let (_, bytes) = assets.read(&a.view.asset.id).await.unwrap();
        assert_eq!(bytes, png);
        let path = blob_path(&_dir, &a.view.asset.sha256);
        assert!(path.exists());
        assets.delete(&a.view.asset.id).await.unwrap();
        assert!(!path.exists());
        assert!(matches!(
            assets.get(&a.view.asset.id).await,
            Err(AssetError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn corrupted_blob_is_refused_and_reupload_repairs_it() {
        let (_dir, assets) = open(1 << 20);
        let wav = Bytes::from(testdata::wav());
        let a = assets
            .ingest(wav.clone(), Declared::default(), Source::Upload)
            .await
            .unwrap();
        let path = blob_path(&_dir, &a.view.asset.sha256);
        let mut damaged = wav.to_vec();
        damaged[100] ^= 0xFF;
        std::fs::write(&path, damaged).unwrap();
        let err = assets.read(&a.view.asset.id).await.unwrap_err();
        assert_eq!(err.code(), "asset_corrupted");
        assets
            .ingest(wav.clone(), Declared::default(), Source::Upload)
            .await
            .unwrap();
        assert_eq!(assets.read(&a.view.asset.id).await.unwrap().1, wav);
    }

    #[tokio::test]
    async fn refusals_leave_no_file_behind() {
        let (_dir, assets) = open(64);
        let err = assets
            .ingest(
                Bytes::from(vec![b'a'; 65]),
                Declared::default(),
                Source::Upload,
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), 413);
        let err = assets
            .ingest(
                Bytes::from(testdata::gif()),
                declared("image/png"),
                Source::Upload,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "media_type_mismatch");
        assert_eq!(
            std::fs::read_dir(_dir.path().join(ASSETS_DIR))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn ids_depend_on_bytes_and_type() {
        let sha = sha256_hex(b"x");
        assert_eq!(
            asset_id(&sha, MediaType::TextPlain),
            asset_id(&sha, MediaType::TextPlain)
        );
        assert_ne!(
            asset_id(&sha, MediaType::TextPlain),
            asset_id(&sha, MediaType::TextMarkdown)
        );
        assert!(asset_id(&sha, MediaType::TextPlain).starts_with("ast_"));
    }

    #[test]
    fn file_names_are_reduced_to_their_last_component() {
        assert_eq!(clean_file_name("a/b/c.txt").as_deref(), Some("c.txt"));
        assert_eq!(clean_file_name("C:\\x\\y.md").as_deref(), Some("y.md"));
        assert_eq!(clean_file_name("..").as_deref(), None);
        assert_eq!(clean_file_name("a\nb").as_deref(), Some("ab"));
    }
}
