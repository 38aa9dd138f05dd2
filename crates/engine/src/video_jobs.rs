//! Video generation jobs (spec §9). A job is submitted upstream, recorded in SQLite (so a
//! restart resumes it), and polled by a background task with backoff until it ends: a
//! completed job's video is downloaded (size-capped) into the asset store, a failed,
//! cancelled or expired one keeps the upstream error. Progress is published on a watch
//! channel per job, which the tool loop turns into `tool.progress` events and the API
//! into job views.
//!
//! [`VideoJobs`] owns the pollers (on the engine's tracker, stopped by its drain token)
//! and their watch channels; it is built with the route table, [`Upstreams`], the store,
//! the assets and the [`Gate`], never the engine.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_assets::AssetStore;

use ferry_assets::Kind;
use ferry_config::Route;
use ferry_openrouter::media::{
    snap_duration, supported_durations, MediaError, PollBackoff, VideoJobState, VideoRequest,
    VideoStatus, DEFAULT_VIDEO_DURATIONS,
};
use ferry_store::{NewVideoJob, Storage, VideoJob, VideoJobUpdate};
use ferry_types::VideoJobView;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::{video_worst_case, Admission, Gate, Unpriced};
use crate::routes::RouteTable;
use crate::tools::{require_tool, ToolCtx};
use crate::tools::{AssetRef, GenerateVideoArgs, ToolName};
use crate::upstreams::Upstreams;
use crate::EngineError;

/// Longest wait between two polls (unless `video_poll_ms` is larger).
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(15);
/// How often the store is asked for video jobs to take over (a dead replica's).
const TAKEOVER_INTERVAL: Duration = Duration::from_secs(2);
/// Deadline of one poll or catalog request.
const POLL_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of the video download.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Duration asked for when the caller gives none (then snapped like any other).
const DEFAULT_REQUESTED_DURATION: u32 = 8;

fn parse_time(t: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(t, &Rfc3339).ok()
}

fn elapsed_ms(job: &VideoJob) -> u64 {
    let start = parse_time(&job.created_at);
    let end = job
        .finished_at
        .as_deref()
        .and_then(parse_time)
        .unwrap_or_else(OffsetDateTime::now_utc);
    start
        .map(|s| (end - s).whole_milliseconds().max(0) as u64)
        .unwrap_or(0)
}

/// A stored job as the views show it, with its video once stored.
fn job_view(job: &VideoJob, asset: Option<AssetRef>) -> VideoJobView {
    VideoJobView {
        id: job.id.clone(),
        status: job.status.clone(),
        finished: job.finished_at.is_some(),
        route: job.route.clone(),
        model: job.model.clone(),
        upstream_id: job.upstream_id.clone(),
        request: job.request.clone(),
        asset,
        error: job
            .error_code
            .as_ref()
            .map(|code| json!({"code": code, "message": job.error_message})),
        cost: job.cost,
        run_id: job.run_id.clone(),
        created_at: job.created_at.clone(),
        updated_at: job.updated_at.clone(),
        finished_at: job.finished_at.clone(),
        elapsed_ms: elapsed_ms(job),
    }
}

/// The watch channels of the jobs being polled now.
#[derive(Default)]
struct VideoWatchers {
    jobs: Mutex<HashMap<String, watch::Sender<VideoJobView>>>,
}

impl VideoWatchers {
    fn subscribe(&self, id: &str) -> Option<watch::Receiver<VideoJobView>> {
        self.jobs.lock().get(id).map(watch::Sender::subscribe)
    }

    fn register(&self, view: VideoJobView) -> watch::Sender<VideoJobView> {
        let (tx, _) = watch::channel(view.clone());
        self.jobs.lock().insert(view.id, tx.clone());
        tx
    }

    fn remove(&self, id: &str) {
        self.jobs.lock().remove(id);
    }
}

/// How a poll loop ended.
struct Outcome {
    update: VideoJobUpdate,
    asset: Option<AssetRef>,
}

fn ended(status: VideoStatus, code: &str, message: String) -> Outcome {
    Outcome {
        update: VideoJobUpdate {
            status: status.as_str().to_owned(),
            error_code: Some(code.to_owned()),
            error_message: Some(message),
            finished: true,
            ..VideoJobUpdate::default()
        },
        asset: None,
    }
}

fn failed(e: &EngineError) -> Outcome {
    ended(VideoStatus::Failed, e.code(), e.to_string())
}

/// The video job service.
pub(crate) struct VideoJobs {
    routes: Arc<RouteTable>,
    upstreams: Arc<Upstreams>,
    store: Arc<dyn Storage>,
    assets: AssetStore,
    gate: Arc<Gate>,
    tasks: TaskTracker,
    stop: CancellationToken,
    watchers: VideoWatchers,
}

