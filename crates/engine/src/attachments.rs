//! Attachments of a session input (spec §6, §7).
//!
//! At submission every attachment — `{asset_id}`, `{path}` (read inside the workspace
//! root) or `{media_type, data_base64, file_name?}` — becomes a stored asset, and is
//! checked against the route's capabilities and the model catalog, so a refusal is a
//! synchronous 4xx before any upstream call. The user message stored in history keeps
//! references only (`{"type": "ferry_asset", asset_id, media_type, file_name}` parts),
//! never megabytes of base64; the run input stores `{asset_id}` references too.
//!
//! At request time the references are rebuilt into OpenRouter parts for the model being
//! called: images → `image_url` data URLs, video → `video_url` data URLs, PDF → `file`
//! parts (`data:application/pdf;base64,…`), text/markdown/csv/json → a text part headed by
//! the file name, audio → its transcript (daemon-owned STT, cached per asset) with a note
//! naming the file. Replayed history adapts to the model: an image the current model
//! cannot take becomes a short text note instead of an upstream error.
//!
//! [`Attachments`] is built once with the route table, assets, store, catalogs, the
//! [`Transcriber`] and the workspace root; it never reaches into the engine.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use ferry_assets::{AssetStore, AssetView, Declared, Kind, MediaType, Source};
use ferry_config::Route;
use ferry_openrouter::media::to_data_url;
use ferry_openrouter::Catalog;
use ferry_store::Storage;
use serde_json::{json, Value};

use crate::catalogs::Catalogs;
use crate::input::PlannedModel;
use crate::routes::RouteTable;
use crate::transcribe::{require_transcription, Transcriber};
use crate::workspace::resolve_in_workspace;
use crate::EngineError;

/// The `type` of a stored attachment reference part.
pub(crate) const ASSET_PART: &str = "ferry_asset";
/// Most attachments on one input.
const MAX_ATTACHMENTS: usize = 32;

/// One attachment as the client wrote it.
#[derive(Debug, Clone, PartialEq)]
enum Spec {
    Asset(String),
    Path(String),
    Inline {
        media_type: String,
        data: String,
        file_name: Option<String>,
    },
}

fn attachment_error(index: usize, what: &str) -> EngineError {
    EngineError::bad_input(
        "invalid_attachment",
        format!(
            "attachment {index}: {what}; use {{\"asset_id\": \"ast_…\"}}, {{\"path\": \"relative/file.png\"}} or {{\"media_type\": \"image/png\", \"data_base64\": \"…\", \"file_name\": \"x.png\"}}"
        ),
    )
}

fn parse_spec(index: usize, v: &Value) -> Result<Spec, EngineError> {
    let Some(obj) = v.as_object() else {
        return Err(attachment_error(index, "not an object"));
    };
    let string = |key: &str| -> Result<Option<String>, EngineError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(attachment_error(
                index,
                &format!("\"{key}\" must be a string"),
            )),
        }
    };
    let allowed: &[&str] = if obj.contains_key("asset_id") {
        &["asset_id"]
    } else if obj.contains_key("path") {
        &["path"]
    } else {
        &["media_type", "data_base64", "file_name"]
    };
    if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(attachment_error(
            index,
            &format!("unexpected key \"{extra}\""),
        ));
    }
    if let Some(id) = string("asset_id")? {
        return Ok(Spec::Asset(id));
    }
    if let Some(path) = string("path")? {
        return Ok(Spec::Path(path));
    }
    match (string("media_type")?, string("data_base64")?) {
        (Some(media_type), Some(data)) => Ok(Spec::Inline {
            media_type,
            data,
            file_name: string("file_name")?,
        }),
        (None, Some(_)) => Err(attachment_error(index, "inline data needs \"media_type\"")),
        _ => Err(attachment_error(index, "no asset_id, path or data_base64")),
    }
}

/// An attachment of the new input, stored as an asset.
#[derive(Debug, Clone)]
pub(crate) struct Attached {
    pub(crate) view: AssetView,
    pub(crate) media_type: MediaType,
}

impl Attached {
    fn name(&self) -> &str {
        self.view
            .asset
            .file_name
            .as_deref()
            .unwrap_or(&self.view.asset.id)
    }
}

