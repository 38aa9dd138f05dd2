//! Writing assets the daemon produced to local files: `--out PATH` (relative to the
//! caller's directory; several results become `NAME-1.ext`, `NAME-2.ext`, …) and
//! `--save-dir DIR` (`<asset id>.<ext>`). Bytes come from `GET /v1/assets/{id}/raw`,
//! which re-checks their SHA-256.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ferry_assets::MediaType;
use ferry_types::AssetRef;
use reqwest::Method;

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
pub fn file_name(asset: &AssetRef) -> String {
    let ext = MediaType::parse(&asset.media_type)
        .map(MediaType::extension)
        .unwrap_or("bin");
    format!("{}.{ext}", asset.asset_id)
}

/// Downloads every asset (by id) to the given paths and returns what was written.
pub async fn save_all(
    client: &ApiClient,
    ids: &[&str],
    paths: &[PathBuf],
) -> Result<Vec<(String, PathBuf, usize)>, CliError> {
    let mut written = Vec::with_capacity(ids.len());
    for (id, path) in ids.iter().zip(paths) {
        let bytes = download(client, id).await?;
        write_file(path, &bytes)?;
        written.push(((*id).to_owned(), path.clone(), bytes.len()));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str, media_type: &str) -> AssetRef {
        AssetRef {
            asset_id: id.into(),
            media_type: media_type.into(),
            size: 1,
        }
    }

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
        assert_eq!(file_name(&asset("ast_1", "image/png")), "ast_1.png");
        assert_eq!(file_name(&asset("ast_2", "audio/mpeg")), "ast_2.mp3");
        assert_eq!(file_name(&asset("ast_3", "x/unknown")), "ast_3.bin");
    }
}
