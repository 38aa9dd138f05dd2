//! Generation ids (`gen-…`) and the records `GET /generation?id=` answers from.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// What the fake remembers about one generation it produced.
#[derive(Debug, Clone)]
pub(crate) struct GenerationRecord {
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) provider_name: String,
    pub(crate) total_cost: f64,
    pub(crate) tokens_prompt: u64,
    pub(crate) tokens_completion: u64,
    pub(crate) tokens_reasoning: u64,
    pub(crate) latency_ms: u64,
    pub(crate) generation_time_ms: u64,
    pub(crate) streamed: bool,
    pub(crate) finish_reason: &'static str,
    pub(crate) created: u64,
}

impl GenerationRecord {
    /// The `data` object of a `GET /generation` answer.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "model": self.model,
            "provider_name": self.provider_name,
            "total_cost": self.total_cost,
            "usage": self.total_cost,
            "tokens_prompt": self.tokens_prompt,
            "tokens_completion": self.tokens_completion,
            "native_tokens_prompt": self.tokens_prompt,
            "native_tokens_completion": self.tokens_completion,
            "native_tokens_reasoning": self.tokens_reasoning,
            "native_tokens_cached": 0,
            "latency": self.latency_ms,
            "generation_time": self.generation_time_ms,
            "streamed": self.streamed,
            "finish_reason": self.finish_reason,
            "native_finish_reason": self.finish_reason,
            "cancelled": false,
            "is_byok": false,
            "api_type": "completions",
            "created_at": rfc3339(self.created),
            "cache_discount": null,
            "upstream_inference_cost": null,
        })
    }
}

/// `secs` as an RFC 3339 timestamp, like OpenRouter's `created_at`.
fn rfc3339(secs: u64) -> Value {
    let formatted = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    formatted.map_or(Value::Null, Value::String)
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh, process-unique id shaped like OpenRouter's: `gen-<unix secs>-<20 base62>`.
pub(crate) fn new_generation_id(created: u64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<u64> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed)
            ^ u64::from(std::process::id()).rotate_left(32)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut state = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut id = String::with_capacity(36);
    id.push_str("gen-");
    id.push_str(&created.to_string());
    id.push('-');
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for _ in 0..20 {
        state = splitmix64(state);
        id.push(char::from(ALPHABET[(state % 62) as usize]));
    }
    id
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_shaped_like_openrouter_and_unique() {
        let now = unix_now();
        let ids: HashSet<String> = (0..1000).map(|_| new_generation_id(now)).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(5) {
            let rest = id.strip_prefix("gen-").expect("gen- prefix");
            let (secs, tail) = rest.split_once('-').expect("two parts");
            assert_eq!(secs, now.to_string());
            assert_eq!(tail.len(), 20);
            assert!(tail.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }
}
