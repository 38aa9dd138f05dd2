//! `ferry sessions …`. `input` streams the answer to stdout as it arrives and prints a
//! one-line summary on stderr; `--json` prints the final run view; `--detach` prints the
//! run id. Ctrl-C while streaming cancels the run. `--file` uploads each file as an asset
//! before the input is sent; `observe` uploads an audio observation. Tool activity shows
//! on stderr while the answer streams; the answer's assets (generated media a model named
//! in `emit_output`, a spoken reply) are listed with id, type and size, and written into
//! `--save-dir`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use ferry_types::{
    AssetRef, ObservationView, RunCompleted, RunEvent, RunPage, RunStatus, RunView, SessionHistory,
    SessionInfo, SessionPage, SessionView, TextDelta,
};

use crate::answer::typed;
use crate::cli::{GlobalArgs, InputArgs, SessionsCommand};
use crate::client::{exit_code, ApiClient, CliError};
use crate::commands::media::asset_line;
use crate::render::{print_json, run_summary, s};
use crate::save::{file_name, save_all};

/// Runs a sessions command.
pub async fn run(g: &GlobalArgs, cmd: &SessionsCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        SessionsCommand::Create {
            id,
            model,
            system_prompt,
            speak_replies,
        } => {
            let v = client
                .call_json(
                    Method::POST,
                    "/v1/sessions",
                    Some(&json!({"id": id, "model": model, "system_prompt": system_prompt, "speak_replies": speak_replies})),
                )
                .await?;
            if g.json {
                print_json(&v);
            } else {
                let session: SessionInfo = typed("sessions create", &v)?;
                println!("created session {}", session.id);
            }
            Ok(())
        }
        SessionsCommand::Set {
            id,
            speak_replies,
            system_prompt,
        } => {
            let mut body = json!({});
            if let Some(v) = speak_replies {
                body["speak_replies"] = if v == "route" { Value::Null } else { json!(v) };
            }
            if let Some(p) = system_prompt {
                body["system_prompt"] = if p.is_empty() { Value::Null } else { json!(p) };
            }
            if body.as_object().is_some_and(|b| b.is_empty()) {
                return Err(CliError::usage(
                    "nothing to change: give --speak-replies or --system-prompt",
                ));
            }
            let v = client
                .call_json(
                    Method::PATCH,
                    &format!("/v1/sessions/{}", urlencode(id)),
                    Some(&body),
                )
                .await?;
            if g.json {
                print_json(&v);
            } else {
                let session: SessionInfo = typed("sessions set", &v)?;
                println!(
                    "session {}: speak_replies {} · system prompt {}",
                    session.id,
                    session.speak_replies.as_deref().unwrap_or("(route)"),
                    if session.system_prompt.is_some() {
                        "set"
                    } else {
                        "(route)"
                    }
                );
            }
            Ok(())
        }
        SessionsCommand::List { page } => {
            let path = page.query("/v1/sessions");
            let v = client.get_json(&path).await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            let page: SessionPage = typed("sessions list", &v)?;
            if page.sessions.is_empty() {
                println!("no sessions yet; start one with `ferry sessions input demo \"hello\"`");
            }
            for sess in &page.sessions {
                println!(
                    "{:<24} {:>4} messages {:>4} runs  updated {}",
                    sess.id, sess.message_count, sess.run_count, sess.updated_at
                );
            }
            if let Some(next) = page.next_cursor {
                println!("more: ferry sessions list --cursor {next}");
            }
            Ok(())
        }
        SessionsCommand::Show { id } => {
            let v = client
                .get_json(&format!("/v1/sessions/{}", urlencode(id)))
                .await?;
            let msgs = client
                .get_json(&format!("/v1/sessions/{}/messages", urlencode(id)))
                .await?;
            // Turns that wrote no history (failed, cancelled, interrupted) are shown from
            // their runs, in time order with the messages.
            let runs = client
                .get_json(&format!("/v1/runs?session={}&limit=500", urlencode(id)))
                .await?;
            let runs: RunPage = typed("sessions show", &runs)?;
            let unfinished: Vec<RunView> = runs
                .runs
                .into_iter()
                .filter(|r| r.status != RunStatus::Completed)
                .collect();
            let history: SessionHistory = typed("sessions show", &msgs)?;
            if g.json {
                let mut v = v;
                if let Some(fields) = v.as_object_mut() {
                    fields.insert("messages".into(), json!(history.messages));
                    fields.insert("unfinished_runs".into(), json!(unfinished));
                }
                print_json(&v);
                return Ok(());
            }
            let view: SessionView = typed("sessions show", &v)?;
            let (session, t) = (&view.session, &view.totals);
            println!("session {}", session.id);
            println!(
                "  created {} · updated {}",
                session.created_at, session.updated_at
            );
            if let Some(pin) = &session.pinned_selector {
                println!("  pinned model: {pin}");
            }
            println!(
                "  {} runs · {} messages · {} prompt + {} completion tokens · cost ${:.6}{}{}",
                t.runs,
                session.message_count,
                t.prompt_tokens,
                t.completion_tokens,
                t.cost,
                t.billed_cost
                    .map(|b| format!(" (billed ${b:.6})"))
                    .unwrap_or_default(),
                if view.busy { " · busy" } else { "" }
            );
            let mut unfinished = unfinished.iter().rev().peekable();
            for m in &history.messages {
                while let Some(run) = unfinished.next_if(|r| r.created_at < m.created_at) {
                    print_unfinished_turn(run);
                }
                let body = &m.body;
                let text = match &body["content"] {
                    Value::String(t) => t.clone(),
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| match p["type"].as_str() {
                            Some("ferry_asset") => Some(format!(
                                "[{} {}]",
                                p["media_type"].as_str().unwrap_or("attachment"),
                                p["file_name"]
                                    .as_str()
                                    .or(p["asset_id"].as_str())
                                    .unwrap_or("")
                            )),
                            _ => p["text"].as_str().map(str::to_owned),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                    _ => String::new(),
                };
                println!("[{}] {}", m.role, text);
            }
            for run in unfinished {
                print_unfinished_turn(run);
            }
            Ok(())
        }
        SessionsCommand::Input(args) => input(g, &client, args).await,
        SessionsCommand::Observe { id, file, source } => {
            let endpoint = format!(
                "/v1/observations?session={}&source={}",
                urlencode(id),
                urlencode(source)
            );
            let v = crate::upload::upload_file(&client, &endpoint, file, None).await?;
            if g.json {
                print_json(&v);
            } else {
                let seen: ObservationView = typed("sessions observe", &v)?;
                println!("{}", seen.transcript);
                eprintln!(
                    "appended to session {} · {} · {}",
                    seen.session_id, seen.asset_id, seen.model
                );
            }
            Ok(())
        }
    }
}

