//! Image generation and editing through chat completions (spec §9): validation of the
//! options against OpenRouter's values, the non-streaming request with `modalities` and
//! `image_config` (edit inputs as `image_url` parts), and extraction of the results from
//! `choices[].message.images[].image_url.url`. Pure; transport is in the client.

use ferry_config::ProviderRouting;
use serde_json::{json, Map, Value};
use url::Url;

use super::data_url::parse_data_url;
use super::error::MediaError;
use crate::types::{ChatOutcome, ChatRequest};

/// `image_config.aspect_ratio` values OpenRouter accepts.
pub const IMAGE_ASPECT_RATIOS: &[&str] = &[
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
];
/// `image_config.image_size` values OpenRouter accepts.
pub const IMAGE_SIZES: &[&str] = &["1K", "2K", "4K"];
/// Most input images one edit may carry.
pub const MAX_EDIT_IMAGES: usize = 5;
/// Most images one generate call may ask for (`n`, made by repeated calls).
pub const MAX_IMAGES_PER_CALL: u32 = 4;
/// Longest prompt accepted (characters).
pub const MAX_PROMPT_CHARS: usize = 32_000;

/// One image generation or edit.
#[derive(Debug, Clone, Default)]
pub struct ImageRequest {
    /// Wire model id.
    pub model: String,
    pub prompt: String,
    /// One of [`IMAGE_ASPECT_RATIOS`].
    pub aspect_ratio: Option<String>,
    /// One of [`IMAGE_SIZES`].
    pub image_size: Option<String>,
    /// Images to edit, as `data:` (or http(s)) URLs; at most [`MAX_EDIT_IMAGES`].
    pub inputs: Vec<String>,
    /// The model outputs images only (catalog `output_modalities == ["image"]`): it gets
    /// `modalities: ["image"]`, everything else `["image", "text"]`.
    pub image_only: bool,
    /// Provider routing of the route and model.
    pub provider: ProviderRouting,
}

/// Checks `value` against `valid` (case-insensitive) and returns the canonical spelling.
pub fn canonical_choice(
    value: &str,
    valid: &[&'static str],
    code: &'static str,
    what: &str,
) -> Result<&'static str, MediaError> {
    let v = value.trim();
    valid
        .iter()
        .find(|c| c.eq_ignore_ascii_case(v))
        .copied()
        .ok_or_else(|| {
            MediaError::invalid(
                code,
                format!("unknown {what} {v:?}; valid values: {}", valid.join(", ")),
            )
        })
}

/// Checks that a prompt is present and not too long.
pub fn check_prompt(prompt: &str) -> Result<(), MediaError> {
    if prompt.trim().is_empty() {
        return Err(MediaError::invalid(
            "empty_prompt",
            "the prompt is empty: describe what to generate",
        ));
    }
    if prompt.chars().count() > MAX_PROMPT_CHARS {
        return Err(MediaError::invalid(
            "prompt_too_long",
            format!("the prompt is longer than {MAX_PROMPT_CHARS} characters; shorten it"),
        ));
    }
    Ok(())
}

impl ImageRequest {
    /// Validates and canonicalises the options (aspect ratio and size spelled as
    /// OpenRouter expects).
    pub fn validate(&mut self) -> Result<(), MediaError> {
        check_prompt(&self.prompt)?;
        if let Some(ar) = &self.aspect_ratio {
            self.aspect_ratio = Some(
                canonical_choice(
                    ar,
                    IMAGE_ASPECT_RATIOS,
                    "invalid_aspect_ratio",
                    "aspect ratio",
                )?
                .to_owned(),
            );
        }
        if let Some(size) = &self.image_size {
            self.image_size = Some(
                canonical_choice(size, IMAGE_SIZES, "invalid_image_size", "image size")?.to_owned(),
            );
        }
        if self.inputs.len() > MAX_EDIT_IMAGES {
            return Err(MediaError::invalid(
                "too_many_images",
                format!(
                    "an edit takes at most {MAX_EDIT_IMAGES} input images; {} were given",
                    self.inputs.len()
                ),
            ));
        }
        Ok(())
    }

    /// The `modalities` value for this model.
    pub fn modalities(&self) -> Value {
        if self.image_only {
            json!(["image"])
        } else {
            json!(["image", "text"])
        }
    }

    /// The non-streaming chat request: one user message (prompt text, then the input
    /// images as `image_url` parts), `modalities` and `image_config`.
    pub fn to_chat(&self) -> ChatRequest {
        let content = if self.inputs.is_empty() {
            Value::String(self.prompt.clone())
        } else {
            let mut parts = Vec::with_capacity(1 + self.inputs.len());
            parts.push(json!({"type": "text", "text": self.prompt}));
            for url in &self.inputs {
                parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
            }
            Value::Array(parts)
        };
        let mut extra = Map::new();
        extra.insert("modalities".into(), self.modalities());
        let mut config = Map::new();
        if let Some(ar) = &self.aspect_ratio {
            config.insert("aspect_ratio".into(), json!(ar));
        }
        if let Some(size) = &self.image_size {
            config.insert("image_size".into(), json!(size));
        }
        if !config.is_empty() {
            extra.insert("image_config".into(), Value::Object(config));
        }
        ChatRequest {
            model: self.model.clone(),
            messages: vec![json!({"role": "user", "content": content})].into(),
            stream: false,
            provider: self.provider.clone(),
            extra,
            ..ChatRequest::default()
        }
    }
}

