//! Team access on PostgreSQL (spec §14): virtual keys, old reservation rows and the spend
//! ledger's reads (its writes go through [`crate::ledger`]).

use async_trait::async_trait;
use ferry_store::{
    nanos_to_usd, now_rfc3339, rfc3339, AccessRepo, KeyRow, LedgerEntry, ReservationRow,
    SpendGroup, SpendGrouping, StoreError,
};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::cached::Cached;
use crate::columns::{self, json_text};
use crate::db_error::db;
use crate::PgStore;

fn key_from_row(row: &Row) -> Result<KeyRow, StoreError> {
    Ok(KeyRow {
        id: row.get("id"),
        name: row.get("name"),
        secret_hash: row.get("secret_hash"),
        hint: row.get("hint"),
        settings: columns::json(row, "settings")?,
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        revoked_at: row.get("revoked_at"),
    })
}

#[async_trait]
impl AccessRepo for PgStore {
    fn shared_budgets(&self) -> Option<std::sync::Arc<dyn ferry_store::BudgetRepo>> {
        Some(std::sync::Arc::new(self.clone()))
    }

    fn shared_rates(&self) -> Option<std::sync::Arc<dyn ferry_store::RateRepo>> {
        Some(std::sync::Arc::new(self.clone()))
    }

    fn shared_secrets(&self) -> Option<std::sync::Arc<dyn ferry_store::SecretRepo>> {
        Some(std::sync::Arc::new(self.clone()))
    }

    async fn insert_key(
        &self,
        id: String,
        name: String,
        secret_hash: String,
        hint: String,
        settings: Value,
    ) -> Result<KeyRow, StoreError> {
        let conn = self.writer().await?;
        let now = now_rfc3339();
        conn.exec(
"INSERT INTO access_keys (id, name, secret_hash, hint, settings, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            &[&id, &name, &secret_hash, &hint, &json_text(&settings), &now],
        )
        .await
        .map_err(db)?;
        Ok(KeyRow {
            id,
            name,
            secret_hash,
            hint,
            settings,
            created_at: now.clone(),
            updated_at: now,
            revoked_at: None,
        })
    }

    async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        let conn = self.reader().await?;
        let rows = conn
            .rows(
                "SELECT id, name, secret_hash, hint, settings, created_at, updated_at, revoked_at
                 FROM access_keys ORDER BY created_at, id",
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn update_key(
        &self,
        id: String,
        name: String,
        settings: Value,
    ) -> Result<bool, StoreError> {
        let conn = self.writer().await?;
        let n = conn
            .exec(
                "UPDATE access_keys SET name = $2, settings = $3, updated_at = $4 WHERE id = $1",
                &[&id, &name, &json_text(&settings), &now_rfc3339()],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn revoke_key(&self, id: String) -> Result<bool, StoreError> {
        let conn = self.writer().await?;
        let n = conn
            .exec(
                "UPDATE access_keys SET revoked_at = $2, updated_at = $2
                 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now_rfc3339()],
            )
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn release_all_reservations(&self) -> Result<Vec<ReservationRow>, StoreError> {
        let conn = self.writer().await?;
        let rows = conn
            .rows(
                "DELETE FROM spend_reservations RETURNING id, key_id, amount_nanos, route, model",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|row| ReservationRow {
                id: row.get(0),
                key_id: row.get(1),
                amount_nanos: row.get(2),
                route: row.get(3),
                model: row.get(4),
            })
            .collect())
    }

    fn charge_nowait(&self, entry: LedgerEntry) {
        self.ledger.charge(entry);
    }

    fn set_ledger_billed_nowait(&self, generation_id: String, billed: f64) {
        self.ledger.billed(generation_id, billed);
    }

    async fn key_spend_since(
        &self,
        keys: Vec<(String, OffsetDateTime)>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.ledger.settle().await?;
        let conn = self.reader().await?;
        let stmt = conn
            .prepare_cached(
                "SELECT COALESCE(SUM(cost_nanos), 0)::BIGINT FROM spend_ledger
                 WHERE key_id = $1 AND at >= $2",
            )
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(keys.len());
        for (key, since) in keys {
            let n: i64 = conn
                .query_one(&stmt, &[&key, &rfc3339(since)])
                .await
                .map_err(db)?
                .get(0);
            out.push((key, n));
        }
        Ok(out)
    }

    async fn spend_report(
        &self,
        by: SpendGrouping,
        split: Option<SpendGrouping>,
        since: Option<String>,
        until: Option<String>,
        key_id: Option<String>,
    ) -> Result<Vec<SpendGroup>, StoreError> {
        self.ledger.settle().await?;
        let mut filters = Vec::new();
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (value, condition) in [(&since, "at >="), (&until, "at <"), (&key_id, "key_id =")] {
            if let Some(v) = value {
                args.push(v);
                filters.push(format!("{condition} ${}", args.len()));
            }
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        };
        let order = match (by, split) {
            (SpendGrouping::Day, None) => "g ASC",
            (_, None) => "SUM(cost_nanos) DESC, g ASC",
            (_, Some(_)) => "g ASC, SUM(cost_nanos) DESC, s ASC",
        };
        let sql = format!(
            "SELECT {col} AS g, {split_col} AS s, COUNT(*), SUM(cost_nanos)::BIGINT,
                    SUM(estimated)::BIGINT, SUM(billed_cost),
                    COALESCE(SUM(prompt_tokens), 0)::BIGINT,
                    COALESCE(SUM(completion_tokens), 0)::BIGINT
             FROM spend_ledger {filter} GROUP BY g, s ORDER BY {order}",
            col = by.sql_expression(),
            split_col = split.map_or("NULL::TEXT", SpendGrouping::sql_expression),
        );
        let conn = self.reader().await?;
        let rows = conn.rows(&sql, &args).await.map_err(db)?;
        Ok(rows
            .iter()
            .map(|row| SpendGroup {
                group: row.get(0),
                split: row.get(1),
                calls: columns::count(row, 2),
                cost_usd: nanos_to_usd(row.get(3)),
                estimated_calls: columns::count(row, 4),
                billed_usd: row.get(5),
                prompt_tokens: columns::count(row, 6),
                completion_tokens: columns::count(row, 7),
            })
            .collect())
    }
}
