//! Uploading a local file to the daemon (`POST /v1/assets` or `/v1/observations`): the
//! bytes as the raw body, the file name in the query, the media type only when the user
//! declared one (the daemon detects it from the bytes).

use std::path::Path;

use ferry_types::AssetUpload;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::Value;

use crate::answer::typed;
use crate::client::{json_of, ApiClient, CliError};
use crate::commands::sessions::urlencode;

/// Sends `path`'s bytes to `endpoint` (which may already carry a query) and returns the
/// JSON answer.
pub async fn upload_file(
    client: &ApiClient,
    endpoint: &str,
    path: &Path,
    media_type: Option<&str>,
) -> Result<Value, CliError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let url = format!("{endpoint}{sep}file_name={}", urlencode(&name));
    let mut rb = client.request(Method::POST, &url).body(bytes);
    if let Some(t) = media_type {
        rb = rb.header(CONTENT_TYPE, t);
    }
    json_of(client.send(rb).await?).await
}

/// Uploads a file as an asset and returns its view.
pub async fn import(
    client: &ApiClient,
    path: &Path,
    media_type: Option<&str>,
) -> Result<Value, CliError> {
    upload_file(client, "/v1/assets", path, media_type).await
}

/// Uploads a file as an asset for `command` and returns its id.
pub async fn import_id(client: &ApiClient, command: &str, path: &Path) -> Result<String, CliError> {
    let answer = import(client, path, None).await?;
    Ok(typed::<AssetUpload>(command, &answer)?.asset.id)
}
