//! `ferry status`.

use ferry_types::StatusView;

use crate::answer::typed;
use crate::cli::GlobalArgs;
use crate::client::{ApiClient, CliError};
use crate::render::{bytes, print_json, route_lines};

/// Prints daemon health, routes and storage.
pub async fn run(g: &GlobalArgs) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    let st = client.get_json("/v1/status").await?;
    if g.json {
        print_json(&st);
        return Ok(());
    }
    let st: StatusView = typed("status", &st)?;
    println!(
        "ferry {} at {} · {} · up {}s",
        st.version,
        client.base(),
        st.state.as_str(),
        st.uptime_seconds
    );
    if let Some(why) = &st.degraded {
        println!("degraded: {why}");
    }
    println!(
        "active model: {}/{} ({})",
        st.active.route,
        st.active.model,
        st.active.source.as_str()
    );
    for route in &st.routes {
        for line in route_lines(route, false) {
            println!("{line}");
        }
    }
    let storage = &st.storage;
    println!(
        "storage: {} sessions, {} runs, {} messages, database {}",
        storage.sessions,
        storage.runs,
        storage.messages,
        bytes(storage.db_bytes)
    );
    println!(
        "runs in flight: {} · secrets: {}{}",
        st.active_runs,
        st.secrets,
        if st.secrets_locked {
            " (no master key: set FERRY_MASTER_KEY to store secrets)"
        } else {
            ""
        }
    );
    Ok(())
}
