//! The liveness and readiness answers (`GET /healthz`, `GET /readyz`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a health probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// The process is up (`/healthz`).
    Ok,
    /// The daemon takes work (`/readyz`).
    Ready,
}

/// The answer of `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok` (live) or `ready`.
    pub status: HealthStatus,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn health_is_todays_wire_json() {
        let ok = Health {
            status: HealthStatus::Ok,
        };
        assert_eq!(serde_json::to_value(ok).unwrap(), json!({"status": "ok"}));
        let ready: Health = serde_json::from_value(json!({"status": "ready"})).unwrap();
        assert_eq!(ready.status, HealthStatus::Ready);
    }
}