async fn build_body(client: &ApiClient, args: &InputArgs) -> Result<Value, CliError> {
    let text = if args.stdin {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| CliError::usage(format!("cannot read standard input: {e}")))?;
        Some(buf)
    } else {
        args.text.clone()
    };
    let has_attachments = !args.files.is_empty() || !args.assets.is_empty();
    if text.is_none() && !has_attachments {
        return Err(CliError::usage(
            "no input: give the text as an argument, use --stdin, or attach --file/--asset",
        ));
    }
    let mut body = json!({});
    if let Some(text) = text {
        body["content"] = json!(text);
    }
    let mut attachments: Vec<Value> = Vec::new();
    for path in &args.files {
        let asset = crate::upload::import(client, path, None).await?;
        attachments.push(json!({"asset_id": asset["id"]}));
    }
    attachments.extend(args.assets.iter().map(|id| json!({"asset_id": id})));
    if !attachments.is_empty() {
        body["attachments"] = Value::Array(attachments);
    }
    if let Some(p) = &args.provider {
        body["provider"] = json!(p);
    }
    if let Some(m) = &args.model {
        body["model"] = json!(m);
    }
    if !args.fallback_models.is_empty() {
        body["fallbacks"] = json!(args.fallback_models);
    }
    if let Some(t) = &args.thinking {
        body["thinking"] = json!(t);
    }
    if let Some(p) = &args.params {
        body["params"] = serde_json::from_str(p)
            .map_err(|e| CliError::usage(format!("--params is not valid JSON: {e}")))?;
    }
    let mut routing = match &args.provider_routing {
        Some(p) => serde_json::from_str(p)
            .map_err(|e| CliError::usage(format!("--provider-routing is not valid JSON: {e}")))?,
        None => json!({}),
    };
    if !routing.is_object() {
        return Err(CliError::usage(
            "--provider-routing must be a JSON object, e.g. '{\"order\":[\"anthropic\"]}'",
        ));
    }
    for (key, list) in [
        ("order", &args.provider_order),
        ("only", &args.provider_only),
        ("ignore", &args.provider_ignore),
    ] {
        if !list.is_empty() {
            routing[key] = json!(list);
        }
    }
    if args.no_provider_fallbacks {
        routing["allow_fallbacks"] = json!(false);
    }
    if routing.as_object().is_some_and(|m| !m.is_empty()) {
        body["provider_routing"] = routing;
    }
    if args.speak {
        body["speak"] = json!(true);
    } else if args.no_speak {
        body["speak"] = json!(false);
    }
    Ok(body)
}

