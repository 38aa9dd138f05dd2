//! `ferry runs list|show|events|cancel`.

use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{GlobalArgs, RunsCommand};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::{print_json, run_summary, s};

/// Runs a runs command.
pub async fn run(g: &GlobalArgs, cmd: &RunsCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        RunsCommand::List {
            session,
            status,
            page,
        } => {
            let path = page.query_with("/v1/runs", &[("session", session), ("status", status)]);
            let v = client.get_json(&path).await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            for run in v["runs"].as_array().into_iter().flatten() {
                println!("{}", run_line(run));
            }
            if let Some(next) = v["next_cursor"].as_str() {
                println!("more: ferry runs list --cursor {next}");
            }
            Ok(())
        }
        RunsCommand::Show { id } => {
            let run = client
                .get_json(&format!("/v1/runs/{}", urlencode(id)))
                .await?;
            if g.json {
                print_json(&run);
            } else {
                print_run(&run);
            }
            Ok(())
        }
        RunsCommand::Cancel { id } => {
            let run = client
                .call_json(
                    Method::POST,
                    &format!("/v1/runs/{}/cancel", urlencode(id)),
                    None,
                )
                .await?;
            if g.json {
                print_json(&run);
            } else {
                println!("run {} is {}", s(&run, "id"), s(&run, "status"));
            }
            Ok(())
        }
        RunsCommand::Events { id, follow, after } => {
            let path = format!(
                "/v1/runs/{}/events?after={after}&follow={follow}",
                urlencode(id)
            );
            let resp = client
                .send(
                    client
                        .request(Method::GET, &path)
                        .header("accept", "text/event-stream"),
                )
                .await?;
            let mut events = resp.bytes_stream().eventsource();
            while let Some(ev) = events.next().await {
                let ev = ev.map_err(|e| CliError::fail(format!("the event stream broke: {e}")))?;
                let data: Value = serde_json::from_str(&ev.data).unwrap_or(Value::Null);
                if g.json {
                    println!(
                        "{}",
                        json!({"seq": ev.id.parse::<u64>().ok(), "event": ev.event, "data": data})
                    );
                } else {
                    println!("{:>5} {:<16} {}", ev.id, ev.event, data);
                }
            }
            Ok(())
        }
    }
}

fn print_run(run: &Value) {
    println!(
        "run {} · session {} · {}",
        s(run, "id"),
        s(run, "session_id"),
        s(run, "status")
    );
    println!(
        "  created {} · started {} · finished {}",
        s(run, "created_at"),
        s(run, "started_at"),
        s(run, "finished_at")
    );
    println!(
        "  route {} · requested {} · served by {}",
        s(run, "route"),
        s(run, "model_requested"),
        s(run, "model_served")
    );
    if run["status"] == "completed" {
        println!("  {}", run_summary(run));
    }
    if let Some(billed) = run["billed_cost"].as_f64() {
        println!("  billed by OpenRouter: ${billed:.6}");
    }
    if let Some(err) = run.get("error").filter(|e| !e.is_null()) {
        println!("  error [{}]: {}", s(err, "code"), s(err, "message"));
    }
    for a in run["attempts"].as_array().into_iter().flatten() {
        println!(
            "  attempt {} · status {} · {} ms{}",
            s(a, "model"),
            a["status"]
                .as_u64()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into()),
            a["latency_ms"].as_u64().unwrap_or(0),
            a["error_code"]
                .as_str()
                .map(|c| format!(" · {c}"))
                .unwrap_or_default()
        );
    }
    if let Some(text) = run["output"]["text"].as_str() {
        println!("output:\n{text}");
    }
}

/// One run on one line: id, status (with the error code), session, created, summary.
pub fn run_line(run: &Value) -> String {
    let status = match run["error"]["code"].as_str() {
        Some(code) => format!("{} ({code})", s(run, "status")),
        None => s(run, "status").to_string(),
    };
    format!(
        "{}  {:<24} {}  {}  {}",
        s(run, "id"),
        status,
        s(run, "session_id"),
        s(run, "created_at"),
        run_summary(run)
    )
}
