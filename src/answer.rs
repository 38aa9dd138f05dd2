//! The daemon's answers read as ferry-types' typed views and events. A field that is
//! missing or of the wrong type is an error naming the field (its path in the answer) and
//! the command — never a "-" in the output.

use ferry_types::RunEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::CliError;

/// `answer` (the daemon's JSON answer to `command`, e.g. `runs show`) read as a `T`.
pub fn typed<T: DeserializeOwned>(command: &str, answer: &Value) -> Result<T, CliError> {
    serde_path_to_error::deserialize(answer).map_err(|e| unexpected(command, &e))
}

/// The SSE event `kind` with payload `data` (its `data:` text), streamed to `command`.
pub fn event(command: &str, kind: &str, data: &str) -> Result<RunEvent, CliError> {
    let data: Value = serde_json::from_str(data).map_err(|e| unexpected(command, &e))?;
    RunEvent::from_wire(kind, data).map_err(|e| unexpected(command, &e))
}

fn unexpected(command: &str, e: &dyn std::fmt::Display) -> CliError {
    CliError::fail(format!(
        "`ferry {command}`: the daemon's answer is not what this CLI reads ({e}); is the daemon the same version as the CLI (`ferry --version`, `ferry status`)?"
    ))
}

#[cfg(test)]
mod tests {
    use ferry_types::{RunStatus, RunView};
    use serde_json::json;

    use super::*;

    fn run() -> Value {
        json!({
            "id": "run_1", "session_id": "s", "status": "completed",
            "created_at": "2026-01-01T00:00:00Z", "started_at": null, "finished_at": null,
            "input": {"content": "hi"}, "route": "openrouter", "model_requested": "m/a",
            "model_served": "m/a", "usage": null, "cost": null, "output": {"text": "hello"},
            "error": null, "attempts": [], "idempotency_key": null, "cache_status": null,
            "generation_id": null, "billed_cost": null
        })
    }

    #[test]
    fn a_complete_run_is_read() {
        let view: RunView = typed("runs show", &run()).unwrap();
        assert_eq!(view.status, RunStatus::Completed);
        assert_eq!(view.model_served.as_deref(), Some("m/a"));
    }

    #[test]
    fn a_missing_field_is_an_error_naming_the_field_and_the_command() {
        let mut answer = run();
        answer.as_object_mut().unwrap().remove("status");
        let err = typed::<RunView>("runs show", &answer).unwrap_err();
        assert_eq!(err.exit, 1);
        assert!(err.message.contains("`ferry runs show`"), "{}", err.message);
        assert!(
            err.message.contains("missing field `status`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_status_answer_without_storage_is_an_error_naming_the_field_and_the_command() {
        let route = json!({
            "id": "openrouter", "driver": "openrouter", "default_model": "m/a",
            "is_default": true, "ready": true, "verified_openrouter": true,
            "base_url": "https://openrouter.ai/api/v1", "auth": "api_key_env OPENROUTER_API_KEY",
            "capabilities": {"multimodal_input": true, "native_web_search": false,
                "image_generation": true, "image_edit": true, "audio_generation": true,
                "transcription": true, "video_generation": true},
            "model_support": "any"
        });
        let answer = json!({
            "version": "0.1.0", "uptime_seconds": 1, "state": "ready", "routes": [route],
            "active": {"route": "openrouter", "model": "m/a", "wire_model": "m/a",
                       "source": "route_default"},
            "active_runs": 0, "secrets": 0, "secrets_locked": true
        });
        let err = typed::<ferry_types::StatusView>("status", &answer).unwrap_err();
        assert!(err.message.contains("`ferry status`"), "{}", err.message);
        assert!(
            err.message.contains("missing field `storage`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn media_answers_missing_a_field_are_errors_naming_the_field_and_the_command() {
        let output = json!({"tool": "generate_image", "route": "openrouter",
                            "assets": [{"asset_id": "ast_1", "media_type": "image/png", "size": 3}]});
        let err = typed::<ferry_types::ToolOutput>("image generate", &output).unwrap_err();
        assert!(
            err.message.contains("`ferry image generate`"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("missing field `model`"),
            "{}",
            err.message
        );
        let page = json!({"assets": [{"id": "ast_1", "sha256": "00", "media_type": "text/plain",
                          "size": "3", "file_name": null, "source": "upload",
                          "created_at": "2026-01-01T00:00:00Z", "kind": "text"}],
                          "next_cursor": null});
        let err = typed::<ferry_types::AssetPage>("assets list", &page).unwrap_err();
        assert!(
            err.message.contains("`ferry assets list`"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("assets[0].size: invalid type"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_wrong_event_payload_is_an_error_naming_the_field() {
        let err = event("runs events", "output.delta", r#"{"txt": "x"}"#).unwrap_err();
        assert!(
            err.message.contains("`ferry runs events`"),
            "{}",
            err.message
        );
        assert!(err.message.contains("`text`"), "{}", err.message);
        let ok = event("runs events", "output.delta", r#"{"text": "x"}"#).unwrap();
        assert_eq!(ok.kind(), "output.delta");
    }
}
