//! `serve --asset-store` (env `FERRY_ASSET_STORE`): opens the S3-compatible asset store the
//! operator chose, checking the bucket before the daemon takes requests. Unset keeps the
//! asset bytes under the state root, opened by the engine as before.

use std::path::Path;
use std::sync::Arc;

use ferry_assets::{AssetStoreConfigError, AssetStoreLocation, BlobStore};

use crate::client::CliError;

/// The blob store for `--asset-store VALUE` (`None` when unset: files under the state root).
/// A bad value is a usage error; a bucket that is missing, refuses the credentials or
/// cannot be reached fails the start with what to fix.
pub async fn open(
    value: Option<&str>,
    state_root: &Path,
) -> Result<Option<Arc<dyn BlobStore>>, CliError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let location: AssetStoreLocation = value
        .parse()
        .map_err(|e: AssetStoreConfigError| CliError::usage(e.to_string()))?;
    let blobs = location.open(state_root).await.map_err(|e| match e {
        AssetStoreConfigError::BadUrl { .. } | AssetStoreConfigError::InsecureEndpoint { .. } => {
            CliError::usage(e.to_string())
        }
        other => CliError::fail(other.to_string()),
    })?;
    tracing::info!(asset_store = %blobs.describe(), "asset bytes are kept in the asset store");
    Ok(Some(blobs))
}
