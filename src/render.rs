//! Human rendering of API objects for the terminal (stdout), shared by the commands.

use serde_json::Value;

/// Prints JSON pretty on stdout.
pub fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// `a`/`b` string field or "-".
pub fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// One route's readiness block (used by `status` and `runtime get`).
pub fn route_lines(route: &Value, with_capabilities: bool) -> Vec<String> {
    let mut out = Vec::new();
    let ready = route.get("ready").and_then(Value::as_bool).unwrap_or(false);
    let default = if route.get("is_default").and_then(Value::as_bool) == Some(true) {
        " (default)"
    } else {
        ""
    };
    let state = match (&route["unreachable"], ready) {
        (Value::Object(u), true) => format!(
            "degraded: {} unreachable since {} ({})",
            if route["verified_openrouter"] == true {
                "OpenRouter"
            } else {
                "the upstream"
            },
            u.get("since").and_then(Value::as_str).unwrap_or("?"),
            u.get("error").and_then(Value::as_str).unwrap_or("?")
        ),
        (_, true) => "ready".to_string(),
        (_, false) => "NOT READY".to_string(),
    };
    out.push(format!("route {}{}: {state}", s(route, "id"), default));
    out.push(format!(
        "  default model {} · {} · {}",
        s(route, "default_model"),
        if route.get("verified_openrouter").and_then(Value::as_bool) == Some(true) {
            "verified openrouter.ai".to_string()
        } else {
            format!("custom base_url {}", s(route, "base_url"))
        },
        s(route, "auth")
    ));
    if !ready {
        if let Some(r) = route.get("reason").and_then(Value::as_str) {
            out.push(format!("  reason: {r}"));
        }
        if let Some(f) = route.get("fix").and_then(Value::as_str) {
            out.push(format!("  fix: {f}"));
        }
    }
    if with_capabilities {
        if let Some(caps) = route.get("capabilities").and_then(Value::as_object) {
            let flags: Vec<String> = caps
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        if v.as_bool() == Some(true) {
                            "on"
                        } else {
                            "off"
                        }
                    )
                })
                .collect();
            out.push(format!("  capabilities: {}", flags.join(" ")));
        }
        for note in route["capability_notes"].as_array().into_iter().flatten() {
            if let Some(n) = note.as_str() {
                out.push(format!("    off because {n}"));
            }
        }
    }
    out
}

/// `1234` bytes as a short human size.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The one-line run summary printed on stderr after an answer: the model, tokens, cost
/// and (for a streamed answer) the duration.
pub fn run_summary(
    model: Option<&str>,
    usage: Option<&Value>,
    cost: Option<f64>,
    duration_ms: Option<u64>,
) -> String {
    let count = |k: &str| usage.and_then(|u| u.get(k)).and_then(Value::as_u64);
    let tokens = match (count("prompt_tokens"), count("completion_tokens")) {
        (Some(p), Some(c)) => format!("{p} in / {c} out tokens"),
        _ => "tokens n/a".to_string(),
    };
    let cost = match cost {
        Some(c) => format!("${c:.6}"),
        None => "cost n/a".to_string(),
    };
    let duration = duration_ms
        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into());
    format!("{} · {tokens} · {cost} · {duration}", model.unwrap_or("-"))
}

/// [`run_summary`] of a run view.
pub fn run_view_summary(run: &ferry_types::RunView) -> String {
    run_summary(
        run.model_served.as_deref(),
        run.usage.as_ref(),
        run.cost,
        None,
    )
}
