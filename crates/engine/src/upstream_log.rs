//! What operators see of each upstream call: one warn-level log line per failed attempt
//! (route, model, status, problem code, attempt number, generation id — never the key or
//! the prompt), shared by the session, facade and media-tool paths.

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
    log(api.as_str(), None, route, run_id, attempts, from);
}

/// Logs every failed attempt of a media call (image, speech, transcription, video) made
/// for `tool`, with `api="media"` and the tool's name.
pub(crate) fn failed_media_attempts(
    tool: &str,
    route: &str,
    run_id: Option<&str>,
    attempts: &[Attempt],
) {
    log("media", Some(tool), route, run_id, attempts, 0);
}

fn log(
    api: &str,
    tool: Option<&str>,
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
            api,
            tool,
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
