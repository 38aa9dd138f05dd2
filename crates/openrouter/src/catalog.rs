//! The model catalog: OpenRouter's `GET /models?output_modalities=all` parsed into the
//! facts ferry decides on (input/output modalities, reasoning support, context, pricing),
//! and its on-disk cache file (`{fetched_at, models}`, written atomically).
//!
//! Questions about a model the catalog does not list answer `None` ("don't know"):
//! callers treat that as permission, never as refusal.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::OpenRouterClient;
use crate::error::{ErrorContext, UpstreamError};

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogModel {
    /// Model id, e.g. `openai/gpt-5.4-mini`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Context window in tokens.
    pub context_length: Option<u64>,
    /// `architecture.input_modalities` (`text`, `image`, `file`, `audio`, `video`).
    pub input_modalities: Vec<String>,
    /// `architecture.output_modalities` (`text`, `image`, `audio`).
    pub output_modalities: Vec<String>,
    /// `supported_parameters`.
    pub supported_parameters: Vec<String>,
    /// `pricing` as received (decimal strings, USD per token/unit).
    pub pricing: Value,
    /// `top_provider.max_completion_tokens`: the most a reply can have.
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// The prices budget admission reads on every call, parsed from `pricing` on first
    /// use (a catalog is replaced whole, never edited, so they cannot go stale).
    #[serde(skip)]
    parsed: PriceMemo,
}

/// [`ParsedPrices`] computed once; not part of a model's identity (two entries with the
/// same fields are equal whether or not either was priced yet).
#[derive(Debug, Clone, Default)]
struct PriceMemo(OnceLock<ParsedPrices>);

impl PartialEq for PriceMemo {
    fn eq(&self, _: &PriceMemo) -> bool {
        true
    }
}

/// The `pricing` fields a worst-case estimate reads, as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct ParsedPrices {
    prompt: Option<f64>,
    completion: Option<f64>,
    request: Option<f64>,
    image: Option<f64>,
    image_output: Option<f64>,
    internal_reasoning: Option<f64>,
}

/// The strings of a JSON array (other items skipped); nothing when `v` is not an array.
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl CatalogModel {
    fn from_json(v: &Value) -> Option<CatalogModel> {
        let id = v.get("id")?.as_str()?.to_owned();
        let strings = |ptr: &str| string_list(v.pointer(ptr));
        let mut input = strings("/architecture/input_modalities");
        let mut output = strings("/architecture/output_modalities");
        // Older entries only have `architecture.modality`, e.g. "text+image->text".
        if input.is_empty() || output.is_empty() {
            if let Some((i, o)) = v
                .pointer("/architecture/modality")
                .and_then(Value::as_str)
                .and_then(|m| m.split_once("->"))
            {
                if input.is_empty() {
                    input = i.split('+').map(str::to_owned).collect();
                }
                if output.is_empty() {
                    output = o.split('+').map(str::to_owned).collect();
                }
            }
        }
        Some(CatalogModel {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_owned(),
            context_length: v.get("context_length").and_then(Value::as_u64),
            input_modalities: input,
            output_modalities: output,
            supported_parameters: strings("/supported_parameters"),
            pricing: v.get("pricing").cloned().unwrap_or(Value::Null),
            max_completion_tokens: v
                .pointer("/top_provider/max_completion_tokens")
                .and_then(Value::as_u64),
            id,
            parsed: PriceMemo::default(),
        })
    }

    /// A catalog entry from its parts (`pricing` as OpenRouter sends it).
    pub fn new(
        id: &str,
        pricing: Value,
        context_length: Option<u64>,
        max_completion_tokens: Option<u64>,
    ) -> CatalogModel {
        CatalogModel {
            id: id.to_owned(),
            name: id.to_owned(),
            context_length,
            input_modalities: Vec::new(),
            output_modalities: Vec::new(),
            supported_parameters: Vec::new(),
            pricing,
            max_completion_tokens,
            parsed: PriceMemo::default(),
        }
    }

    /// Whether the model takes this input modality.
    pub fn accepts(&self, modality: &str) -> bool {
        self.input_modalities.iter().any(|m| m == modality)
    }

    /// Whether the model produces this output modality.
    pub fn outputs(&self, modality: &str) -> bool {
        self.output_modalities.iter().any(|m| m == modality)
    }

    /// Whether images can be attached.
    pub fn accepts_images(&self) -> bool {
        self.accepts("image")
    }

    /// Whether the model outputs images and nothing else (send `modalities: ["image"]`).
    pub fn is_image_only(&self) -> bool {
        !self.output_modalities.is_empty() && self.output_modalities.iter().all(|m| m == "image")
    }

    /// Whether the model takes the `reasoning` parameter.
    pub fn supports_reasoning(&self) -> bool {
        self.supported_parameters.iter().any(|p| p == "reasoning")
    }

    /// A `pricing` field (`prompt`, `completion`, `request`, `image`…) in USD per unit:
    /// `None` when absent or not a non-negative number.
    pub fn price(&self, field: &str) -> Option<f64> {
        let parsed = self.parsed.0.get_or_init(|| ParsedPrices {
            prompt: self.parse_price("prompt"),
            completion: self.parse_price("completion"),
            request: self.parse_price("request"),
            image: self.parse_price("image"),
            image_output: self.parse_price("image_output"),
            internal_reasoning: self.parse_price("internal_reasoning"),
        });
        match field {
            "prompt" => parsed.prompt,
            "completion" => parsed.completion,
            "request" => parsed.request,
            "image" => parsed.image,
            "image_output" => parsed.image_output,
            "internal_reasoning" => parsed.internal_reasoning,
            _ => self.parse_price(field),
        }
    }

    fn parse_price(&self, field: &str) -> Option<f64> {
        let v = self.pricing.get(field)?;
        let n = match v {
            Value::String(s) => s.trim().parse::<f64>().ok()?,
            Value::Number(n) => n.as_f64()?,
            _ => return None,
        };
        (n.is_finite() && n >= 0.0).then_some(n)
    }
}

