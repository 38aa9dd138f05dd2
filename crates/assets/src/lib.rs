//! ferry-assets: the asset store (spec §10). Bytes are content-addressed by SHA-256 in a
//! [`BlobStore`]: files under `STATE_ROOT/assets/<first two hex digits>/<sha256>`
//! ([`FileBlobStore`], the default) or objects `PREFIX/<2 hex>/<sha256>` in an
//! S3-compatible bucket ([`S3BlobStore`], `serve --asset-store s3://BUCKET/PREFIX`, chosen
//! with [`AssetStoreLocation`]); [`copy_blobs`] copies one store into another. Metadata
//! (type, size, name, source) and derivations (transcripts) live in the database through
//! `ferry-store`.
//!
//! - [`sniff`] decides the type from the bytes (the rules are documented there) against
//!   the allow-list of [`MediaType`]; a declared type that contradicts the bytes is refused.
//! - [`AssetStore::ingest`] checks the bytes, then the blob store writes them whole or not
//!   at all (files: a temporary file fsynced and renamed), so a refused, oversize or
//!   interrupted upload leaves no partial blob; the same bytes and type always map to the
//!   same asset id.
//! - [`AssetStore::read`] re-hashes the blob and refuses corrupted bytes.
//! - [`Collector`] gathers an upload body with a hard size limit.
//! - `testdata` (feature `test-support`, for dev-dependencies only) generates small valid
//!   files of every binary type for tests; `moto` runs a real S3-compatible server for them.

mod asset_store;
mod blob;
mod blob_locks;
mod blob_store;
mod collect;
mod copy;
mod error;
mod media_type;
#[cfg(any(test, feature = "test-support"))]
pub mod moto;
mod s3_blobs;
mod sniff;
mod store_location;
#[cfg(any(test, feature = "test-support"))]
pub mod testdata;

pub use asset_store::{
    asset_id, AssetStore, AssetView, Declared, Ingested, Source, ASSETS_DIR,
    DEFAULT_MAX_ASSET_BYTES,
};
pub use blob::{sha256_hex, FileBlobStore};
pub use blob_store::{bytes_stream, BlobStore, BlobStream};
pub use collect::Collector;
pub use copy::{copy_blobs, CopyError, CopyReport};
pub use error::{AssetError, BlobError};
pub use media_type::{Kind, MediaType};
pub use s3_blobs::{aws_vars_from_env, AwsVars, S3BlobStore};
pub use sniff::{extension_hint, sniff, SniffError};
pub use store_location::{AssetStoreConfigError, AssetStoreLocation, S3Location};
