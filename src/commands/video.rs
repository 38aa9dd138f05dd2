//! `ferry video generate|status|list`. Generating submits a job to the daemon (which
//! polls OpenRouter and survives restarts), then follows it with a live progress display
//! on a terminal. Ctrl-C stops waiting — the job goes on — and says how to resume:
//! `ferry video status ID --wait`.

use std::path::Path;
use std::time::Duration;

use ferry_types::{VideoJobList, VideoJobView};
use reqwest::Method;
use serde_json::{json, Value};

use crate::answer::typed;
use crate::cli::{GlobalArgs, VideoCommand, VideoGenerateArgs};
use crate::client::{exit_code, ApiClient, CliError};
use crate::commands::media::asset_line;
use crate::commands::sessions::urlencode;
use crate::progress::Progress;
use crate::render::print_json;
use crate::save::{numbered, save_all};
use crate::upload::import_id;

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
            let answer = client
                .get_json(&format!("/v1/videos/{}", urlencode(id)))
                .await?;
            let job: VideoJobView = typed("video status", &answer)?;
            finish(g, &client, &answer, &job, out.as_deref()).await
        }
        VideoCommand::List { limit } => {
            let v = client
                .get_json(&format!("/v1/videos?limit={}", limit.unwrap_or(20)))
                .await?;
            if g.json {
                print_json(&v);
                return Ok(());
            }
            let list: VideoJobList = typed("video list", &v)?;
            if list.jobs.is_empty() {
                println!("no video jobs yet; start one with `ferry video generate \"…\"`");
            }
            for j in &list.jobs {
                println!(
                    "{}  {:<11} {:>4}s  {}  {}",
                    j.id,
                    j.status,
                    j.request["duration"].as_u64().unwrap_or(0),
                    j.model,
                    j.asset.as_ref().map_or("", |a| a.asset_id.as_str())
                );
            }
            Ok(())
        }
    }
}

async fn upload_id(client: &ApiClient, path: &Path) -> Result<Value, CliError> {
    Ok(Value::String(
        import_id(client, "video generate", path).await?,
    ))
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
    let answer = client
        .call_json(Method::POST, "/v1/tools/generate_video", Some(&body))
        .await?;
    let job: VideoJobView = typed("video generate", &answer)?;
    let request = &job.request;
    if request["snapped"].as_bool() == Some(true) {
        let supported: Vec<String> = request["supported_durations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        eprintln!(
            "note: {} supports {} s; {} s snapped to {} s",
            job.model,
            supported.join("/"),
            request["duration_requested"],
            request["duration"]
        );
    }
    let id = job.id;
    if args.detach {
        if g.json {
            print_json(&answer);
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
            let answer = client.get_json(&path).await?;
            let job: VideoJobView = typed("video status", &answer)?;
            if job.finished {
                return Ok::<(Value, VideoJobView), CliError>((answer, job));
            }
            progress.set(format!(
                "video {id}: {} · {} s",
                job.status,
                job.elapsed_ms / 1000
            ));
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    };
    let (answer, job) = tokio::select! {
        ended = polled => ended?,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            eprintln!("stopped waiting; video job {id} goes on in the daemon — resume with `ferry video status {id} --wait`");
            return Err(CliError { message: "interrupted".into(), exit: 130, problem: None });
        }
    };
    progress.finish();
    finish(g, client, &answer, &job, out).await
}

/// Prints a job (`answer`, read as `job`); a completed one's video is written to `out`;
/// a failed one is an error.
async fn finish(
    g: &GlobalArgs,
    client: &ApiClient,
    answer: &Value,
    job: &VideoJobView,
    out: Option<&Path>,
) -> Result<(), CliError> {
    if let Some(err) = job.error.as_ref().filter(|e| e.is_object()) {
        let code = err["code"].as_str().unwrap_or("video_failed");
        let retryable = code == "video_expired";
        let status = if code == "video_timeout" { 504 } else { 502 };
        return Err(CliError {
            message: format!(
                "{} [{code}]",
                err["message"].as_str().unwrap_or("the video job failed")
            ),
            exit: exit_code(status, code, retryable),
            problem: Some(answer.clone()),
        });
    }
    let written = match (&job.asset, out) {
        (Some(a), Some(out)) => save_all(client, &[&a.asset_id], &numbered(out, 1)).await?,
        _ => Vec::new(),
    };
    if g.json {
        let mut shown = answer.clone();
        if let (Some(fields), Some((_, path, size))) = (shown.as_object_mut(), written.first()) {
            fields.insert("file".into(), json!({"path": path, "bytes": size}));
        }
        print_json(&shown);
        return Ok(());
    }
    match (&job.asset, written.first()) {
        (_, Some((id, path, _))) => {
            println!("{}", path.display());
            eprintln!("wrote {id} to {}", path.display());
        }
        (Some(a), None) => println!("{}", asset_line(a)),
        (None, None) => println!(
            "video job {} is {} ({} s so far); follow it with `ferry video status {} --wait`",
            job.id,
            job.status,
            job.elapsed_ms / 1000,
            job.id
        ),
    }
    Ok(())
}