/// The user message with its attachments as reference parts.
pub(crate) fn user_message(text: &str, attached: &[Attached]) -> Value {
    let mut parts = Vec::with_capacity(attached.len() + 1);
    if !text.trim().is_empty() {
        parts.push(json!({"type": "text", "text": text}));
    }
    for a in attached {
        parts.push(json!({
            "type": ASSET_PART,
            "asset_id": a.view.asset.id,
            "media_type": a.media_type.as_str(),
            "file_name": a.view.asset.file_name,
        }));
    }
    json!({"role": "user", "content": parts})
}

/// The attachments as stored on the run's input: references only.
pub(crate) fn input_refs(attached: &[Attached]) -> Vec<Value> {
    attached
        .iter()
        .map(|a| json!({"asset_id": a.view.asset.id}))
        .collect()
}

/// What a model may be sent, decided per call.
#[derive(Debug, Clone)]
pub(crate) struct ModelCaps {
    model: String,
    images: bool,
    video: bool,
    files: bool,
}

impl ModelCaps {
    /// The route's capability flags narrowed by what the catalog says of `wire_model`
    /// (an unknown model is given the benefit of the doubt).
    pub(crate) fn of(route: &Route, catalog: Option<&Catalog>, wire_model: &str) -> ModelCaps {
        let multimodal = route.capabilities.multimodal_input;
        let says = |m: &str| catalog.and_then(|c| c.accepts(wire_model, m)) != Some(false);
        ModelCaps {
            model: wire_model.to_owned(),
            images: multimodal && says("image"),
            video: multimodal && says("video"),
            files: multimodal,
        }
    }
}

/// An attachment rebuilt for the wire.
#[derive(Debug, Clone)]
enum Resolved {
    Image { url: Arc<str>, name: String },
    Video { url: Arc<str>, name: String },
    File { url: Arc<str>, name: String },
    Text(String),
}

/// The rebuilt attachments of one run, by asset id.
#[derive(Debug, Default)]
pub(crate) struct Expansion {
    parts: HashMap<String, Resolved>,
}

fn data_url(media_type: &str, bytes: &[u8]) -> Arc<str> {
    Arc::from(to_data_url(media_type, bytes))
}

fn asset_parts(message: &Value) -> impl Iterator<Item = &Value> {
    message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some(ASSET_PART))
}

fn has_asset_parts(message: &Value) -> bool {
    asset_parts(message).next().is_some()
}

impl Expansion {
    /// `message` with its reference parts rebuilt for a model with `caps`; messages
    /// without references are returned as they are.
    pub(crate) fn apply(&self, message: &Value, caps: &ModelCaps) -> Value {
        if !has_asset_parts(message) {
            return message.clone();
        }
        let mut out = message.clone();
        if let Some(parts) = out.get_mut("content").and_then(Value::as_array_mut) {
            for part in parts.iter_mut() {
                if part.get("type").and_then(Value::as_str) != Some(ASSET_PART) {
                    continue;
                }
                let id = part.get("asset_id").and_then(Value::as_str).unwrap_or("");
                *part = match self.parts.get(id) {
                    Some(r) => wire_part(r, caps),
                    None => text_part(format!("[attachment {id} is no longer available]")),
                };
            }
        }
        out
    }
}

fn text_part(text: String) -> Value {
    json!({"type": "text", "text": text})
}

fn wire_part(r: &Resolved, caps: &ModelCaps) -> Value {
    let omitted = |what: &str, name: &str| {
        text_part(format!(
            "[{what} attachment {name} not shown: model {} does not accept {what} input]",
            caps.model
        ))
    };
    match r {
        Resolved::Image { url, .. } if caps.images => {
            json!({"type": "image_url", "image_url": {"url": &**url}})
        }
        Resolved::Image { name, .. } => omitted("image", name),
        Resolved::Video { url, .. } if caps.video => {
            json!({"type": "video_url", "video_url": {"url": &**url}})
        }
        Resolved::Video { name, .. } => omitted("video", name),
        Resolved::File { url, name } if caps.files => {
            json!({"type": "file", "file": {"filename": name, "file_data": &**url}})
        }
        Resolved::File { name, .. } => omitted("file", name),
        Resolved::Text(t) => text_part(t.clone()),
    }
}

