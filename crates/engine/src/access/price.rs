//! The worst-case cost of one paid call, for budget reservations. A text call: the
//! catalog's prices × (an input estimate + the most output the call may produce). The input
//! estimate is one token per 3 bytes of the request (conservative: JSON overhead counts,
//! English runs about 4 bytes a token, CJK about 3); the output bound is the request's
//! `max_tokens`, else the model's `max_completion_tokens`, else its context length. An image
//! call adds its input images (`image`) and one output image (`image_output`, else
//! `image`). A video job: its most expensive `pricing_skus` entry (`GET /videos/models`)
//! × its duration in seconds. Speech and speech-to-text have no price ferry can know in
//! advance. A call that cannot be priced is refused under a budget rather than admitted
//! unboundedly.

use ferry_openrouter::CatalogModel;
use serde_json::Value;

/// Bytes counted as one input token.
pub const BYTES_PER_TOKEN: u64 = 3;

/// The input token estimate of a request of `bytes` bytes.
pub fn input_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(BYTES_PER_TOKEN)
}

/// Why a call cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpriced {
    /// The route's catalog does not list the model.
    NotInCatalog,
    /// The catalog lists it without prompt/completion prices.
    NoPrices,
    /// No `max_tokens` and the catalog gives no output bound.
    NoOutputBound,
    /// The video model list has no pricing SKUs for the model.
    NoVideoPrices,
    /// A kind of call (speech, speech-to-text) whose cost is known only afterwards.
    Unbounded(&'static str),
}

impl Unpriced {
    /// What to do about it.
    pub fn explain(&self, model: &str) -> String {
        match self {
            Unpriced::NotInCatalog => format!("model {model} is not in the route's model catalog, so ferry cannot bound its cost against this key's budget; use a listed model (ferry models list) or a key without a budget"),
            Unpriced::NoPrices => format!("the model catalog has no prompt/completion prices for {model}, so ferry cannot bound its cost against this key's budget; use a priced model or a key without a budget"),
            Unpriced::NoOutputBound => format!("the catalog gives no output limit for {model}; send max_tokens so ferry can bound the call's cost against this key's budget"),
            Unpriced::NoVideoPrices => format!("the video model list (GET /videos/models) gives no pricing_skus for {model}, so ferry cannot bound the job's cost against this key's budget; use a priced video model or a key without a budget"),
            Unpriced::Unbounded(what) => format!("{what} with {model} has no price ferry can know before the call, so it could take this key past its budget; use a key without a budget for {what} (see docs/team.md)"),
        }
    }
}

/// Output tokens × their price: the bound is needed only when output costs something.
fn output_cost(
    model: &CatalogModel,
    max_tokens: Option<u64>,
    completion: f64,
) -> Result<f64, Unpriced> {
    // Reasoning tokens are output tokens; some models price them apart.
    let price = completion.max(model.price("internal_reasoning").unwrap_or(0.0));
    if price == 0.0 {
        return Ok(0.0);
    }
    let output = max_tokens
        .or(model.max_completion_tokens)
        .or(model.context_length)
        .ok_or(Unpriced::NoOutputBound)?;
    Ok(price * output as f64)
}

/// The most one image call (generate or edit) to `model` can cost, in USD.
pub fn image_worst_case(
    model: &CatalogModel,
    input_tokens: u64,
    input_images: usize,
) -> Result<f64, Unpriced> {
    let prompt = model.price("prompt").ok_or(Unpriced::NoPrices)?;
    let completion = model.price("completion").ok_or(Unpriced::NoPrices)?;
    let per_input = model.price("image").unwrap_or(0.0);
    let per_output = model.price("image_output").unwrap_or(per_input);
    Ok(model.price("request").unwrap_or(0.0)
        + prompt * input_tokens as f64
        + per_input * input_images as f64
        + per_output
        + output_cost(model, None, completion)?)
}