async fn input(g: &GlobalArgs, client: &ApiClient, args: &InputArgs) -> Result<(), CliError> {
    let body = build_body(client, args).await?;
    let id = urlencode(&args.id);
    if args.detach {
        let mut rb = client
            .request(Method::POST, &format!("/v1/sessions/{id}/runs"))
            .json(&body);
        if let Some(k) = &args.idempotency_key {
            rb = rb.header("Idempotency-Key", k);
        }
        let run = crate::client::json_of(client.send(rb).await?).await?;
        if g.json {
            print_json(&run);
        } else {
            println!("{}", s(&run, "id"));
        }
        if args.save_dir.is_some() {
            eprintln!("note: --save-dir is not used with --detach; save assets later with `ferry assets get`");
        }
        return Ok(());
    }
    if g.json {
        let rb = client
            .request(Method::POST, &format!("/v1/sessions/{id}/input"))
            .json(&body);
        return match client.send(rb).await {
            Ok(resp) => {
                let mut run = crate::client::json_of(resp).await?;
                if let Some(dir) = &args.save_dir {
                    let saved = save_parts(client, &run["output"], dir).await?;
                    run["files"] = json!(saved
                        .iter()
                        .map(
                            |(id, path, size)| json!({"asset_id": id, "path": path, "bytes": size})
                        )
                        .collect::<Vec<_>>());
                }
                print_json(&run);
                Ok(())
            }
            Err(mut e) => {
                // Print the failed run's view when there is one.
                if let Some(run_id) = e
                    .problem
                    .as_ref()
                    .and_then(|p| p["run_id"].as_str())
                    .map(str::to_string)
                {
                    if let Ok(run) = client.get_json(&format!("/v1/runs/{run_id}")).await {
                        e.problem = Some(run);
                    }
                }
                Err(e)
            }
        };
    }
    let rb = client
        .request(Method::POST, &format!("/v1/sessions/{id}/input"))
        .header("accept", "text/event-stream")
        .json(&body);
    let resp = client.send(rb).await?;
    let run_id = resp
        .headers()
        .get("x-ferry-run-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let streamed = stream_events(client, resp);
    tokio::select! {
        r = streamed => {
            let done = r?;
            show_output(client, &done.output, args.save_dir.as_deref()).await?;
            eprintln!(
                "{}",
                run_summary(done.model.as_deref(), done.usage.as_deref(), done.cost, Some(done.duration_ms))
            );
            Ok(())
        }
        _ = tokio::signal::ctrl_c() => {
            if let Some(run_id) = run_id {
                let _ = client.call_json(Method::POST, &format!("/v1/runs/{run_id}/cancel"), None).await;
                eprintln!("\ncancelled run {run_id}");
            }
            Err(CliError { message: "interrupted".into(), exit: 130, problem: None })
        }
    }
}

/// The asset parts of an output, in order.
fn asset_parts(output: &Value) -> Result<Vec<AssetRef>, CliError> {
    output["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] == "asset")
        .map(|p| typed("sessions input", p))
        .collect()
}

/// Writes the output's assets into `dir` as `<asset id>.<ext>`.
async fn save_parts(
    client: &ApiClient,
    output: &Value,
    dir: &Path,
) -> Result<Vec<(String, PathBuf, usize)>, CliError> {
    let assets = asset_parts(output)?;
    let ids: Vec<&str> = assets.iter().map(|a| a.asset_id.as_str()).collect();
    let paths: Vec<PathBuf> = assets.iter().map(|a| dir.join(file_name(a))).collect();
    save_all(client, &ids, &paths).await
}

/// After the streamed text: the text `emit_output` composed (it was not streamed), then
/// every asset of the answer with its id, type and size (written to `save_dir` if given).
async fn show_output(
    client: &ApiClient,
    output: &Value,
    save_dir: Option<&Path>,
) -> Result<(), CliError> {
    if output["source"] == "emit_output" {
        for part in output["parts"].as_array().into_iter().flatten() {
            if let Some(t) = part["text"].as_str().filter(|_| part["type"] == "text") {
                println!("{t}");
            }
        }
    }
    let saved = match save_dir {
        Some(dir) => save_parts(client, output, dir).await?,
        None => Vec::new(),
    };
    for a in asset_parts(output)? {
        match saved
            .iter()
            .find(|(saved_id, _, _)| *saved_id == a.asset_id)
        {
            Some((_, path, _)) => println!("[{}] {}", asset_line(&a), path.display()),
            None => println!("[{}]", asset_line(&a)),
        }
    }
    if let Some(err) = output.get("speech_error").filter(|e| e.is_object()) {
        eprintln!(
            "the spoken reply failed: {} [{}]",
            s(err, "message"),
            s(err, "code")
        );
    }
    Ok(())
}

/// A tool event as one line on stderr.
fn tool_line(event: &RunEvent) -> Option<String> {
    match event {
        RunEvent::ToolStarted(t) => Some(format!("[{} started]", t.name)),
        RunEvent::ToolProgress(p) if p.changed => Some(format!(
            "[{} {} · {} s]",
            p.name,
            p.status,
            p.elapsed_ms / 1000
        )),
        RunEvent::ToolCompleted(c) => Some(match &c.error {
            None if c.asset_ids.is_empty() => format!("[{} done]", c.name),
            None => format!("[{} done: {}]", c.name, c.asset_ids.join(", ")),
            Some(e) => format!("[{} failed: {}]", c.name, e.message),
        }),
        _ => None,
    }
}

/// Prints a run's SSE stream — text to stdout as it arrives, tool activity on stderr —
/// and returns the `run.completed` payload, or the run's error.
pub async fn stream_events(
    client: &ApiClient,
    resp: reqwest::Response,
) -> Result<RunCompleted, CliError> {
    let mut events = resp.bytes_stream().eventsource();
    let mut stdout = std::io::stdout();
    let mut ended_with_newline = true;
    let mut printed_any = false;
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(|e| CliError::fail(format!("the event stream broke: {e}")))?;
        let event = crate::answer::event("sessions input", &ev.event, &ev.data)?;
        match event {
            RunEvent::OutputDelta(TextDelta { text: t }) => {
                let _ = stdout.write_all(t.as_bytes());
                let _ = stdout.flush();
                ended_with_newline = t.ends_with('\n');
                printed_any = true;
            }
            RunEvent::RunCompleted(done) => {
                if printed_any && !ended_with_newline {
                    println!();
                }
                let composed = done.output["source"] == "emit_output";
                if !printed_any && !composed {
                    // A reasoning-only reply: show the reasoning rather than nothing.
                    if let Some(r) = done.output["reasoning"].as_str() {
                        println!("{r}");
                    }
                }
                return Ok(done);
            }
            RunEvent::RunFailed(ref ended) | RunEvent::RunCancelled(ref ended) => {
                if printed_any && !ended_with_newline {
                    println!();
                }
                let cancelled = matches!(event, RunEvent::RunCancelled(_));
                let status = ended.status.unwrap_or(if cancelled { 409 } else { 502 });
                let retryable = ended.retryable.unwrap_or(false);
                return Err(CliError {
                    message: format!("{} [{}]", ended.message, ended.code),
                    exit: exit_code(status, ended.code.as_str(), retryable),
                    problem: Some(event.payload_value()),
                });
            }
            other => {
                if let Some(line) = tool_line(&other) {
                    if printed_any && !ended_with_newline {
                        println!();
                        ended_with_newline = true;
                    }
                    eprintln!("{line}");
                }
            }
        }
    }
    Err(CliError::fail(format!(
        "the event stream from {} ended before the run finished; check it with `ferry runs show`",
        client.base()
    )))
}

/// Percent-encodes a path segment.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A turn that wrote no history: its input, what it had said so far, and why it ended.
fn print_unfinished_turn(run: &RunView) {
    if let Some(text) = run.input["content"].as_str() {
        println!("[user] {text}");
    }
    let partial = run.output.as_ref().and_then(|o| o["text"].as_str());
    if let Some(partial) = partial.filter(|t| !t.is_empty()) {
        println!("[assistant, partial] {partial}");
    }
    let why = match &run.error {
        Some(e) => format!(": {} — {}", e.code, e.message),
        None => String::new(),
    };
    println!(
        "  ✗ run {} {}{why} ({})",
        run.id,
        run.status.as_str().to_uppercase(),
        crate::render::run_view_summary(run)
    );
}