/// A parsed catalog with the time it was fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    fetched_at: SystemTime,
    models: Vec<CatalogModel>,
    /// Model id → position; looked up on every request that names a model (foldhash).
    index: foldhash::HashMap<String, usize>,
}

/// The cache file's shape.
#[derive(Serialize, Deserialize)]
struct CacheFile {
    /// Unix seconds.
    fetched_at: u64,
    models: Vec<CatalogModel>,
}

impl Catalog {
    /// A catalog of `models` fetched at `fetched_at`.
    pub fn new(models: Vec<CatalogModel>, fetched_at: SystemTime) -> Catalog {
        let index = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        Catalog {
            fetched_at,
            models,
            index,
        }
    }

    /// Parses a `GET /models` document (`{"data": [...]}`); entries without an id are
    /// skipped.
    pub fn from_models_document(doc: &Value, fetched_at: SystemTime) -> Option<Catalog> {
        let data = doc.get("data")?.as_array()?;
        Some(Catalog::new(
            data.iter().filter_map(CatalogModel::from_json).collect(),
            fetched_at,
        ))
    }

    /// Every model, in catalog order.
    pub fn models(&self) -> &[CatalogModel] {
        &self.models
    }

    /// When it was fetched from OpenRouter.
    pub fn fetched_at(&self) -> SystemTime {
        self.fetched_at
    }

