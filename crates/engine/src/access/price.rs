//! The worst-case cost of one model call, for budget reservations: the catalog's prices ×
//! (an input estimate + the most output the call may produce). The input estimate is one
//! token per 3 bytes of the request (conservative: JSON overhead counts, English runs about
//! 4 bytes a token, CJK about 3); the output bound is the request's `max_tokens`, else the
//! model's `max_completion_tokens`, else its context length. A model the catalog cannot
//! price is refused under a budget rather than admitted unboundedly.

use ferry_openrouter::CatalogModel;

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
}

impl Unpriced {
    /// What to do about it.
    pub fn explain(&self, model: &str) -> String {
        match self {
            Unpriced::NotInCatalog => format!("model {model} is not in the route's model catalog, so ferry cannot bound its cost against this key's budget; use a listed model (ferry models list) or a key without a budget"),
            Unpriced::NoPrices => format!("the model catalog has no prompt/completion prices for {model}, so ferry cannot bound its cost against this key's budget; use a priced model or a key without a budget"),
            Unpriced::NoOutputBound => format!("the catalog gives no output limit for {model}; send max_tokens so ferry can bound the call's cost against this key's budget"),
        }
    }
}

/// The most one call to `model` can cost, in USD.
pub fn worst_case(
    model: &CatalogModel,
    input_tokens: u64,
    max_tokens: Option<u64>,
) -> Result<f64, Unpriced> {
    let prompt = model.price("prompt").ok_or(Unpriced::NoPrices)?;
    let completion = model.price("completion").ok_or(Unpriced::NoPrices)?;
    // Reasoning tokens are output tokens; some models price them apart.
    let output_price = completion.max(model.price("internal_reasoning").unwrap_or(0.0));
    let request = model.price("request").unwrap_or(0.0);
    let output = max_tokens
        .or(model.max_completion_tokens)
        .or(model.context_length)
        .ok_or(Unpriced::NoOutputBound)?;
    Ok(request + prompt * input_tokens as f64 + output_price * output as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(pricing: serde_json::Value, max: Option<u64>) -> CatalogModel {
        CatalogModel {
            id: "a/b".into(),
            name: "B".into(),
            context_length: Some(1000),
            input_modalities: vec![],
            output_modalities: vec![],
            supported_parameters: vec![],
            pricing,
            max_completion_tokens: max,
        }
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
}
