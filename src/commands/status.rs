//! `ferry status`.

use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::client::{ApiClient, CliError};
use crate::render::{bytes, print_json, route_lines, s};

/// Prints daemon health, routes and storage.
pub async fn run(g: &GlobalArgs) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    let st = client.get_json("/v1/status").await?;
    if g.json {
        print_json(&st);
        return Ok(());
    }
    let up = st
        .get("uptime_seconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    println!(
        "ferry {} at {} · {} · up {}s",
        s(&st, "version"),
        client.base(),
        s(&st, "state"),
        up
    );
    if let Some(why) = st.get("degraded").and_then(Value::as_str) {
        println!("degraded: {why}");
    }
    let active = &st["active"];
    println!(
        "active model: {}/{} ({})",
        s(active, "route"),
        s(active, "model"),
        s(active, "source")
    );
    for route in st["routes"].as_array().into_iter().flatten() {
        for line in route_lines(route, false) {
            println!("{line}");
        }
    }
    let storage = &st["storage"];
    let n = |k: &str| storage.get(k).and_then(Value::as_u64).unwrap_or(0);
    println!(
        "storage: {} sessions, {} runs, {} messages, database {}",
        n("sessions"),
        n("runs"),
        n("messages"),
        bytes(n("db_bytes"))
    );
    println!(
        "runs in flight: {} · secrets: {}{}",
        st.get("active_runs").and_then(Value::as_u64).unwrap_or(0),
        st.get("secrets").and_then(Value::as_u64).unwrap_or(0),
        if st.get("secrets_locked").and_then(Value::as_bool) == Some(true) {
            " (no master key: set FERRY_MASTER_KEY to store secrets)"
        } else {
            ""
        }
    );
    Ok(())
}
