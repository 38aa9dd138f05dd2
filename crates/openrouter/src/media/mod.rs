//! Media generation over OpenRouter (spec §9): images through chat completions, speech,
//! and asynchronous video jobs, plus the downloads they need (with an SSRF guard for
//! URLs a model produced). The request/response logic is pure and unit-tested; the calls
//! are methods on [`crate::OpenRouterClient`] in `transport`.

mod data_url;
mod error;
mod fetch;
mod guard;
mod image;
mod speech;
mod transport;
mod video;
mod wav;

pub use data_url::{parse_data_url, to_data_url, DataUrl, DataUrlError};
pub use error::MediaError;
pub use fetch::{display_url, fetch_public, Downloaded, FetchError, FetchLimits};
pub use guard::refusal_reason;
pub use image::{
    canonical_choice, check_prompt, extract_images, ImageRequest, ImageSource, IMAGE_ASPECT_RATIOS,
    IMAGE_SIZES, MAX_EDIT_IMAGES, MAX_IMAGES_PER_CALL, MAX_PROMPT_CHARS,
};
pub use speech::{check_voice, finish_speech, Speech, SpeechRequest, MAX_SPEECH_CHARS};
pub use video::{
    content_url, parse_job, poll_url, snap_duration, supported_durations, PollBackoff,
    VideoJobState, VideoRequest, VideoStatus, DEFAULT_VIDEO_DURATIONS, MAX_VIDEO_REFERENCES,
    VIDEO_ASPECT_RATIOS, VIDEO_RESOLUTIONS,
};
pub use wav::{pcm16_to_wav, DEFAULT_PCM_SAMPLE_RATE, WAV_HEADER_LEN};