/// One image of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Decoded from a `data:` URL.
    Inline { media_type: String, bytes: Vec<u8> },
    /// An http(s) URL still to be downloaded.
    Remote(Url),
}

/// The images of an image reply, in order. No image at all is [`MediaError::NoImages`]
/// quoting what the model said instead.
pub fn extract_images(outcome: &ChatOutcome, model: &str) -> Result<Vec<ImageSource>, MediaError> {
    let images = outcome
        .message
        .get("images")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::with_capacity(images.len());
    for (i, image) in images.iter().enumerate() {
        let url = image
            .get("image_url")
            .and_then(|u| u.get("url").or(Some(u)))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                MediaError::Malformed(format!(
                    "image {i} of the reply from {model} has no image_url.url"
                ))
            })?;
        if url.len() >= 5 && url[..5].eq_ignore_ascii_case("data:") {
            let decoded = parse_data_url(url).map_err(|e| {
                MediaError::Malformed(format!("image {i} of the reply from {model}: {e}"))
            })?;
            if decoded.bytes.is_empty() {
                return Err(MediaError::Malformed(format!(
                    "image {i} of the reply from {model} is empty"
                )));
            }
            out.push(ImageSource::Inline {
                media_type: decoded.media_type,
                bytes: decoded.bytes,
            });
        } else {
            let parsed = Url::parse(url).map_err(|_| {
                MediaError::Malformed(format!(
                    "image {i} of the reply from {model} has an invalid URL"
                ))
            })?;
            out.push(ImageSource::Remote(parsed));
        }
    }
    if out.is_empty() {
        return Err(MediaError::NoImages {
            model: model.to_owned(),
            text: outcome.content.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ImageRequest {
        ImageRequest {
            model: "google/gemini-3.1-flash-image-preview".into(),
            prompt: "a fox at dusk".into(),
            ..ImageRequest::default()
        }
    }

    #[test]
    fn options_are_validated_and_canonicalised() {
        let mut r = request();
        r.aspect_ratio = Some("16:9".into());
        r.image_size = Some("2k".into());
        r.validate().unwrap();
        assert_eq!(r.image_size.as_deref(), Some("2K"));

        let mut bad = request();
        bad.aspect_ratio = Some("7:3".into());
        let e = bad.validate().unwrap_err();
        assert_eq!(e.code(), "invalid_aspect_ratio");
        assert!(e.to_string().contains("21:9"), "{e}");

        let mut bad = request();
        bad.image_size = Some("8K".into());
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_image_size");

        let mut bad = request();
        bad.prompt = "  ".into();
        assert_eq!(bad.validate().unwrap_err().code(), "empty_prompt");

        let mut bad = request();
        bad.inputs = vec!["data:image/png;base64,AA==".into(); 6];
        assert_eq!(bad.validate().unwrap_err().code(), "too_many_images");
    }

    #[test]
    fn chat_request_for_generation_and_edit() {
        let mut r = request();
        r.aspect_ratio = Some("16:9".into());
        r.image_size = Some("2K".into());
        let chat = r.to_chat();
        assert!(!chat.stream);
        assert_eq!(
            chat.messages.to_vec().unwrap(),
            vec![json!({"role": "user", "content": "a fox at dusk"})]
        );
        assert_eq!(chat.extra["modalities"], json!(["image", "text"]));
        assert_eq!(
            chat.extra["image_config"],
            json!({"aspect_ratio": "16:9", "image_size": "2K"})
        );

        let mut edit = request();
        edit.image_only = true;
        edit.inputs = vec!["data:image/png;base64,AA==".into()];
        let chat = edit.to_chat();
        assert_eq!(chat.extra["modalities"], json!(["image"]));
        assert!(chat.extra.get("image_config").is_none());
        assert_eq!(
            chat.messages.to_vec().unwrap()[0]["content"],
            json!([{"type": "text", "text": "a fox at dusk"},
                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}])
        );
    }

    fn outcome(message: Value, content: &str) -> ChatOutcome {
        ChatOutcome {
            message,
            content: content.into(),
            ..ChatOutcome::default()
        }
    }

    #[test]
    fn images_are_extracted_inline_and_remote() {
        let o = outcome(
            json!({"role": "assistant", "images": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
                {"type": "image_url", "image_url": {"url": "https://cdn.example.com/x.png"}}
            ]}),
            "",
        );
        let images = extract_images(&o, "m").unwrap();
        assert_eq!(
            images[0],
            ImageSource::Inline {
                media_type: "image/png".into(),
                bytes: vec![0x89, b'P', b'N', b'G']
            }
        );
        assert_eq!(
            images[1],
            ImageSource::Remote(Url::parse("https://cdn.example.com/x.png").unwrap())
        );
    }

    #[test]
    fn no_images_quotes_the_model() {
        let o = outcome(
            json!({"role": "assistant", "content": "I can only describe it."}),
            "I can only describe it.",
        );
        let e = extract_images(&o, "openai/gpt-5.4-mini").unwrap_err();
        assert!(e.to_string().contains("I can only describe it."), "{e}");
        assert_eq!(e.code(), "no_image_returned");
    }

    #[test]
    fn malformed_images_are_protocol_errors() {
        for images in [
            json!([{"type": "image_url"}]),
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,***"}}]),
            json!([{"type": "image_url", "image_url": {"url": "not a url"}}]),
        ] {
            let o = outcome(json!({"role": "assistant", "images": images}), "");
            assert_eq!(
                extract_images(&o, "m").unwrap_err().code(),
                "upstream_protocol_error"
            );
        }
    }
}
