//! The spend report: the ledger grouped as `GET /v1/spend` answers and `ferry keys spend`
//! reads.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One group of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SpendGroup {
    /// The key id (`operator` for calls without a key), model, route, kind or UTC day.
    pub group: String,
    /// With a second grouping (`split`), this row's value of it (left out without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Paid calls.
    pub calls: u64,
    /// Sum charged (upstream's cost, or the reservation when it reported none), USD.
    pub cost_usd: f64,
    /// Calls whose charge is ferry's estimate.
    pub estimated_calls: u64,
    /// Sum of reconciled billed costs, USD (null when nothing was reconciled).
    pub billed_usd: Option<f64>,
    /// Sum of prompt tokens.
    pub prompt_tokens: u64,
    /// Sum of completion tokens.
    pub completion_tokens: u64,
}

/// `GET /v1/spend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SpendReport {
    /// The grouping: `key`, `model`, `route`, `kind` or `day`.
    pub by: String,
    /// The second grouping, if any (null when none).
    pub split: Option<String>,
    /// Lower bound as given (UTC date or time; null when none).
    pub since: Option<String>,
    /// Upper bound as given (null when none).
    pub until: Option<String>,
    /// The groups, biggest first.
    pub groups: Vec<SpendGroup>,
    /// Sum of `cost_usd` over the groups.
    pub total_usd: f64,
}
