//! The spend ledger (spec §14): one row per paid upstream call — time, key, route, model,
//! kind, tokens, upstream's `usage.cost` (and the same amount in nano-USD, so sums are
//! exact), the billed cost once reconciled — and the grouped sums `ferry spend` shows.

use rusqlite::{params, params_from_iter, types::Value as Sql};

use crate::clock::now_rfc3339;
use crate::error::StoreError;
use crate::store::Store;

/// One paid upstream call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerEntry {
    /// The virtual key that made the call (`None`: the operator token or an open daemon).
    pub key_id: Option<String>,
    pub route: String,
    /// The model that answered (else the one asked for).
    pub model: String,
    /// `facade`, `session`, `media`, `stt`… (what kind of call).
    pub kind: String,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Upstream's `usage.cost`, when it reported one.
    pub cost: Option<f64>,
    /// The amount charged against budgets, in nano-USD: `cost`, or the reservation when
    /// upstream reported none (`estimated`).
    pub cost_nanos: i64,
    /// True when `cost_nanos` is ferry's worst-case estimate, not upstream's figure.
    pub estimated: bool,
    /// OpenRouter's generation id, for reconciliation.
    pub generation_id: Option<String>,
    /// The run, for session calls.
    pub run_id: Option<String>,
}

/// How `ferry spend` groups the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendGrouping {
    Key,
    Model,
    Route,
    Kind,
    Day,
}

impl SpendGrouping {
    /// The SQL expression the ledger is grouped by (the same on every backend).
    pub fn sql_expression(self) -> &'static str {
        match self {
            SpendGrouping::Key => "COALESCE(key_id, 'operator')",
            SpendGrouping::Model => "model",
            SpendGrouping::Route => "route",
            SpendGrouping::Kind => "kind",
            SpendGrouping::Day => "substr(at, 1, 10)",
        }
    }
}

/// One group of the ledger: the wire view itself (`GET /v1/spend` answers it as stored).
pub use ferry_types::SpendGroup;

/// Nano-USD to USD.
pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

impl Store {
    /// Appends a ledger row (queued; not waited for: the in-memory budget book is
    /// already settled).
    pub(crate) fn charge_nowait(&self, entry: LedgerEntry) {
        // Deferred: a busy facade commits its ledger rows tens at a time; every ledger
        // read below settles them first.
        self.write_deferred(move |conn| {
            conn.prepare_cached(
                "INSERT INTO spend_ledger (at, key_id, route, model, kind, prompt_tokens,
                     completion_tokens, cost, cost_nanos, estimated, generation_id, run_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                now_rfc3339(),
                entry.key_id,
                entry.route,
                entry.model,
                entry.kind,
                entry.prompt_tokens.map(|n| n as i64),
                entry.completion_tokens.map(|n| n as i64),
                entry.cost,
                entry.cost_nanos,
                entry.estimated,
                entry.generation_id,
                entry.run_id,
            ])?;
            Ok(())
        });
    }

    /// Records what OpenRouter billed for a generation on its ledger row.
    pub(crate) fn set_ledger_billed_nowait(&self, generation_id: String, billed: f64) {
        self.write_nowait(move |conn| {
            conn.prepare_cached(
                "UPDATE spend_ledger SET billed_cost = ?2 WHERE generation_id = ?1",
            )?
            .execute(params![generation_id, billed])?;
            Ok(())
        });
    }

    /// Nano-USD charged to each key since each given instant, for the budget book.
    pub(crate) async fn key_spend_since(
        &self,
        keys: Vec<(String, time::OffsetDateTime)>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.settle_deferred().await?;
        let keys: Vec<(String, String)> = keys
            .into_iter()
            .map(|(key, since)| (key, crate::clock::format_rfc3339(since)))
            .collect();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT COALESCE(SUM(cost_nanos), 0) FROM spend_ledger WHERE key_id = ?1 AND at >= ?2",
            )?;
            keys.into_iter()
                .map(|(key, since)| {
                    let n: i64 = stmt.query_row(params![key, since], |r| r.get(0))?;
                    Ok((key, n))
                })
                .collect()
        })
        .await
    }

    /// The ledger grouped, between `since` (inclusive) and `until` (exclusive), RFC 3339
    /// or date prefixes; biggest spend first (by day: oldest first). With `split`, each
    /// group is divided by that second grouping (rows ordered by group, then spend).
    pub(crate) async fn spend_report(
        &self,
        by: SpendGrouping,
        split: Option<SpendGrouping>,
        since: Option<String>,
        until: Option<String>,
        key_id: Option<String>,
    ) -> Result<Vec<SpendGroup>, StoreError> {
        self.settle_deferred().await?;
        self.read(move |conn| {
            let mut filters = Vec::new();
            let mut args: Vec<Sql> = Vec::new();
            if let Some(s) = since {
                filters.push("at >= ?");
                args.push(Sql::Text(s));
            }
            if let Some(u) = until {
                filters.push("at < ?");
                args.push(Sql::Text(u));
            }
            if let Some(k) = key_id {
                filters.push("key_id = ?");
                args.push(Sql::Text(k));
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
                "SELECT {col} AS g, {split_col} AS s, COUNT(*), SUM(cost_nanos), SUM(estimated), SUM(billed_cost),
                        COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)
                 FROM spend_ledger {filter} GROUP BY g, s ORDER BY {order}",
                col = by.sql_expression(),
                split_col = split.map_or("NULL", SpendGrouping::sql_expression),
            );
            conn.prepare(&sql)?
                .query_map(params_from_iter(args), |row| {
                    Ok(SpendGroup {
                        group: row.get(0)?,
                        split: row.get(1)?,
                        calls: row.get::<_, i64>(2)? as u64,
                        cost_usd: nanos_to_usd(row.get(3)?),
                        estimated_calls: row.get::<_, i64>(4)? as u64,
                        billed_usd: row.get(5)?,
                        prompt_tokens: row.get::<_, i64>(6)? as u64,
                        completion_tokens: row.get::<_, i64>(7)? as u64,
                    })
                })?
                .collect()
        })
        .await
    }
}
