//! Writing assets the daemon produced to local files: `--out PATH` (relative to the
//! caller's directory; several results become `NAME-1.ext`, `NAME-2.ext`, …) and
//! `--save-dir DIR` (`<asset id>.<ext>`). Bytes come from `GET /v1/assets/{id}/raw`,
//! which re-checks their SHA-256.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ferry_assets::MediaType;
use reqwest::Method;
use serde_json::Value;

use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;

/// An asset's bytes.
pub async fn download(client: &ApiClient, id: &str) -> Result<Bytes, CliError> {
    let resp = client
        .send(client.request(Method::GET, &format!("/v1/assets/{}/raw", urlencode(id))))
        .await?;
    resp.bytes()
        .await
        .map_err(|e| CliError::fail(format!("downloading {id} failed: {e}")))
}

/// Writes `bytes` to `path`, creating missing parent directories.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::fail(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| CliError::fail(format!("cannot write {}: {e}", path.display())))
}

/// The files `n` results go to for `--out out`: `out` itself for one, else
/// `stem-1.ext`, `stem-2.ext`, … next to it.
pub fn numbered(out: &Path, n: usize) -> Vec<PathBuf> {
    if n <= 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..=n)
        .map(|i| out.with_file_name(format!("{stem}-{i}{ext}")))
        .collect()
}

/// The file name of an asset in a `--save-dir`: `<id>.<ext of its type>`.
pub fn file_name(asset: &Value) -> String {
    let id = asset["asset_id"]
        .as_str()
        .or_else(|| asset["id"].as_str())
        .unwrap_or("asset");
    let ext = asset["media_type"]
        .as_str()
        .and_then(MediaType::parse)
        .map(MediaType::extension)
        .unwrap_or("bin");
    format!("{id}.{ext}")
}

/// Downloads every asset (`{asset_id, media_type}` objects) to the given paths and
/// returns what was written.
pub async fn save_all(
    client: &ApiClient,
    assets: &[&Value],
    paths: &[PathBuf],
) -> Result<Vec<(String, PathBuf, usize)>, CliError> {
    let mut written = Vec::with_capacity(assets.len());
    for (asset, path) in assets.iter().zip(paths) {
        let id = asset["asset_id"]
            .as_str()
            .or_else(|| asset["id"].as_str())
            .unwrap_or_default();
        let bytes = download(client, id).await?;
        write_file(path, &bytes)?;
        written.push((id.to_owned(), path.clone(), bytes.len()));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbered_paths() {
        assert_eq!(
            numbered(Path::new("fox.png"), 1),
            vec![PathBuf::from("fox.png")]
        );
        assert_eq!(
            numbered(Path::new("out/fox.png"), 2),
            vec![
                PathBuf::from("out/fox-1.png"),
                PathBuf::from("out/fox-2.png")
            ]
        );
        assert_eq!(numbered(Path::new("fox"), 2)[1], PathBuf::from("fox-2"));
    }

    #[test]
    fn save_dir_names_use_the_type() {
        assert_eq!(
            file_name(&json!({"asset_id": "ast_1", "media_type": "image/png"})),
            "ast_1.png"
        );
        assert_eq!(
            file_name(&json!({"asset_id": "ast_2", "media_type": "audio/mpeg"})),
            "ast_2.mp3"
        );
        assert_eq!(file_name(&json!({"id": "ast_3"})), "ast_3.bin");
    }
}