/// The most a video job of `duration` seconds with `model` can cost, in USD, from the
/// `data` of `GET /videos/models`.
pub fn video_worst_case(
    videos_models: &Value,
    model: &str,
    duration: u32,
) -> Result<f64, Unpriced> {
    let entry = videos_models
        .get("data")
        .and_then(Value::as_array)
        .and_then(|all| {
            all.iter().find(|m| {
                m.get("id").and_then(Value::as_str) == Some(model)
                    || m.get("canonical_slug").and_then(Value::as_str) == Some(model)
            })
        })
        .ok_or(Unpriced::NotInCatalog)?;
    let most = entry
        .get("pricing_skus")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|skus| skus.values())
        .filter_map(|v| match v {
            Value::String(s) => s.trim().parse::<f64>().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        })
        .filter(|p| p.is_finite() && *p >= 0.0)
        .fold(None, |most: Option<f64>, p| {
            Some(most.map_or(p, |m| m.max(p)))
        })
        .ok_or(Unpriced::NoVideoPrices)?;
    Ok(most * f64::from(duration.max(1)))
}

/// The most one call to `model` can cost, in USD.
pub fn worst_case(
    model: &CatalogModel,
    input_tokens: u64,
    max_tokens: Option<u64>,
) -> Result<f64, Unpriced> {
    let prompt = model.price("prompt").ok_or(Unpriced::NoPrices)?;
    let completion = model.price("completion").ok_or(Unpriced::NoPrices)?;
    let request = model.price("request").unwrap_or(0.0);
    Ok(request + prompt * input_tokens as f64 + output_cost(model, max_tokens, completion)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(pricing: serde_json::Value, max: Option<u64>) -> CatalogModel {
        CatalogModel::new("a/b", pricing, Some(1000), max)
    }

    #[test]
    fn prices_input_plus_the_output_bound() {
        let m = model(
            json!({"prompt": "0.000001", "completion": "0.00001"}),
            Some(500),
        );
        let w = worst_case(&m, 100, Some(1000)).unwrap();
        assert!((w - (0.0001 + 0.01)).abs() < 1e-12, "{w}");
        let w = worst_case(&m, 0, None).unwrap();
        assert!((w - 0.005).abs() < 1e-12, "{w}");
        assert_eq!(
            worst_case(&model(json!({}), None), 1, Some(1)),
            Err(Unpriced::NoPrices)
        );
        assert_eq!(input_tokens(7), 3);
    }

    #[test]
    fn image_calls_add_input_images_and_one_output_image() {
        // Flux-like: free tokens, $0.03 an image.
        let flux = model(
            json!({"prompt": "0", "completion": "0", "image": "0.03"}),
            None,
        );
        let w = image_worst_case(&flux, 10, 2).unwrap();
        assert!((w - 0.09).abs() < 1e-12, "{w}");
        // Token-priced output is bounded by the catalog's max_completion_tokens.
        let gemini = model(
            json!({"prompt": "0.0000003", "completion": "0.0000025", "image": "0", "image_output": "0.039"}),
            Some(1000),
        );
        let w = image_worst_case(&gemini, 100, 0).unwrap();
        assert!((w - (0.00003 + 0.0025 + 0.039)).abs() < 1e-12, "{w}");
        assert_eq!(
            image_worst_case(&model(json!({"image": "0.03"}), None), 1, 0),
            Err(Unpriced::NoPrices)
        );
    }

    #[test]
    fn video_jobs_cost_their_dearest_sku_per_second() {
        let models = json!({"data": [
            {"id": "google/veo-3.1-fast", "pricing_skus": {"generate": "0.15", "generate_audio": "0.2"}},
            {"id": "x/unpriced", "pricing_skus": null}
        ]});
        let w = video_worst_case(&models, "google/veo-3.1-fast", 8).unwrap();
        assert!((w - 1.6).abs() < 1e-12, "{w}");
        assert_eq!(
            video_worst_case(&models, "x/unpriced", 8),
            Err(Unpriced::NoVideoPrices)
        );
        assert_eq!(
            video_worst_case(&models, "x/missing", 8),
            Err(Unpriced::NotInCatalog)
        );
        assert!(Unpriced::Unbounded("speech")
            .explain("openai/tts")
            .contains("key without a budget"));
    }
}
