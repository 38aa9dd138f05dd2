//! Running the media tools — for a model's tool call in a run and for
//! `POST /v1/tools/{name}` alike: capability gates, the route's media models and
//! settings, upstream calls with the engine's retry policy, and the results stored as
//! `generated` assets whose type is checked against what the tool promises.
//!
//! [`MediaTools`] is built once with the route table, [`Upstreams`] (retry policy), the
//! assets, the catalogs, the [`Gate`], the [`Transcriber`] and [`VideoJobs`]; it never
//! reaches into the engine.

use std::sync::Arc;
use std::time::Duration;

use ferry_assets::{AssetStore, Kind};
use ferry_config::TtsFormat;
use ferry_openrouter::chat_with_retries;
use ferry_openrouter::media::{
    extract_images, FetchLimits, ImageRequest, ImageSource, SpeechRequest, MAX_EDIT_IMAGES,
};
use ferry_types::{ToolOutput, VideoJobView};
use serde_json::{Map, Value};

use crate::access::Gate;
use crate::access::{image_worst_case, input_tokens, Spent, Unpriced};
use crate::catalogs::Catalogs;
use crate::input::provider_for;
use crate::routes::RouteTable;
use crate::tools::{
    parse_value, require_tool, EditImageArgs, GenerateAudioArgs, GenerateImageArgs, ToolArgs,
    ToolCtx, ToolName,
};
use crate::totals::add_cost;
use crate::transcribe::Transcriber;
use crate::upstreams::Upstreams;
use crate::video_jobs::VideoJobs;
use crate::EngineError;

/// A direct tool call's answer: a finished tool, or a video job still running.
#[derive(Debug, Clone)]
pub enum DirectResult {
    Done(Box<ToolOutput>),
    VideoStarted(Box<VideoJobView>),
}

/// Takes `key` out of a direct-call body as a string.
fn take_string(body: &mut Map<String, Value>, key: &str) -> Result<Option<String>, EngineError> {
    match body.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(EngineError::bad_input(
            "invalid_body",
            format!("{key} must be a non-empty string"),
        )),
    }
}

/// The media tool service.
pub(crate) struct MediaTools {
    routes: Arc<RouteTable>,
    upstreams: Arc<Upstreams>,
    assets: AssetStore,
    catalogs: Arc<Catalogs>,
    gate: Arc<Gate>,
    transcriber: Arc<Transcriber>,
    videos: Arc<VideoJobs>,
}

impl MediaTools {
    /// The service over its dependencies.
    pub(crate) fn new(
        routes: Arc<RouteTable>,
        upstreams: Arc<Upstreams>,
        assets: AssetStore,
        catalogs: Arc<Catalogs>,
        gate: Arc<Gate>,
        transcriber: Arc<Transcriber>,
        videos: Arc<VideoJobs>,
    ) -> MediaTools {
        MediaTools {
            routes,
            upstreams,
            assets,
            catalogs,
            gate,
            transcriber,
            videos,
        }
    }