/// The attachment service.
pub(crate) struct Attachments {
    routes: Arc<RouteTable>,
    assets: AssetStore,
    store: Arc<dyn Storage>,
    catalogs: Arc<Catalogs>,
    transcriber: Arc<Transcriber>,
    /// The canonical workspace root: no `{path}` outside it is read.
    workspace_root: PathBuf,
}

impl Attachments {
    /// The service over its dependencies.
    pub(crate) fn new(
        routes: Arc<RouteTable>,
        assets: AssetStore,
        store: Arc<dyn Storage>,
        catalogs: Arc<Catalogs>,
        transcriber: Arc<Transcriber>,
        workspace_root: PathBuf,
    ) -> Attachments {
        Attachments {
            routes,
            assets,
            store,
            catalogs,
            transcriber,
            workspace_root,
        }
    }

    /// Stores every attachment of an input as an asset (uploading `{path}` and inline
    /// data); refuses malformed specs, unknown assets, paths outside the workspace and
    /// bytes the asset rules refuse.
    pub(crate) async fn resolve_attachments(
        &self,
        raw: &[Value],
    ) -> Result<Vec<Attached>, EngineError> {
        if raw.len() > MAX_ATTACHMENTS {
            return Err(EngineError::bad_input(
                "too_many_attachments",
                format!(
                    "an input takes at most {MAX_ATTACHMENTS} attachments ({} given)",
                    raw.len()
                ),
            ));
        }
        let assets = &self.assets;
        let mut out = Vec::with_capacity(raw.len());
        for (index, v) in raw.iter().enumerate() {
            let view = match parse_spec(index, v)? {
                Spec::Asset(id) => assets.get(&id).await?,
                Spec::Path(path) => {
                    let resolved = resolve_in_workspace(&self.workspace_root, &path)?;
                    let bytes = read_limited(&resolved, assets.max_bytes()).await?;
                    let declared = Declared {
                        media_type: None,
                        file_name: Some(path),
                    };
                    assets
                        .ingest(bytes, declared, Source::Workspace)
                        .await?
                        .view
                }
                Spec::Inline {
                    media_type,
                    data,
                    file_name,
                } => {
                    let cleaned: String = data.chars().filter(|c| !c.is_whitespace()).collect();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(cleaned)
                        .map_err(|e| {
                            attachment_error(
                                index,
                                &format!("data_base64 is not valid base64 ({e})"),
                            )
                        })?;
                    let declared = Declared {
                        media_type: Some(media_type),
                        file_name,
                    };
                    assets
                        .ingest(Bytes::from(bytes), declared, Source::Inline)
                        .await?
                        .view
                }
            };
            let media_type = view.media_type().ok_or_else(|| {
                EngineError::Internal(format!(
                    "asset {} has an unknown stored type",
                    view.asset.id
                ))
            })?;
            out.push(Attached { view, media_type });
        }
        Ok(out)
    }

    /// Checks the attachments against the first model of the chain (route capabilities
    /// and catalog) and drops fallbacks that could not take them. Refusals name the
    /// attachment, the model and the fix.
    pub(crate) async fn check_attachments(
        &self,
        attached: &[Attached],
        chain: Vec<PlannedModel>,
    ) -> Result<Vec<PlannedModel>, EngineError> {
        let needs = |k: Kind| attached.iter().find(|a| a.media_type.kind() == k);
        let media = needs(Kind::Image)
            .or_else(|| needs(Kind::Video))
            .or_else(|| needs(Kind::Document));
        let mut kept = Vec::with_capacity(chain.len());
        for (i, planned) in chain.into_iter().enumerate() {
            let route = self.routes.route(&planned.route)?;
            let wire = ferry_config::wire_model(route, &planned.model);
            let problem = self.attachment_problem(route, &wire, attached, media).await;
            match problem {
                None => kept.push(planned),
                Some(e) if i == 0 => return Err(e),
                Some(e) => {
                    tracing::info!(model = %wire, reason = %e, "dropping a fallback that cannot take this input's attachments");
                }
            }
        }
        Ok(kept)
    }

