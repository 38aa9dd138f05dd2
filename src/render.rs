//! Human rendering of API objects for the terminal (stdout), shared by the commands.

use ferry_types::{RouteStatus, UsageObject};
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
pub fn route_lines(route: &RouteStatus, with_capabilities: bool) -> Vec<String> {
    let mut out = Vec::new();
    let default = if route.is_default { " (default)" } else { "" };
    let state = match (&route.unreachable, route.ready) {
        (Some(u), true) => format!(
            "degraded: {} unreachable since {} ({})",
            if route.verified_openrouter {
                "OpenRouter"
            } else {
                "the upstream"
            },
            u.since,
            u.error
        ),
        (None, true) => "ready".to_string(),
        (_, false) => "NOT READY".to_string(),
    };
    out.push(format!("route {}{}: {state}", route.id, default));
    out.push(format!(
        "  default model {} · {} · {}",
        route.default_model,
        if route.verified_openrouter {
            "verified openrouter.ai".to_string()
        } else {
            format!("custom base_url {}", route.base_url)
        },
        route.auth
    ));
    if !route.ready {
        if let Some(r) = &route.reason {
            out.push(format!("  reason: {r}"));
        }
        if let Some(f) = &route.fix {
            out.push(format!("  fix: {f}"));
        }
    }
    if with_capabilities {
        let flags: Vec<String> = route
            .capabilities
            .flags()
            .iter()
            .map(|(k, on)| format!("{k}={}", if *on { "on" } else { "off" }))
            .collect();
        out.push(format!("  capabilities: {}", flags.join(" ")));
        for n in &route.capability_notes {
            out.push(format!("    off because {n}"));
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

/// US dollars for tables and budgets: four decimals (`$5.0000`, `$0.0125`), and two
/// significant digits below a hundredth of a cent, where four decimals would print a
/// cheap model's real spend as `$0.0000` (`$0.0000066`).
pub fn usd(amount: f64) -> String {
    let magnitude = amount.abs();
    if magnitude == 0.0 || magnitude >= 0.000_1 || !magnitude.is_finite() {
        return format!("${amount:.4}");
    }
    // The first significant digit's place after the point, and one more.
    let decimals = ((-magnitude.log10()).ceil() as usize + 1).min(12);
    format!("${amount:.decimals$}")
}

/// The one-line run summary printed on stderr after an answer: the model, tokens, cost
/// and (for a streamed answer) the duration.
pub fn run_summary(
    model: Option<&str>,
    usage: Option<&UsageObject>,
    cost: Option<f64>,
    duration_ms: Option<u64>,
) -> String {
    let prompt = usage.and_then(UsageObject::prompt_tokens);
    let tokens = match (prompt, usage.and_then(UsageObject::completion_tokens)) {
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
        run.usage.as_deref(),
        run.cost,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_keep_four_decimals_and_small_amounts_their_digits() {
        assert_eq!(usd(5.0), "$5.0000");
        assert_eq!(usd(1.25), "$1.2500");
        assert_eq!(usd(0.0125), "$0.0125");
        assert_eq!(usd(0.0001), "$0.0001");
        assert_eq!(usd(0.0), "$0.0000");
        // A cheap model's call: four decimals would say nothing was spent.
        assert_eq!(usd(6.599_999_999_999_999_5e-6), "$0.0000066");
        assert_eq!(usd(0.000_07), "$0.000070");
        assert_eq!(usd(0.000_099_96), "$0.000100");
        assert_eq!(usd(-0.000_002), "$-0.0000020");
    }
}