    /// Unix seconds of [`Catalog::fetched_at`].
    pub fn fetched_at_unix(&self) -> u64 {
        self.fetched_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Whether it is older than `ttl` at `now`.
    pub fn is_stale(&self, ttl: Duration, now: SystemTime) -> bool {
        now.duration_since(self.fetched_at)
            .unwrap_or(Duration::ZERO)
            >= ttl
    }

    /// The model, if listed. A variant suffix (`:free`, `:online`, `:thinking`…) falls back
    /// to the base model when the variant itself is not listed.
    pub fn model(&self, id: &str) -> Option<&CatalogModel> {
        let found = self.index.get(id).or_else(|| {
            let (base, _) = id.rsplit_once(':')?;
            self.index.get(base)
        })?;
        self.models.get(*found)
    }

    /// Whether the model takes images; `None` when the catalog does not list it.
    pub fn accepts_images(&self, id: &str) -> Option<bool> {
        self.model(id).map(CatalogModel::accepts_images)
    }

    /// Whether the model takes `modality` as input; `None` when unknown.
    pub fn accepts(&self, id: &str, modality: &str) -> Option<bool> {
        self.model(id).map(|m| m.accepts(modality))
    }

    /// Whether the model outputs only images; `None` when unknown.
    pub fn is_image_only(&self, id: &str) -> Option<bool> {
        self.model(id).map(CatalogModel::is_image_only)
    }

    /// Whether the model supports reasoning; `None` when unknown.
    pub fn supports_reasoning(&self, id: &str) -> Option<bool> {
        self.model(id).map(CatalogModel::supports_reasoning)
    }

    /// Reads a cache file written by [`Catalog::save`]; `None` if missing or unreadable.
    pub fn load(path: &Path) -> Option<Catalog> {
        let bytes = std::fs::read(path).ok()?;
        let file: CacheFile = serde_json::from_slice(&bytes).ok()?;
        Some(Catalog::new(
            file.models,
            UNIX_EPOCH + Duration::from_secs(file.fetched_at),
        ))
    }

    /// Writes the cache file atomically (temp file in the same directory, fsync, rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let file = CacheFile {
            fetched_at: self.fetched_at_unix(),
            models: self.models.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(std::io::Error::other)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl OpenRouterClient {
    /// Fetches and parses the whole catalog (`GET /models?output_modalities=all`). `/models`
    /// is public; the key is sent when there is one.
    pub async fn fetch_catalog(&self, api_key: &str) -> Result<Catalog, UpstreamError> {
        let doc = self.list_models(api_key).await?;
        Catalog::from_models_document(&doc, SystemTime::now()).ok_or_else(|| {
            UpstreamError::protocol(
                "the /models answer has no \"data\" array",
                false,
                ErrorContext { model: "", api_key },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"data": [
            {"id": "a/text", "name": "Text", "context_length": 1000,
             "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
             "supported_parameters": ["max_tokens"], "pricing": {"prompt": "0.1"}},
            {"id": "a/vision", "name": "Vision",
             "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
             "supported_parameters": ["reasoning"]},
            {"id": "a/painter", "name": "Painter",
             "architecture": {"modality": "text+image->image"}},
            {"name": "no id"}
        ]})
    }

    #[test]
    fn answers_per_model_questions() {
        let c = Catalog::from_models_document(&doc(), SystemTime::now()).unwrap();
        assert_eq!(c.models().len(), 3);
        assert_eq!(c.accepts_images("a/text"), Some(false));
        assert_eq!(c.accepts_images("a/vision"), Some(true));
        assert_eq!(c.accepts_images("a/vision:free"), Some(true));
        assert_eq!(c.accepts_images("x/unknown"), None);
        assert_eq!(c.is_image_only("a/painter"), Some(true));
        assert_eq!(c.is_image_only("a/vision"), Some(false));
        assert_eq!(c.accepts_images("a/painter"), Some(true), "from `modality`");
        assert_eq!(c.supports_reasoning("a/vision"), Some(true));
        assert_eq!(c.supports_reasoning("a/text"), Some(false));
        assert_eq!(c.model("a/text").unwrap().context_length, Some(1000));
    }

    #[test]
    fn cache_file_round_trips_and_ages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache").join("models-x.json");
        let fetched = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let c = Catalog::from_models_document(&doc(), fetched).unwrap();
        c.save(&path).unwrap();
        let back = Catalog::load(&path).unwrap();
        assert_eq!(back, c);
        assert!(back.is_stale(Duration::from_secs(3600), SystemTime::now()));
        assert!(!back.is_stale(Duration::from_secs(3600), fetched + Duration::from_secs(10)));
        std::fs::write(&path, b"{broken").unwrap();
        assert!(Catalog::load(&path).is_none());
        assert!(Catalog::from_models_document(&json!({"x": 1}), fetched).is_none());
    }
}
