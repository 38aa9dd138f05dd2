//! Effective capability flags (spec §6 `runtime get`): the driver's defaults and the
//! routes file's overrides, narrowed by what the model catalog knows — a default model
//! that takes no images cannot use multimodal input, an image model that does not output
//! images cannot generate or edit them. What the catalog does not list is left as
//! configured.

use ferry_config::{Capabilities, Route};
use ferry_openrouter::Catalog;

/// The route's capabilities after the catalog's facts, with a note per flag it turned off.
pub(crate) fn effective(route: &Route, catalog: Option<&Catalog>) -> (Capabilities, Vec<String>) {
    let mut caps = route.capabilities;
    let mut notes = Vec::new();
    let Some(catalog) = catalog else {
        return (caps, notes);
    };
    if caps.multimodal_input && catalog.accepts(&route.default_model, "image") == Some(false) {
        caps.multimodal_input = false;
        notes.push(format!(
            "multimodal_input: the default model {} takes no image input (model catalog)",
            route.default_model
        ));
    }
    let image_model = &route.media.image_model;
    if let Some(m) = catalog.model(image_model) {
        if !m.outputs("image") {
            for (flag, name) in [
                (&mut caps.image_generation, "image_generation"),
                (&mut caps.image_edit, "image_edit"),
            ] {
                if *flag {
                    *flag = false;
                    notes.push(format!(
                        "{name}: media.image_model {image_model} does not output images (model catalog)"
                    ));
                }
            }
        }
    }
    (caps, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;
    use std::time::SystemTime;

    fn route(extra: &str) -> Route {
        let text = format!(
            "version = 1\ndefault_route = \"r\"\n[routes.r]\ndriver = \"openrouter\"\ndefault_model = \"meta-llama/llama-3.3-70b-instruct\"\napi_key_env = \"K\"\n{extra}"
        );
        ferry_config::parse_routes(&text, Path::new("/tmp/r.toml"))
            .unwrap()
            .routes["r"]
            .clone()
    }

    fn catalog() -> Catalog {
        Catalog::from_models_document(
            &json!({"data": [
                {"id": "meta-llama/llama-3.3-70b-instruct", "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]}},
                {"id": "openai/gpt-5.4-mini", "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]}},
                {"id": "google/gemini-3.1-flash-image-preview", "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["image", "text"]}}
            ]}),
            SystemTime::now(),
        )
        .unwrap()
    }

    #[test]
    fn catalog_facts_narrow_the_configured_flags() {
        let r = route("[routes.r.media]\nimage_model = \"openai/gpt-5.4-mini\"\n");
        let (caps, notes) = effective(&r, Some(&catalog()));
        assert!(!caps.multimodal_input && !caps.image_generation && !caps.image_edit);
        assert!(caps.audio_generation && caps.video_generation && caps.transcription);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes[0].contains("takes no image input"));
    }

    #[test]
    fn unknown_models_and_no_catalog_keep_the_configuration() {
        let r = route("");
        let (caps, notes) = effective(&r, None);
        assert_eq!(caps, r.capabilities);
        assert!(notes.is_empty());
        let r = route("multimodal_input = false\n[routes.r.media]\nimage_model = \"x/unknown\"\n");
        let (caps, notes) = effective(&r, Some(&catalog()));
        assert!(caps.image_generation, "unknown image model: as configured");
        assert!(!caps.multimodal_input, "off in the file stays off");
        assert!(notes.is_empty());
    }
}
