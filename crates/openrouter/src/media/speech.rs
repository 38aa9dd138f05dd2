//! Text-to-speech (`POST /audio/speech`, spec §9): request validation and body, and the
//! turn of the raw bytes into a playable file — MP3 kept as `audio/mpeg`, 16-bit PCM
//! wrapped as WAV.

use ferry_config::TtsFormat;
use serde_json::{json, Map, Value};

use super::error::MediaError;
use super::wav::{pcm16_to_wav, pcm_rate_from_content_type, DEFAULT_PCM_SAMPLE_RATE};

/// Longest text synthesised in one call (characters).
pub const MAX_SPEECH_CHARS: usize = 4_096;
/// Longest voice name.
pub const MAX_VOICE_CHARS: usize = 64;
/// Accepted `speed` range.
pub const SPEED_RANGE: (f64, f64) = (0.25, 4.0);

/// One speech synthesis.
#[derive(Debug, Clone)]
pub struct SpeechRequest {
    /// Wire model id.
    pub model: String,
    /// The text to speak.
    pub input: String,
    /// Provider-specific voice id, e.g. `af_alloy`.
    pub voice: String,
    pub format: TtsFormat,
    /// Playback speed multiplier.
    pub speed: Option<f64>,
}

/// Checks a voice name: 1–64 characters of letters, digits, `_`, `-`, `.`.
pub fn check_voice(voice: &str) -> Result<(), MediaError> {
    let ok = !voice.is_empty()
        && voice.chars().count() <= MAX_VOICE_CHARS
        && voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(MediaError::invalid(
            "invalid_voice",
            format!("a voice is 1-{MAX_VOICE_CHARS} letters, digits, '_', '-' or '.' (e.g. af_alloy); see the TTS model's page on openrouter.ai for its voices"),
        ))
    }
}

impl SpeechRequest {
    /// Validates text, voice and speed.
    pub fn validate(&self) -> Result<(), MediaError> {
        if self.input.trim().is_empty() {
            return Err(MediaError::invalid(
                "empty_text",
                "there is no text to speak",
            ));
        }
        let chars = self.input.chars().count();
        if chars > MAX_SPEECH_CHARS {
            return Err(MediaError::invalid(
                "text_too_long",
                format!("the text has {chars} characters; one speech call takes at most {MAX_SPEECH_CHARS}"),
            ));
        }
        check_voice(&self.voice)?;
        if let Some(speed) = self.speed {
            if !(speed.is_finite() && (SPEED_RANGE.0..=SPEED_RANGE.1).contains(&speed)) {
                return Err(MediaError::invalid(
                    "invalid_speed",
                    format!(
                        "speed must be between {} and {}",
                        SPEED_RANGE.0, SPEED_RANGE.1
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The JSON body of `POST /audio/speech`.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("input".into(), json!(self.input));
        body.insert("voice".into(), json!(self.voice));
        body.insert("response_format".into(), json!(self.format.as_str()));
        if let Some(speed) = self.speed {
            body.insert("speed".into(), json!(speed));
        }
        Value::Object(body)
    }
}

/// Synthesised audio ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    /// `audio/mpeg` or `audio/wav`.
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Turns the bytes of a successful speech response into a playable file. The response's
/// `Content-Type` wins over the requested format when it names one.
pub fn finish_speech(
    requested: TtsFormat,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> Result<Speech, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Malformed(
            "the speech response has no audio bytes".into(),
        ));
    }
    let essence = content_type
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let pcm = |bytes: &[u8]| {
        let rate = content_type
            .and_then(pcm_rate_from_content_type)
            .unwrap_or(DEFAULT_PCM_SAMPLE_RATE);
        Speech {
            media_type: "audio/wav",
            bytes: pcm16_to_wav(bytes, rate, 1),
        }
    };
    match essence.as_str() {
        "audio/mpeg" | "audio/mp3" => Ok(Speech {
            media_type: "audio/mpeg",
            bytes,
        }),
        "audio/wav" | "audio/wave" | "audio/x-wav" => Ok(Speech {
            media_type: "audio/wav",
            bytes,
        }),
        "audio/pcm" | "audio/l16" => Ok(pcm(&bytes)),
        "application/json" | "text/plain" | "text/html" => Err(MediaError::Malformed(format!(
            "the speech response is {essence}, not audio"
        ))),
        _ => Ok(match requested {
            TtsFormat::Mp3 => Speech {
                media_type: "audio/mpeg",
                bytes,
            },
            TtsFormat::Pcm => pcm(&bytes),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> SpeechRequest {
        SpeechRequest {
            model: "hexgrad/kokoro-82m".into(),
            input: "A fox at dusk.".into(),
            voice: "af_alloy".into(),
            format: TtsFormat::Mp3,
            speed: None,
        }
    }

    #[test]
    fn body_has_the_wire_fields() {
        let mut r = req();
        r.speed = Some(1.25);
        r.format = TtsFormat::Pcm;
        assert_eq!(
            r.body(),
            json!({"model": "hexgrad/kokoro-82m", "input": "A fox at dusk.", "voice": "af_alloy",
                   "response_format": "pcm", "speed": 1.25})
        );
        assert!(req().body().get("speed").is_none());
    }

    #[test]
    fn validation() {
        req().validate().unwrap();
        let mut r = req();
        r.input = " ".into();
        assert_eq!(r.validate().unwrap_err().code(), "empty_text");
        let mut r = req();
        r.input = "x".repeat(MAX_SPEECH_CHARS + 1);
        assert_eq!(r.validate().unwrap_err().code(), "text_too_long");
        for voice in ["", "af alloy", "a/b", &"v".repeat(65)] {
            let mut r = req();
            r.voice = voice.into();
            assert_eq!(
                r.validate().unwrap_err().code(),
                "invalid_voice",
                "{voice:?}"
            );
        }
        for speed in [0.1, 5.0, f64::NAN] {
            let mut r = req();
            r.speed = Some(speed);
            assert_eq!(r.validate().unwrap_err().code(), "invalid_speed");
        }
    }

    #[test]
    fn mp3_is_kept_and_pcm_becomes_wav() {
        let mp3 = finish_speech(TtsFormat::Mp3, Some("audio/mpeg"), vec![0xff, 0xfb, 1]).unwrap();
        assert_eq!(mp3.media_type, "audio/mpeg");
        assert_eq!(mp3.bytes, vec![0xff, 0xfb, 1]);

        let wav = finish_speech(TtsFormat::Pcm, Some("audio/pcm;rate=16000"), vec![0; 8]).unwrap();
        assert_eq!(wav.media_type, "audio/wav");
        assert_eq!(&wav.bytes[..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(wav.bytes[24..28].try_into().unwrap()),
            16_000
        );

        let guessed = finish_speech(TtsFormat::Pcm, None, vec![0; 4]).unwrap();
        assert_eq!(guessed.media_type, "audio/wav");
        assert_eq!(
            u32::from_le_bytes(guessed.bytes[24..28].try_into().unwrap()),
            DEFAULT_PCM_SAMPLE_RATE
        );
    }

    #[test]
    fn empty_or_non_audio_bodies_are_errors() {
        assert!(finish_speech(TtsFormat::Mp3, Some("audio/mpeg"), Vec::new()).is_err());
        let e =
            finish_speech(TtsFormat::Mp3, Some("application/json"), b"{}".to_vec()).unwrap_err();
        assert_eq!(e.code(), "upstream_protocol_error");
    }
}
