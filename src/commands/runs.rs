//! `ferry runs list|show|events|cancel`.

use eventsource_stream::Eventsource;
use ferry_types::{RunPage, RunStatus, RunView};
use futures::StreamExt;
use reqwest::Method;
use serde_json::json;

use crate::answer::{event, typed};
use crate::cli::{GlobalArgs, RunsCommand};
use crate::client::{ApiClient, CliError};
use crate::commands::sessions::urlencode;
use crate::render::{print_json, run_view_summary, s};

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
            let page: RunPage = typed("runs list", &v)?;
            for run in &page.runs {
                println!("{}", run_line(run));
            }
            if let Some(next) = page.next_cursor {
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
                print_run(&typed("runs show", &run)?);
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
                let run: RunView = typed("runs cancel", &run)?;
                println!("run {} is {}", run.id, run.status.as_str());
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
                let event = event("runs events", &ev.event, &ev.data)?;
                let data = event.payload();
                if g.json {
                    println!(
                        "{}",
                        json!({"seq": ev.id.parse::<u64>().ok(), "event": ev.event, "data": data})
                    );
                } else {
                    println!("{:>5} {:<16} {}", ev.id, ev.event, json!(data));
                }
            }
            Ok(())
        }
    }
}

fn print_run(run: &RunView) {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!(
        "run {} · session {} · {}",
        run.id,
        run.session_id,
        run.status.as_str()
    );
    println!(
        "  created {} · started {} · finished {}",
        run.created_at,
        or_dash(&run.started_at),
        or_dash(&run.finished_at)
    );
    println!(
        "  route {} · requested {} · served by {}",
        or_dash(&run.route),
        or_dash(&run.model_requested),
        or_dash(&run.model_served)
    );
    if run.status == RunStatus::Completed {
        println!("  {}", run_view_summary(run));
    }
    if let Some(billed) = run.billed_cost {
        println!("  billed by OpenRouter: ${billed:.6}");
    }
    if let Some(err) = &run.error {
        println!("  error [{}]: {}", err.code, err.message);
    }
    for a in run.attempts.as_array().into_iter().flatten() {
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
    if let Some(text) = run.output.as_ref().and_then(|o| o["text"].as_str()) {
        println!("output:\n{text}");
    }
}

/// One run on one line: id, status (with the error code), session, created, summary.
pub fn run_line(run: &RunView) -> String {
    let status = match &run.error {
        Some(e) => format!("{} ({})", run.status.as_str(), e.code),
        None => run.status.as_str().to_string(),
    };
    format!(
        "{}  {:<24} {}  {}  {}",
        run.id,
        status,
        run.session_id,
        run.created_at,
        run_view_summary(run)
    )
}
