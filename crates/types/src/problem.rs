//! The `application/problem+json` document (RFC 9457) every control-API error answers
//! with: `type` (`urn:ferry:problem:{code}`), `title` (the HTTP reason phrase), `status`,
//! the stable `code`, `detail`, and `retryable` / `run_id` when they apply.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem_code::ProblemCode;

/// An RFC 9457 problem document with ferry's stable `code` (`Problem` in the OpenAPI
/// document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// `urn:ferry:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// The stable problem code.
    pub code: ProblemCode,
    /// What was wrong and how to fix it.
    pub detail: String,
    /// Whether retrying later may succeed (left out when false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    /// The run concerned, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl ProblemDocument {
    /// The `type` URN of a code.
    pub fn type_of(code: ProblemCode) -> String {
        format!("urn:ferry:problem:{code}")
    }
}
