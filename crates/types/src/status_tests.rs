//! The status and runtime views read today's answers and write them back unchanged.

use serde_json::{json, Value};

use super::*;

fn route(unreachable: bool) -> Value {
    let mut r = json!({
        "id": "openrouter", "driver": "openrouter", "default_model": "openai/gpt-5.4-mini",
        "is_default": true, "ready": true, "verified_openrouter": true,
        "base_url": "https://openrouter.ai/api/v1", "auth": "auth_ref openrouter",
        "capabilities": {
            "multimodal_input": true, "native_web_search": false, "image_generation": true,
            "image_edit": true, "audio_generation": true, "transcription": true,
            "video_generation": false
        },
    });
    if unreachable {
        r["capability_notes"] = json!(["video_generation: not in the catalog"]);
    }
    r["model_support"] = json!("any");
    if unreachable {
        r["unreachable"] = json!({"since": "2026-01-01T00:00:00Z", "error": "refused"});
    }
    r
}

fn status() -> Value {
    json!({
        "version": "0.1.0", "uptime_seconds": 5, "state": "degraded",
        "degraded": "OpenRouter unreachable since 2026-01-01T00:00:00Z: refused",
        "routes": [route(true), route(false)],
        "active": {"route": "openrouter", "model": "openai/gpt-5.4-mini",
                   "wire_model": "openai/gpt-5.4-mini", "source": "route_default"},
        "active_runs": 0,
        "storage": {"sessions": 1, "runs": 2, "messages": 3, "events": 4, "assets": 0,
                    "asset_bytes": 0, "db_bytes": 4096,
                    "runs_by_status": {"queued": 0, "running": 0, "completed": 2, "failed": 0,
                                       "cancelled": 0, "interrupted": 0}},
        "secrets": 1, "secrets_locked": false
    })
}

#[test]
fn a_status_answer_round_trips_byte_for_byte() {
    let answer = status();
    let view: StatusView = serde_json::from_value(answer.clone()).unwrap();
    assert_eq!(view.state, ServiceState::Degraded);
    assert_eq!(view.active.source, TargetSource::RouteDefault);
    assert_eq!(
        serde_json::to_string(&view).unwrap(),
        serde_json::to_string(&answer).unwrap()
    );
}

#[test]
fn a_runtime_answer_keeps_its_null_model_and_omits_absent_route_fields() {
    let answer = json!({
        "default_route": "openrouter", "runtime_model": null,
        "active": {"route": "openrouter", "model": "m/a", "wire_model": "m/a", "source": "runtime"},
        "routes": [route(false)]
    });
    let view: RuntimeView = serde_json::from_value(answer.clone()).unwrap();
    assert_eq!(view.runtime_model, None);
    let back = serde_json::to_value(&view).unwrap();
    assert_eq!(back, answer);
    assert!(back["routes"][0].get("unreachable").is_none());
    assert!(back["routes"][0].get("capability_notes").is_none());
}

#[test]
fn an_unknown_state_is_refused() {
    let mut answer = status();
    answer["state"] = json!("sleepy");
    let err = serde_json::from_value::<StatusView>(answer).unwrap_err();
    assert!(err.to_string().contains("sleepy"), "{err}");
}

#[test]
fn the_capability_flags_are_listed_in_wire_order() {
    let view: RouteStatus = serde_json::from_value(route(false)).unwrap();
    let names: Vec<&str> = view.capabilities.flags().iter().map(|(k, _)| *k).collect();
    let wire = serde_json::to_value(view.capabilities).unwrap();
    let wire: Vec<&str> = wire
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, wire);
}
