//! `ferry video generate|status|list`. Generating submits a job to the daemon (which
//! polls OpenRouter and survives restarts), then follows it with a live progress display
//! on a terminal. Ctrl-C stops waiting — the job goes on — and says how to resume:
//! `ferry video status ID --wait`.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{GlobalArgs, VideoCommand, VideoGenerateArgs};
use crate::client::{exit_code, ApiClient, CliError};
use crate::commands::media::asset_line;
use crate::commands::sessions::urlencode;
use crate::progress::Progress;
use crate::render::{print_json, s};
use crate::save::{numbered, save_all};
use crate::upload::import;

/// How often a followed job is looked at (a local call; the daemon does the upstream
/// polling with its own backoff).
const FOLLOW_EVERY: Duration = Duration::from_millis(400);

/// Runs a video command.
pub async fn run(g: &GlobalArgs, cmd: &VideoCommand) -> Result<(), CliError> {
    let client = ApiClient::new(g)?;
    match cmd {
        VideoCommand::Generate(args) => generate(g, &client, args).await,
        VideoCommand::Status { id, wait, out } => {
            if *wait {
                return follow(g, &client, id, out.as_deref()).await;
            }
            let job = client
                .get_json(&format!("/v1/videos/{}", urlencode(id)))
                .await?;
            finish(g, &client, &job, out.as_deref()).await
        }
        VideoCommand::List { limit } => {
            let v = client
                .get_json(&format!("/v1/videos?limit={}", limit.unwrap_or(20)))
                .await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            let jobs = v["jobs"].as_array().cloned().unwrap_or_default();
            if jobs.is_empty() {
                println!("no video jobs yet; start one with `ferry video generate \"…\"`");
            }
            for j in &jobs {
                println!(
                    "{}  {:<11} {:>4}s  {}  {}",
                    s(j, "id"),
                    s(j, "status"),
                    j["request"]["duration"].as_u64().unwrap_or(0),
                    s(j, "model"),
                    j["asset"]["asset_id"].as_str().unwrap_or("")
                );
            }
            Ok(())
        }
    }
}

async fn upload_id(client: &ApiClient, path: &Path) -> Result<Value, CliError> {
    Ok(import(client, path, None).await?["id"].clone())
}

async fn generate(
    g: &GlobalArgs,
    client: &ApiClient,
    args: &VideoGenerateArgs,
) -> Result<(), CliError> {
    let mut body = json!({"prompt": args.prompt});
    for (key, value) in [
        ("model", &args.model),
        ("resolution", &args.resolution),
        ("aspect_ratio", &args.aspect_ratio),
        ("route", &args.route),
    ] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    if let Some(d) = args.duration {
        body["duration"] = json!(d);
    }
    if let Some(p) = &args.first_frame {
        body["first_frame_asset_id"] = upload_id(client, p).await?;
    }
    if let Some(p) = &args.last_frame {
        body["last_frame_asset_id"] = upload_id(client, p).await?;
    }
    let mut refs = Vec::with_capacity(args.references.len());
    for p in &args.references {
        refs.push(upload_id(client, p).await?);
    }
    if !refs.is_empty() {
        body["reference_asset_ids"] = Value::Array(refs);
    }
    let job = client
        .call_json(Method::POST, "/v1/tools/generate_video", Some(&body))
        .await?;
    let request = &job["request"];
    if request["snapped"].as_bool() == Some(true) {
        let supported: Vec<String> = request["supported_durations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        eprintln!(
            "note: {} supports {} s; {} s snapped to {} s",
            s(&job, "model"),
            supported.join("/"),
            request["duration_requested"],
            request["duration"]
        );
    }
    let id = s(&job, "id").to_owned();
    if args.detach {
        if g.json {
            print_json(&job);
        } else {
            println!("{id}");
            eprintln!("follow it with `ferry video status {id} --wait`");
        }
        return Ok(());
    }
    follow(g, client, &id, args.out.as_deref()).await
}

/// Follows a job until it ends, with progress on a terminal; Ctrl-C stops waiting only.
async fn follow(
    g: &GlobalArgs,
    client: &ApiClient,
    id: &str,
    out: Option<&Path>,
) -> Result<(), CliError> {
    let progress = Progress::start(g, format!("video {id}: waiting"));
    let path = format!("/v1/videos/{}", urlencode(id));
    let polled = async {
        loop {
            let job = client.get_json(&path).await?;
            if job["finished"].as_bool() == Some(true) {
                return Ok::<Value, CliError>(job);
            }
            progress.set(format!(
                "video {id}: {} · {} s",
                s(&job, "status"),
                job["elapsed_ms"].as_u64().unwrap_or(0) / 1000
            ));
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    };
    let job = tokio::select! {
        job = polled => job?,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            eprintln!("stopped waiting; video job {id} goes on in the daemon — resume with `ferry video status {id} --wait`");
            return Err(CliError { message: "interrupted".into(), exit: 130, problem: None });
        }
    };
    progress.finish();
    finish(g, client, &job, out).await
}

/// Prints a job; a completed one's video is written to `out`; a failed one is an error.
async fn finish(
    g: &GlobalArgs,
    client: &ApiClient,
    job: &Value,
    out: Option<&Path>,
) -> Result<(), CliError> {
    if let Some(err) = job.get("error").filter(|e| e.is_object()) {
        let code = err["code"].as_str().unwrap_or("video_failed");
        let retryable = code == "video_expired";
        let status = if code == "video_timeout" { 504 } else { 502 };
        return Err(CliError {
            message: format!(
                "{} [{code}]",
                err["message"].as_str().unwrap_or("the video job failed")
            ),
            exit: exit_code(status, code, retryable),
            problem: Some(job.clone()),
        });
    }
    let asset = job.get("asset").filter(|a| a.is_object());
    let written = match (asset, out) {
        (Some(a), Some(out)) => save_all(client, &[a], &numbered(out, 1)).await?,
        _ => Vec::new(),
    };
    if g.json {
        let mut v = job.clone();
        if let Some((_, path, size)) = written.first() {
            v["file"] = json!({"path": path, "bytes": size});
        }
        print_json(&v);
        return Ok(());
    }
    match (asset, written.first()) {
        (_, Some((id, path, _))) => {
            println!("{}", path.display());
            eprintln!("wrote {id} to {}", path.display());
        }
        (Some(a), None) => println!("{}", asset_line(a)),
        (None, None) => println!(
            "video job {} is {} ({} s so far); follow it with `ferry video status {} --wait`",
            s(job, "id"),
            s(job, "status"),
            job["elapsed_ms"].as_u64().unwrap_or(0) / 1000,
            s(job, "id")
        ),
    }
    Ok(())
}
