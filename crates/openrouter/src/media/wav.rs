//! PCM → WAV: wraps raw 16-bit little-endian PCM (what `POST /audio/speech` returns for
//! `response_format: "pcm"`) in a RIFF/WAVE header so the result is a playable file.

/// Sample rate assumed when the upstream does not state one (OpenRouter's TTS models
/// produce 24 kHz speech).
pub const DEFAULT_PCM_SAMPLE_RATE: u32 = 24_000;

/// Length of the canonical 44-byte header written by [`pcm16_to_wav`].
pub const WAV_HEADER_LEN: usize = 44;

/// Wraps 16-bit little-endian PCM samples in a canonical WAV file. A trailing odd byte
/// (half a sample) is dropped.
pub fn pcm16_to_wav(pcm: &[u8], sample_rate: u32, channels: u16) -> Vec<u8> {
    let data = &pcm[..pcm.len() & !1];
    let data_len = u32::try_from(data.len()).unwrap_or(!1);
    let block_align = channels.saturating_mul(2);
    let byte_rate = sample_rate.saturating_mul(u32::from(block_align));
    let mut out = Vec::with_capacity(WAV_HEADER_LEN + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&byte_rate.to_le_bytes());
    out.extend_from_slice(&block_align.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The sample rate stated in a `Content-Type` such as `audio/pcm;rate=16000` or
/// `audio/L16; rate=22050; channels=1`, if any.
pub fn pcm_rate_from_content_type(content_type: &str) -> Option<u32> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("rate") || name.eq_ignore_ascii_case("sample_rate"))
            .then(|| value.trim().trim_matches('"').parse::<u32>().ok())
            .flatten()
            .filter(|r| (1_000..=384_000).contains(r))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn header_fields_are_canonical() {
        let pcm: Vec<u8> = (0..200u8).collect();
        let wav = pcm16_to_wav(&pcm, 24_000, 1);
        assert_eq!(wav.len(), WAV_HEADER_LEN + 200);
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(u32_at(&wav, 4), 36 + 200);
        assert_eq!(&wav[8..12], b"WAVE");
        assert_eq!(&wav[12..16], b"fmt ");
        assert_eq!(u32_at(&wav, 16), 16);
        assert_eq!(u16_at(&wav, 20), 1, "PCM");
        assert_eq!(u16_at(&wav, 22), 1, "mono");
        assert_eq!(u32_at(&wav, 24), 24_000);
        assert_eq!(u32_at(&wav, 28), 48_000, "byte rate");
        assert_eq!(u16_at(&wav, 32), 2, "block align");
        assert_eq!(u16_at(&wav, 34), 16, "bits per sample");
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(u32_at(&wav, 40), 200);
        assert_eq!(&wav[44..], &pcm[..]);
    }

    #[test]
    fn odd_trailing_byte_is_dropped() {
        let wav = pcm16_to_wav(&[1, 2, 3], 8_000, 1);
        assert_eq!(u32_at(&wav, 40), 2);
        assert_eq!(&wav[44..], &[1, 2]);
    }

    #[test]
    fn rate_from_content_type() {
        assert_eq!(
            pcm_rate_from_content_type("audio/pcm;rate=16000"),
            Some(16_000)
        );
        assert_eq!(
            pcm_rate_from_content_type("audio/L16; channels=1; rate=22050"),
            Some(22_050)
        );
        assert_eq!(pcm_rate_from_content_type("audio/pcm"), None);
        assert_eq!(pcm_rate_from_content_type("audio/pcm;rate=abc"), None);
        assert_eq!(pcm_rate_from_content_type("audio/pcm;rate=5"), None);
    }
}