    /// `POST /v1/tools/{name}`: runs a media tool directly. The body is the tool's
    /// arguments plus `route`, `model` (overrides the route's media model) and, for
    /// images, `timeout_ms`. A video is started and returned as a running job unless
    /// `wait` is true.
    pub(crate) async fn run_direct_tool(
        &self,
        name: &str,
        body: Value,
        wait: bool,
    ) -> Result<DirectResult, EngineError> {
        let tool = ToolName::parse(name)
            .filter(|t| *t != ToolName::EmitOutput)
            .ok_or_else(|| EngineError::NotFound {
                what: "tool",
                id: format!("{name} (available: {})", ToolName::media_list()),
            })?;
        let Value::Object(mut body) = body else {
            return Err(EngineError::bad_input(
                "invalid_body",
                "the body must be a JSON object with the tool's arguments",
            ));
        };
        let route_id = take_string(&mut body, "route")?;
        let model = take_string(&mut body, "model")?;
        let timeout_ms = match body.remove("timeout_ms") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
                EngineError::bad_input("invalid_timeout", "timeout_ms must be a positive integer")
            })?),
        };
        let route = match &route_id {
            Some(id) => self.routes.route(id)?,
            None => self.routes.file().default(),
        };
        require_tool(route, tool)?;
        let args = parse_value(tool, Value::Object(body))
            .map_err(|m| EngineError::bad_input("invalid_tool_arguments", m))?;
        let ctx = ToolCtx {
            route,
            model,
            timeout_ms,
            run_id: None,
        };
        if let (ToolArgs::GenerateVideo(v), false) = (&args, wait) {
            let job = self.videos.start(&ctx, v).await?;
            return Ok(DirectResult::VideoStarted(Box::new(job)));
        }
        Ok(DirectResult::Done(Box::new(
            self.execute_tool(&ctx, &args, &mut |_| {}).await?,
        )))
    }

    /// Runs one media tool (not `emit_output`) and stores its results. `progress` sees
    /// every published state of a video job while it runs.
    pub(crate) async fn execute_tool(
        &self,
        ctx: &ToolCtx<'_>,
        args: &ToolArgs,
        progress: &mut (dyn FnMut(&VideoJobView) + Send),
    ) -> Result<ToolOutput, EngineError> {
        let media = &ctx.route.media;
        let default_model = match args {
            ToolArgs::GenerateImage(_) | ToolArgs::EditImage(_) => &media.image_model,
            ToolArgs::GenerateAudio(_) => &media.tts_model,
            ToolArgs::TranscribeAudio(_) => &media.stt_model,
            ToolArgs::GenerateVideo(_) => &media.video_model,
            ToolArgs::EmitOutput(_) => &ctx.route.default_model,
        };
        crate::access::current_caller()
            .check_target(&ctx.route.id, ctx.model.as_deref().unwrap_or(default_model))?;
        match args {
            ToolArgs::GenerateImage(a) => self.generate_image(ctx, a).await,
            ToolArgs::EditImage(a) => self.edit_image(ctx, a).await,
            ToolArgs::GenerateAudio(a) => self.generate_audio(ctx, a).await,
            ToolArgs::TranscribeAudio(a) => {
                require_tool(ctx.route, ToolName::TranscribeAudio)?;
                let asset = self.assets.get(&a.asset_id).await?;
                let t = self
                    .transcriber
                    .transcript(
                        ctx.route,
                        &asset,
                        ctx.model.as_deref(),
                        a.language.as_deref(),
                    )
                    .await?;
                Ok(ToolOutput {
                    tool: ToolName::TranscribeAudio.as_str().to_owned(),
                    route: ctx.route.id.clone(),
                    model: t.model,
                    text: Some(t.text),
                    cost: t.cost,
                    ..ToolOutput::default()
                })
            }
            ToolArgs::GenerateVideo(a) => {
                let started = self.videos.start(ctx, a).await?;
                let job = self.videos.wait(&started.id, &mut *progress).await?;
                if let Some(err) = &job.error {
                    return Err(EngineError::video_job(
                        err["code"].as_str().unwrap_or("video_failed"),
                        err["message"].as_str().unwrap_or("the video job failed"),
                    ));
                }
                Ok(ToolOutput {
                    tool: ToolName::GenerateVideo.as_str().to_owned(),
                    route: ctx.route.id.clone(),
                    model: job.model.clone(),
                    assets: job.asset.clone().into_iter().collect(),
                    cost: job.cost,
                    video: Some(job),
                    ..ToolOutput::default()
                })
            }
            ToolArgs::EmitOutput(_) => Err(EngineError::Internal(
                "emit_output is composed by the tool loop, not executed".into(),
            )),
        }
    }

    async fn generate_image(
        &self,
        ctx: &ToolCtx<'_>,
        a: &GenerateImageArgs,
    ) -> Result<ToolOutput, EngineError> {
        require_tool(ctx.route, ToolName::GenerateImage)?;
        let n = a.n.unwrap_or(1);
        self.images(
            ctx,
            ToolName::GenerateImage,
            &a.prompt,
            a.aspect_ratio.clone(),
            a.image_size.clone(),
            Vec::new(),
            n,
        )
        .await
    }

    async fn edit_image(
        &self,
        ctx: &ToolCtx<'_>,
        a: &EditImageArgs,
    ) -> Result<ToolOutput, EngineError> {
        require_tool(ctx.route, ToolName::EditImage)?;
        let mut inputs = Vec::with_capacity(a.image_asset_ids.len());
        if a.image_asset_ids.len() > MAX_EDIT_IMAGES {
            return Err(EngineError::bad_input(
                "too_many_images",
                format!(
                    "an edit takes at most {MAX_EDIT_IMAGES} input images; {} were given",
                    a.image_asset_ids.len()
                ),
            ));
        }
        for id in &a.image_asset_ids {
            inputs.push(crate::generated::image_data_url(&self.assets, id, "input image").await?);
        }
        self.images(
            ctx,
            ToolName::EditImage,
            &a.prompt,
            a.aspect_ratio.clone(),
            a.image_size.clone(),
            inputs,
            1,
        )
        .await
    }

    /// `n` image requests (generate or edit), each stored as assets.
    #[allow(clippy::too_many_arguments)]
    async fn images(
        &self,
        ctx: &ToolCtx<'_>,
        tool: ToolName,
        prompt: &str,
        aspect_ratio: Option<String>,
        image_size: Option<String>,
        inputs: Vec<String>,
        n: u32,
    ) -> Result<ToolOutput, EngineError> {
        let route = ctx.route;
        let model = ctx
            .model
            .clone()
            .unwrap_or_else(|| route.media.image_model.clone());
        let catalog = self.catalogs.for_check(&route.id).await;
        if let Some(m) = catalog.as_deref().and_then(|c| c.model(&model)) {
            if !m.outputs("image") {
                return Err(EngineError::bad_input(
                    "not_an_image_model",
                    format!(
                        "model {model} does not generate images (its outputs: {}); pick an image model, e.g. with --model google/gemini-2.5-flash-image, or set [routes.{}.media] image_model",
                        m.output_modalities.join(", "),
                        route.id
                    ),
                ));
            }
        }
        let mut req = ImageRequest {
            model: model.clone(),
            prompt: prompt.to_owned(),
            aspect_ratio,
            image_size,
            inputs,
            image_only: catalog
                .as_deref()
                .and_then(|c| c.is_image_only(&model))
                .unwrap_or(false),
            provider: provider_for(route, &model, &Default::default()),
        };
        req.validate()?;
        let worst = match catalog.as_deref().and_then(|c| c.model(&model)) {
            Some(m) => image_worst_case(m, input_tokens(prompt.len()), req.inputs.len()),
            None => Err(Unpriced::NotInCatalog),
        };
        let chat = req.to_chat();
        let up = self.gate.caller_upstream(route)?;
        let deadline =
            Duration::from_millis(ctx.timeout_ms.unwrap_or(route.media.image_timeout_ms));
        let limits = FetchLimits {
            max_bytes: usize::try_from(self.assets.max_bytes()).unwrap_or(usize::MAX),
            timeout: deadline,
            ..FetchLimits::default()
        };
        let mut out = ToolOutput {
            tool: tool.as_str().to_owned(),
            route: route.id.clone(),
            model: model.clone(),
            ..ToolOutput::default()
        };
        for _ in 0..n {
            let admission = self
                .gate
                .admit_media("media", &route.id, &model, prompt.len(), worst.clone())
                .await?;
            let mut attempts = Vec::new();
            let outcome = chat_with_retries(
                &*up.provider,
                &up.key,
                &chat,
                Some(deadline),
                self.upstreams.retry(),
                &mut |_| {},
                &mut attempts,
            )
            .await;
            crate::upstream_log::failed_media_attempts(
                tool.as_str(),
                &route.id,
                ctx.run_id,
                &attempts,
            );
            let outcome = outcome?;
            add_cost(&mut out.cost, outcome.cost);
            admission.settle(Spent::of_media(
                outcome.model.as_deref().unwrap_or(&model),
                outcome.cost,
                outcome.generation_id.clone(),
            ));
            if !outcome.content.trim().is_empty() {
                out.text = Some(outcome.content.clone());
            }
            for source in extract_images(&outcome, &model)? {
                let bytes = match source {
                    ImageSource::Inline { bytes, .. } => bytes,
                    ImageSource::Remote(url) => {
                        up.provider.fetch_image(&up.key, &url, limits).await?.bytes
                    }
                };
                out.assets.push(
                    crate::generated::store_generated(&self.assets, bytes, Kind::Image, "image")
                        .await?,
                );
            }
        }
        Ok(out)
    }

    async fn generate_audio(
        &self,
        ctx: &ToolCtx<'_>,
        a: &GenerateAudioArgs,
    ) -> Result<ToolOutput, EngineError> {
        let route = ctx.route;
        require_tool(route, ToolName::GenerateAudio)?;
        let format = match &a.format {
            Some(f) => f
                .parse::<TtsFormat>()
                .map_err(|e| EngineError::bad_input("invalid_audio_format", e.to_string()))?,
            None => route.media.tts_format,
        };
        let req = SpeechRequest {
            model: ctx
                .model
                .clone()
                .unwrap_or_else(|| route.media.tts_model.clone()),
            input: a.text.clone(),
            voice: a
                .voice
                .clone()
                .unwrap_or_else(|| route.media.tts_voice.clone()),
            format,
            speed: a.speed,
        };
        req.validate()?;
        // Speech answers carry no usage, so a key with a budget cannot use speech.
        let admission = self
            .gate
            .admit_media(
                "media",
                &route.id,
                &req.model,
                req.input.len(),
                Err(Unpriced::Unbounded("speech")),
            )
            .await?;
        let up = self.gate.caller_upstream(route)?;
        let mut attempts = Vec::new();
        let speech = up
            .provider
            .speech(
                &up.key,
                &req,
                Duration::from_millis(route.timeout_ms),
                self.upstreams.retry(),
                &mut attempts,
            )
            .await;
        crate::upstream_log::failed_media_attempts(
            ToolName::GenerateAudio.as_str(),
            &route.id,
            ctx.run_id,
            &attempts,
        );
        let speech = speech?;
        // The call is in the ledger without a cost.
        admission.settle(Spent::of_media(&req.model, None, None));
        let asset =
            crate::generated::store_generated(&self.assets, speech.bytes, Kind::Audio, "speech")
                .await?;
        Ok(ToolOutput {
            tool: ToolName::GenerateAudio.as_str().to_owned(),
            route: route.id.clone(),
            model: req.model,
            assets: vec![asset],
            ..ToolOutput::default()
        })
    }
}
