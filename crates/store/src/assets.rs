//! Asset metadata and derivations. The bytes live on disk, content-addressed by SHA-256
//! (owned by `ferry-assets`); this module keeps one row per (bytes, media type) and the
//! derived texts of an asset (e.g. a transcript per speech-to-text model).
//!
//! Placing and removing blob files happens on the writer thread inside the same job as
//! the row change (via the caller's hook), so a concurrent delete of one asset can never
//! unlink the blob another upload of the same bytes has just placed.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use serde_json::Value;

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::json_column::{self, to_text_opt};
use crate::store::Store;
use crate::AssetRepo;

/// An asset row to insert.
#[derive(Debug, Clone)]
pub struct NewAsset {
    /// Asset id (derived from the hash and type by the caller).
    pub id: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The canonical media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The file name it was uploaded with, if any.
    pub file_name: Option<String>,
    /// How it arrived (`upload`, `workspace`, `inline`, `observation`).
    pub source: String,
}

/// A stored asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Asset {
    /// Asset id.
    pub id: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The canonical media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The file name it was first uploaded with.
    pub file_name: Option<String>,
    /// How it first arrived.
    pub source: String,
    /// When it was first stored (RFC 3339).
    pub created_at: String,
    /// Insertion order, used as the list cursor.
    #[serde(skip)]
    pub seq: i64,
}

/// What [`Store::insert_asset`] did.
#[derive(Debug, Clone)]
pub enum AssetInsert {
    /// A new row was inserted.
    Inserted(Asset),
    /// The same bytes with the same type were already stored; this is that asset.
    Existing(Asset),
}

impl AssetInsert {
    /// The asset, whichever way it came.
    pub fn asset(&self) -> &Asset {
        match self {
            AssetInsert::Inserted(a) | AssetInsert::Existing(a) => a,
        }
    }
}

/// Filters of [`Store::list_assets`].
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// Only these media types (empty: any), e.g. every type of one kind.
    pub media_types: Vec<String>,
    /// Exact source, e.g. `observation`.
    pub source: Option<String>,
    /// Only assets inserted before this cursor (a `seq` from an earlier page).
    pub before: Option<i64>,
    /// Page size.
    pub limit: u32,
}

/// A text derived from an asset (e.g. a transcript), keyed by (asset, kind, model): the wire
/// view itself (`GET /v1/assets/{id}` answers it as stored).
pub use ferry_types::Derivation;

const SELECT_ASSET: &str =
    "SELECT id, sha256, media_type, size, file_name, source, created_at, seq FROM assets";

fn asset_from_row(row: &Row<'_>) -> rusqlite::Result<Asset> {
    Ok(Asset {
        id: row.get(0)?,
        sha256: row.get(1)?,
        media_type: row.get(2)?,
        size: row.get(3)?,
        file_name: row.get(4)?,
        source: row.get(5)?,
        created_at: row.get(6)?,
        seq: row.get(7)?,
    })
}

fn load_asset(conn: &Connection, id: &str) -> rusqlite::Result<Option<Asset>> {
    conn.prepare_cached(&format!("{SELECT_ASSET} WHERE id = ?1"))?
        .query_row([id], asset_from_row)
        .optional()
}

/// Whether any asset row uses these bytes.
fn blob_in_use(conn: &Connection, sha256: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM assets WHERE sha256 = ?1")?
        .exists([sha256])
}

fn derivation_from_row(row: &Row<'_>) -> rusqlite::Result<Derivation> {
    Ok(Derivation {
        asset_id: row.get(0)?,
        kind: row.get(1)?,
        model: row.get(2)?,
        content: row.get(3)?,
        meta: json_column::column_opt(row, 4)?,
        created_at: row.get(5)?,
    })
}

fn insert_asset(conn: &Connection, new: &NewAsset) -> Result<AssetInsert, StoreError> {
    let existing = conn
        .prepare_cached(&format!(
            "{SELECT_ASSET} WHERE sha256 = ?1 AND media_type = ?2"
        ))?
        .query_row([&new.sha256, &new.media_type], asset_from_row)
        .optional()?;
    if let Some(asset) = existing {
        return Ok(AssetInsert::Existing(asset));
    }
    conn.prepare_cached(
        "INSERT INTO assets (id, sha256, media_type, size, file_name, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        new.id,
        new.sha256,
        new.media_type,
        new.size,
        new.file_name,
        new.source,
        now_rfc3339()
    ])?;
    let asset = load_asset(conn, &new.id)?
        .ok_or_else(|| StoreError::AssetNotFound { id: new.id.clone() })?;
    Ok(AssetInsert::Inserted(asset))
}