    async fn attachment_problem(
        &self,
        route: &Route,
        wire: &str,
        attached: &[Attached],
        media: Option<&Attached>,
    ) -> Option<EngineError> {
        if let Some(a) = media {
            if !route.capabilities.multimodal_input {
                return Some(EngineError::bad_input(
                    "multimodal_input_disabled",
                    format!(
                        "route {} has multimodal_input = false, so {} ({}) cannot be attached; set multimodal_input = true in [routes.{}] or attach it on another route",
                        route.id, a.name(), a.media_type, route.id
                    ),
                ));
            }
        }
        if attached.iter().any(|a| a.media_type.kind() == Kind::Audio) {
            if let Err(e) = require_transcription(route) {
                return Some(e);
            }
        }
        let visual = |a: &Attached| matches!(a.media_type.kind(), Kind::Image | Kind::Video);
        if !attached.iter().any(visual) {
            return None;
        }
        let catalog = self.catalogs.for_check(&route.id).await?;
        for a in attached {
            let (modality, code) = match a.media_type.kind() {
                Kind::Image => ("image", "model_cannot_take_images"),
                Kind::Video => ("video", "model_cannot_take_video"),
                _ => continue,
            };
            if catalog.accepts(wire, modality) == Some(false) {
                let inputs = catalog
                    .model(wire)
                    .map(|m| m.input_modalities.join(", "))
                    .unwrap_or_default();
                return Some(EngineError::bad_input(
                    code,
                    format!(
                        "model {wire} does not accept {modality} input (the catalog lists its inputs as: {inputs}), so {} cannot be sent to it; pick a model that does (`ferry models list --modality {modality}`) with --model",
                        a.name()
                    ),
                ));
            }
        }
        None
    }

    /// Rebuilds every reference part of `history` and `current` for the wire. Failures of
    /// the current input's attachments fail the run; a history attachment that is gone
    /// or damaged becomes a note (and a warning) so the session stays usable.
    pub(crate) async fn expand_assets(
        &self,
        route: &Route,
        history: &[&Value],
        current: &Value,
    ) -> Result<Expansion, EngineError> {
        let mut expansion = Expansion::default();
        for (message, is_current) in history
            .iter()
            .map(|m| (*m, false))
            .chain(std::iter::once((current, true)))
        {
            for part in asset_parts(message) {
                let Some(id) = part.get("asset_id").and_then(Value::as_str) else {
                    continue;
                };
                if expansion.parts.contains_key(id) {
                    continue;
                }
                match self.resolve_part(route, id).await {
                    Ok(r) => {
                        expansion.parts.insert(id.to_owned(), r);
                    }
                    Err(e) if is_current => return Err(e),
                    Err(e) => {
                        tracing::warn!(asset = id, error = %e, "history attachment unavailable; replaying a note instead");
                        expansion.parts.insert(
                            id.to_owned(),
                            Resolved::Text(format!("[attachment {id} is unavailable: {e}]")),
                        );
                    }
                }
            }
        }
        Ok(expansion)
    }

    async fn resolve_part(&self, route: &Route, id: &str) -> Result<Resolved, EngineError> {
        let assets = &self.assets;
        let view = assets.get(id).await?;
        let media_type = view.media_type().ok_or_else(|| {
            EngineError::Internal(format!("asset {id} has an unknown stored type"))
        })?;
        let name = view
            .asset
            .file_name
            .clone()
            .unwrap_or_else(|| id.to_owned());
        if media_type.kind() == Kind::Audio {
            let text = match self.existing_transcript(id, &route.media.stt_model).await? {
                Some(t) => t,
                None => {
                    self.transcriber
                        .transcript(route, &view, None, None)
                        .await?
                        .text
                }
            };
            return Ok(Resolved::Text(format!(
                "[transcript of the audio attachment {name} ({id})]\n{text}"
            )));
        }
        let (_, bytes) = assets.read(id).await?;
        Ok(match media_type.kind() {
            Kind::Image => Resolved::Image {
                url: data_url(media_type.as_str(), &bytes),
                name,
            },
            Kind::Video => Resolved::Video {
                url: data_url(media_type.as_str(), &bytes),
                name,
            },
            Kind::Document => Resolved::File {
                url: data_url(media_type.as_str(), &bytes),
                name,
            },
            Kind::Text | Kind::Audio => Resolved::Text(format!(
                "[attached file {name} ({media_type})]\n{}",
                String::from_utf8_lossy(&bytes)
            )),
        })
    }

