//! ferry-assets: the asset store (spec §10). Bytes are content-addressed by SHA-256 under
//! `STATE_ROOT/assets/<first two hex digits>/<sha256>`; metadata (type, size, name,
//! source) and derivations (transcripts) live in SQLite through `ferry-store`.
//!
//! - [`sniff`] decides the type from the bytes (the rules are documented there) against
//!   the allow-list of [`MediaType`]; a declared type that contradicts the bytes is refused.
//! - [`AssetStore::ingest`] writes through a temporary file that is fsynced and renamed,
//!   so a refused, oversize or interrupted upload leaves no partial file; the same bytes
//!   and type always map to the same asset id.
//! - [`AssetStore::read`] re-hashes the blob and refuses corrupted bytes.
//! - [`Collector`] gathers an upload body with a hard size limit.
//! - `testdata` (feature `test-support`, for dev-dependencies only) generates small valid
//!   files of every binary type for tests.

mod asset_store;
mod blob;
mod blob_locks;
mod collect;
mod error;
mod media_type;
mod sniff;
#[cfg(any(test, feature = "test-support"))]
pub mod testdata;

pub use asset_store::{
    asset_id, AssetStore, AssetView, Declared, Ingested, Source, ASSETS_DIR,
    DEFAULT_MAX_ASSET_BYTES,
};
pub use blob::sha256_hex;
pub use collect::Collector;
pub use error::AssetError;
pub use media_type::{Kind, MediaType};
pub use sniff::{extension_hint, sniff, SniffError};