#[async_trait]
impl AssetRepo for Store {
    async fn insert_asset(&self, new: NewAsset) -> Result<AssetInsert, StoreError> {
        self.write_with(move |conn| insert_asset(conn, &new)).await
    }

    async fn get_asset(&self, id: &str) -> Result<Option<Asset>, StoreError> {
        let id = id.to_owned();
        self.read_with(move |conn| Ok(load_asset(conn, &id)?)).await
    }

    async fn list_assets(&self, filter: AssetFilter) -> Result<Vec<Asset>, StoreError> {
        self.read_with(move |conn| {
            // One placeholder per media type (`?5`, `?6`, …): no JSON functions in SQL.
            let types = if filter.media_types.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (0..filter.media_types.len())
                    .map(|i| format!("?{}", i + 4))
                    .collect();
                format!("AND media_type IN ({})", marks.join(", "))
            };
            let mut stmt = conn.prepare_cached(&format!(
                "{SELECT_ASSET}
                 WHERE (?1 IS NULL OR source = ?1)
                   AND (?2 IS NULL OR seq < ?2)
                   {types}
                 ORDER BY seq DESC LIMIT ?3"
            ))?;
            let mut args: Vec<&dyn rusqlite::ToSql> =
                vec![&filter.source, &filter.before, &filter.limit];
            args.extend(filter.media_types.iter().map(|t| t as &dyn rusqlite::ToSql));
            let rows = stmt.query_map(args.as_slice(), asset_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn delete_asset(&self, id: &str) -> Result<(Asset, bool), StoreError> {
        let id = id.to_owned();
        self.write_with(move |conn| {
            let asset = load_asset(conn, &id)?.ok_or(StoreError::AssetNotFound { id })?;
            conn.prepare_cached("DELETE FROM assets WHERE id = ?1")?
                .execute([&asset.id])?;
            let shared = blob_in_use(conn, &asset.sha256)?;
            Ok((asset, shared))
        })
        .await
    }

    async fn blob_in_use(&self, sha256: &str) -> Result<bool, StoreError> {
        let sha256 = sha256.to_owned();
        self.read_with(move |conn| Ok(blob_in_use(conn, &sha256)?))
            .await
    }

    async fn get_derivation(
        &self,
        asset_id: &str,
        kind: &str,
        model: &str,
    ) -> Result<Option<Derivation>, StoreError> {
        let key = (asset_id.to_owned(), kind.to_owned(), model.to_owned());
        self.read_with(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT asset_id, kind, model, content, meta, created_at
                     FROM asset_derivations WHERE asset_id = ?1 AND kind = ?2 AND model = ?3",
                )?
                .query_row(params![key.0, key.1, key.2], derivation_from_row)
                .optional()?)
        })
        .await
    }

    async fn derivations(&self, asset_id: &str) -> Result<Vec<Derivation>, StoreError> {
        let asset_id = asset_id.to_owned();
        self.read_with(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT asset_id, kind, model, content, meta, created_at
                 FROM asset_derivations WHERE asset_id = ?1 ORDER BY created_at, kind, model",
            )?;
            let rows = stmt.query_map([asset_id], derivation_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn put_derivation(
        &self,
        asset_id: &str,
        kind: &str,
        model: &str,
        content: &str,
        meta: Option<Value>,
    ) -> Result<Derivation, StoreError> {
        let (asset_id, kind, model, content) = (
            asset_id.to_owned(),
            kind.to_owned(),
            model.to_owned(),
            content.to_owned(),
        );
        self.write_with(move |conn| {
            if load_asset(conn, &asset_id)?.is_none() {
                return Err(StoreError::AssetNotFound { id: asset_id });
            }
            conn.prepare_cached(
                "INSERT INTO asset_derivations (asset_id, kind, model, content, meta, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (asset_id, kind, model) DO NOTHING",
            )?
            .execute(params![
                asset_id,
                kind,
                model,
                content,
                to_text_opt(meta.as_ref())?,
                now_rfc3339()
            ])?;
            Ok(conn
                .prepare_cached(
                    "SELECT asset_id, kind, model, content, meta, created_at
                     FROM asset_derivations WHERE asset_id = ?1 AND kind = ?2 AND model = ?3",
                )?
                .query_row(params![asset_id, kind, model], derivation_from_row)?)
        })
        .await
    }
}