    /// A stored transcript of the asset: the route's STT model first, then any other
    /// model's (the text is canonical), without a language hint before with one.
    async fn existing_transcript(
        &self,
        asset_id: &str,
        preferred_model: &str,
    ) -> Result<Option<String>, EngineError> {
        let all = self.store.derivations(asset_id).await?;
        let rank = |d: &ferry_store::Derivation| {
            let plain = d.kind == "transcript";
            match (plain, d.model == preferred_model) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            }
        };
        Ok(all
            .into_iter()
            .filter(|d| d.kind.starts_with("transcript"))
            .min_by_key(rank)
            .map(|d| d.content))
    }
}

/// Reads a workspace file, refusing one above the asset size limit before reading it.
async fn read_limited(path: &std::path::Path, limit: u64) -> Result<Bytes, EngineError> {
    let path = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> Result<Bytes, EngineError> {
        let meta = std::fs::metadata(&path).map_err(|e| {
            EngineError::bad_input(
                "attachment_unreadable",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        if meta.len() > limit {
            return Err(ferry_assets::AssetError::TooLarge { limit }.into());
        }
        std::fs::read(&path).map(Bytes::from).map_err(|e| {
            EngineError::bad_input(
                "attachment_unreadable",
                format!("cannot read {}: {e}", path.display()),
            )
        })
    });
    read.await
        .map_err(|e| EngineError::Internal(format!("file read task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_strictly() {
        assert_eq!(
            parse_spec(0, &json!({"asset_id": "ast_1"})).unwrap(),
            Spec::Asset("ast_1".into())
        );
        assert_eq!(
            parse_spec(0, &json!({"path": "a.png"})).unwrap(),
            Spec::Path("a.png".into())
        );
        assert_eq!(
            parse_spec(
                0,
                &json!({"media_type": "text/plain", "data_base64": "aGk=", "file_name": "x.txt"})
            )
            .unwrap(),
            Spec::Inline {
                media_type: "text/plain".into(),
                data: "aGk=".into(),
                file_name: Some("x.txt".into())
            }
        );
        for bad in [
            json!("a.png"),
            json!({"asset_id": "a", "path": "b"}),
            json!({"data_base64": "aGk="}),
            json!({"asset_id": 3}),
            json!({}),
        ] {
            let e = parse_spec(2, &bad).unwrap_err();
            assert_eq!(e.code(), "invalid_attachment", "{bad}");
            assert!(e.to_string().starts_with("attachment 2:"), "{e}");
        }
    }

    fn caps(images: bool) -> ModelCaps {
        ModelCaps {
            model: "m/x".into(),
            images,
            video: false,
            files: true,
        }
    }

    #[test]
    fn references_rebuild_per_model() {
        let mut exp = Expansion::default();
        exp.parts.insert(
            "ast_i".into(),
            Resolved::Image {
                url: Arc::from("data:image/png;base64,AA=="),
                name: "pic.png".into(),
            },
        );
        exp.parts.insert(
            "ast_p".into(),
            Resolved::File {
                url: Arc::from("data:application/pdf;base64,JVBE"),
                name: "doc.pdf".into(),
            },
        );
        let msg = json!({"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": ASSET_PART, "asset_id": "ast_i"},
            {"type": ASSET_PART, "asset_id": "ast_p"},
            {"type": ASSET_PART, "asset_id": "ast_gone"},
        ]});
        let out = exp.apply(&msg, &caps(true));
        assert_eq!(out["content"][0], json!({"type": "text", "text": "look"}));
        assert_eq!(
            out["content"][1],
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}})
        );
        assert_eq!(
            out["content"][2],
            json!({"type": "file", "file": {"filename": "doc.pdf", "file_data": "data:application/pdf;base64,JVBE"}})
        );
        assert!(out["content"][3]["text"]
            .as_str()
            .unwrap()
            .contains("no longer available"));
        let text_only = exp.apply(&msg, &caps(false));
        let note = text_only["content"][1]["text"].as_str().unwrap();
        assert!(note.contains("pic.png") && note.contains("m/x"), "{note}");
        let plain = json!({"role": "user", "content": "hi"});
        assert_eq!(exp.apply(&plain, &caps(true)), plain);
    }
}
