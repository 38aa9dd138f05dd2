//! What operators see of each upstream call: one warn-level log line per failed attempt
//! (route, model, status, problem code, attempt number, generation id — never the key or
//! the prompt), shared by the session and facade paths.

use ferry_metrics::Api;
use ferry_openrouter::Attempt;

/// Logs every failed attempt of `attempts[from..]`; attempt numbers count from 1 over the
/// whole list (so a fallback's attempts continue the numbering of the request).
pub(crate) fn failed_attempts(
    api: Api,
    route: &str,
    run_id: Option<&str>,
    attempts: &[Attempt],
    from: usize,
) {
    for (i, a) in attempts.iter().enumerate().skip(from) {
        let Some(code) = a.error_code.as_deref() else {
            continue;
        };
        tracing::warn!(
            api = api.as_str(),
            route,
            model = %a.model,
            status = a.status.map_or_else(|| "none".to_string(), |s| s.to_string()),
            code,
            attempt = i + 1,
            generation_id = a.generation_id.as_deref().unwrap_or("none"),
            run = run_id.unwrap_or("none"),
            latency_ms = a.latency_ms,
            "upstream call failed"
        );
    }
}