impl VideoJobs {
    /// The service; no poller runs until [`VideoJobs::resume`] or a submission. Pollers
    /// run on `tasks` and stop when `stop` is cancelled (the jobs resume at the next
    /// start).
    pub(crate) fn new(
        routes: Arc<RouteTable>,
        upstreams: Arc<Upstreams>,
        store: Arc<dyn Storage>,
        assets: AssetStore,
        gate: Arc<Gate>,
        tasks: TaskTracker,
        stop: CancellationToken,
    ) -> VideoJobs {
        VideoJobs {
            routes,
            upstreams,
            store,
            assets,
            gate,
            tasks,
            stop,
            watchers: VideoWatchers::default(),
        }
    }

    /// Submits a video job for `args` on `ctx.route`, records it and starts polling it.
    /// The duration snaps to the nearest one the model supports (`/videos/models`, else
    /// 4/6/8 s), ties to the larger.
    pub(crate) async fn start(
        self: &Arc<Self>,
        ctx: &ToolCtx<'_>,
        args: &GenerateVideoArgs,
    ) -> Result<VideoJobView, EngineError> {
        let route = ctx.route;
        require_tool(route, ToolName::GenerateVideo)?;
        let model = ctx
            .model
            .clone()
            .unwrap_or_else(|| route.media.video_model.clone());
        crate::access::current_caller().check_target(&route.id, &model)?;
        let up = self.upstreams.upstream(route)?;
        let models =
            match tokio::time::timeout(POLL_REQUEST_TIMEOUT, up.provider.video_models(&up.key))
                .await
            {
                Ok(Ok(doc)) => Some(doc),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "video model catalog unavailable; assuming 4/6/8 s");
                    None
                }
                Err(_) => None,
            };
        let supported = models
            .as_ref()
            .and_then(|doc| supported_durations(doc, &model))
            .unwrap_or_else(|| DEFAULT_VIDEO_DURATIONS.to_vec());
        let requested = args.duration.unwrap_or(DEFAULT_REQUESTED_DURATION);
        if requested == 0 {
            return Err(EngineError::bad_input(
                "invalid_duration",
                "the duration must be a positive number of seconds",
            ));
        }
        let duration = snap_duration(requested, &supported);
        // The job's worst case stays reserved until its poller charges what it cost.
        let worst = models
            .as_ref()
            .ok_or(Unpriced::NoVideoPrices)
            .and_then(|doc| video_worst_case(doc, &model, duration));
        let admission = self
            .gate
            .admit_media("media", &route.id, &model, args.prompt.len(), worst)
            .await?;
        let frame = |id: &Option<String>, what: &'static str| {
            let id = id.clone();
            async move {
                match id {
                    Some(id) => Ok(Some(
                        crate::generated::image_data_url(&self.assets, &id, what).await?,
                    )),
                    None => Ok::<_, EngineError>(None),
                }
            }
        };
        let mut references = Vec::with_capacity(args.reference_asset_ids.len());
        for id in &args.reference_asset_ids {
            references.push(crate::generated::image_data_url(&self.assets, id, "reference").await?);
        }
        let mut req = VideoRequest {
            model: model.clone(),
            prompt: args.prompt.clone(),
            duration,
            resolution: args.resolution.clone(),
            aspect_ratio: args.aspect_ratio.clone(),
            first_frame: frame(&args.first_frame_asset_id, "first frame").await?,
            last_frame: frame(&args.last_frame_asset_id, "last frame").await?,
            references,
        };
        req.validate()?;
        let mut attempts = Vec::new();
        let state = up
            .provider
            .create_video(
                &up.key,
                &req,
                POLL_REQUEST_TIMEOUT,
                self.upstreams.retry(),
                &mut attempts,
            )
            .await;
        crate::upstream_log::failed_media_attempts(
            ToolName::GenerateVideo.as_str(),
            &route.id,
            ctx.run_id,
            &attempts,
        );
        let state = state?;
        let request = json!({
            "prompt": req.prompt,
            "duration": duration,
            "duration_requested": requested,
            "snapped": duration != requested,
            "supported_durations": supported,
            "resolution": req.resolution,
            "aspect_ratio": req.aspect_ratio,
            "first_frame_asset_id": args.first_frame_asset_id,
            "last_frame_asset_id": args.last_frame_asset_id,
            "reference_asset_ids": args.reference_asset_ids,
            // The virtual key that started the job: its cost is charged to it.
            "key_id": crate::access::current_caller().key_id().map(str::to_owned),
        });
        let job = self
            .store
            .insert_video_job(NewVideoJob {
                id: format!("vid_{}", uuid::Uuid::now_v7().simple()),
                route: route.id.clone(),
                model,
                upstream_id: state.id.clone(),
                polling_url: state.polling_url.clone(),
                status: state.status.as_str().to_owned(),
                request,
                run_id: ctx.run_id.map(str::to_owned),
            })
            .await?;
        tracing::info!(job = %job.id, upstream = %job.upstream_id, duration, requested, "video job submitted");
        Ok(self.spawn_poller(job, Some(admission)))
    }

    /// A job's current view.
    pub(crate) async fn job(&self, id: &str) -> Result<VideoJobView, EngineError> {
        if let Some(rx) = self.watchers.subscribe(id) {
            let mut view = rx.borrow().clone();
            if let Some(job) = self.store.get_video_job(id).await? {
                view.elapsed_ms = elapsed_ms(&job);
            }
            return Ok(view);
        }
        let job = self
            .store
            .get_video_job(id)
            .await?
            .ok_or_else(|| EngineError::NotFound {
                what: "video job",
                id: id.to_owned(),
            })?;
        let asset = match &job.asset_id {
            Some(a) => crate::generated::asset_ref(&self.assets, a).await.ok(),
            None => None,
        };
        Ok(job_view(&job, asset))
    }

    /// The most recent jobs, newest first.
    pub(crate) async fn jobs(&self, limit: u32) -> Result<Vec<VideoJobView>, EngineError> {
        let jobs = self.store.list_video_jobs(limit).await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(self.job(&job.id).await?);
        }
        Ok(out)
    }

    /// Waits until the job ends, calling `on_progress` with every view published while
    /// it runs (a status change, or a poll); returns the final view.
    pub(crate) async fn wait(
        &self,
        id: &str,
        mut on_progress: impl FnMut(&VideoJobView),
    ) -> Result<VideoJobView, EngineError> {
        let Some(mut rx) = self.watchers.subscribe(id) else {
            let view = self.job(id).await?;
            if view.finished {
                return Ok(view);
            }
            return Err(EngineError::Internal(format!(
                "video job {id} is not being polled; it resumes when ferry restarts"
            )));
        };
        loop {
            let view = rx.borrow_and_update().clone();
            if view.finished {
                return Ok(view);
            }
            on_progress(&view);
            if rx.changed().await.is_err() {
                let view = self.job(id).await?;
                if view.finished {
                    return Ok(view);
                }
                return Err(EngineError::Draining);
            }
        }
    }

    /// At start: resumes polling every job a previous run of the daemon left unfinished.
    pub(crate) async fn resume(self: &Arc<Self>) -> Result<usize, EngineError> {
        let jobs = self.store.claim_video_jobs(true).await?;
        let n = jobs.len();
        for job in jobs {
            tracing::info!(job = %job.id, status = %job.status, "resuming a video job");
            self.spawn_poller(job, None);
        }
        self.tasks.spawn(Arc::clone(self).take_over());
        Ok(n)
    }

    /// Every [`TAKEOVER_INTERVAL`] until the drain, starts polling the jobs the store
    /// hands over (on a database shared by replicas: those of a replica that died).
    async fn take_over(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(TAKEOVER_INTERVAL) => {}
            }
            let jobs = match self.store.claim_video_jobs(false).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for video jobs to take over");
                    continue;
                }
            };
            for job in jobs {
                if self.watchers.subscribe(&job.id).is_some() {
                    continue;
                }
                tracing::warn!(job = %job.id, status = %job.status, "taking over the video job of a replica that died");
                self.spawn_poller(job, None);
            }
        }
    }

    /// Registers the job's watch channel and starts its poll loop (stops on drain).
    /// Polls `job` in the background; its `admission` (none for a job resumed at start)
    /// keeps the job's worst case reserved until the poller has charged what it cost.
    fn spawn_poller(self: &Arc<Self>, job: VideoJob, admission: Option<Admission>) -> VideoJobView {
        let view = job_view(&job, None);
        let tx = self.watchers.register(view.clone());
        let service = Arc::clone(self);
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            let id = job.id.clone();
            tokio::select! {
                _ = stop.cancelled() => {
                    tracing::info!(job = %id, "stopping the video poller; it resumes at the next start");
                }
                _ = service.poll_video(job, &tx) => {}
            }
            // Charged (or not paid): the reservation ends.
            drop(admission);
            service.watchers.remove(&id);
        });
        view
    }

    /// Polls until the job ends or times out, then records the outcome.
    async fn poll_video(&self, job: VideoJob, tx: &watch::Sender<VideoJobView>) {
        let outcome = match self.routes.route(&job.route) {
            Ok(route) => self.poll_until_done(route, &job, tx).await,
            Err(e) => failed(&e),
        };
        let id = job.id.clone();
        match self.store.update_video_job(&id, outcome.update).await {
            Ok(row) => {
                tracing::info!(job = %id, status = %row.status, "video job finished");
                tx.send_replace(job_view(&row, outcome.asset));
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot record the end of a video job")
            }
        }
    }

    async fn poll_until_done(
        &self,
        route: &Route,
        job: &VideoJob,
        tx: &watch::Sender<VideoJobView>,
    ) -> Outcome {
        let up = match self.upstreams.upstream(route) {
            Ok(x) => x,
            Err(e) => return failed(&e),
        };
        let initial = Duration::from_millis(route.media.video_poll_ms);
        let mut backoff = PollBackoff::new(initial, MAX_POLL_INTERVAL.max(initial));
        let limit = route.media.video_timeout_ms;
        let mut status = job.status.clone();
        let mut current = job.clone();
        loop {
            if elapsed_ms(&current) >= limit {
                return ended(
                    VideoStatus::Failed,
                    "video_timeout",
                    format!(
                        "video job {} did not finish within {} s (media.video_timeout_ms); upstream job {} may still complete on OpenRouter",
                        job.id,
                        limit / 1000,
                        job.upstream_id
                    ),
                );
            }
            tokio::time::sleep(backoff.next_delay()).await;
            let mut attempts = Vec::new();
            let polled = up
                .provider
                .video_job(
                    &up.key,
                    &job.upstream_id,
                    job.polling_url.as_deref(),
                    POLL_REQUEST_TIMEOUT,
                    self.upstreams.retry(),
                    &mut attempts,
                )
                .await;
            for a in &mut attempts {
                a.model.clone_from(&job.model);
            }
            crate::upstream_log::failed_media_attempts(
                ToolName::GenerateVideo.as_str(),
                &route.id,
                job.run_id.as_deref(),
                &attempts,
            );
            let state = match polled {
                Ok(s) => s,
                Err(e) if e.retryable() => {
                    tracing::warn!(job = %job.id, error = %e, "video poll failed; polling again");
                    continue;
                }
                Err(e) => return failed(&e.into()),
            };
            if state.status.is_terminal() {
                return self.finish_video(&*up.provider, &up.key, job, &state).await;
            }
            if state.status.as_str() != status {
                status = state.status.as_str().to_owned();
                match self
                    .store
                    .update_video_job(
                        &job.id,
                        VideoJobUpdate {
                            status: status.clone(),
                            ..VideoJobUpdate::default()
                        },
                    )
                    .await
                {
                    Ok(row) => current = row,
                    Err(e) => {
                        tracing::warn!(job = %job.id, error = %e, "cannot record a video job status")
                    }
                }
            }
            let mut view = job_view(&current, None);
            view.elapsed_ms = elapsed_ms(&current);
            tx.send_replace(view);
        }
    }

    /// A terminal upstream state: download and store a completed video, or record why
    /// there is none.
    async fn finish_video(
        &self,
        client: &dyn ferry_openrouter::Provider,
        key: &str,
        job: &VideoJob,
        state: &VideoJobState,
    ) -> Outcome {
        if state.cost.is_some() || state.status == VideoStatus::Completed {
            self.gate.charge_key(
                job.request["key_id"].as_str().map(str::to_owned),
                ferry_store::LedgerEntry {
                    route: job.route.clone(),
                    model: job.model.clone(),
                    kind: "media".into(),
                    cost: state.cost,
                    ..Default::default()
                },
            );
        }
        if state.status != VideoStatus::Completed {
            let e = MediaError::VideoEnded {
                job_id: job.id.clone(),
                status: state.status,
                message: state.error.clone(),
            };
            let mut outcome = ended(state.status, e.code(), e.to_string());
            outcome.update.cost = state.cost;
            return outcome;
        }
        let max = usize::try_from(self.assets.max_bytes()).unwrap_or(usize::MAX);
        let stored = match client
            .download_video(key, state, max, DOWNLOAD_TIMEOUT)
            .await
        {
            Ok(d) => {
                crate::generated::store_generated(&self.assets, d.bytes, Kind::Video, "video").await
            }
            Err(e) => Err(e.into()),
        };
        match stored {
            Ok(asset) => Outcome {
                update: VideoJobUpdate {
                    status: VideoStatus::Completed.as_str().to_owned(),
                    cost: state.cost,
                    asset_id: Some(asset.asset_id.clone()),
                    finished: true,
                    ..VideoJobUpdate::default()
                },
                asset: Some(asset),
            },
            Err(e) => {
                let mut outcome = failed(&e);
                outcome.update.cost = state.cost;
                outcome
            }
        }
    }
}
