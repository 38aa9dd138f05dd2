//! Deciding an upload's type from its bytes (spec §10). Binary formats are recognised by
//! their magic bytes with the `infer` crate; text has no magic, so it is decided from the
//! content being UTF-8 plus the declared type or the file extension. The rules, in order:
//!
//! 1. Empty content is refused.
//! 2. A declared type (`Content-Type`; `application/octet-stream` counts as none) must be
//!    on the allow-list.
//! 3. Bytes with a recognised binary signature have that type. A declared type must agree
//!    with it — the same type, or the audio/video reading of the same container (MP4 ↔
//!    M4A, WebM video ↔ WebM audio), which then wins. Without a declaration, a file
//!    extension may pick between those readings (`.m4a`, `.weba`). A recognised type that
//!    is not on the allow-list (TIFF, ZIP…) is refused, naming it.
//! 4. Raw PCM has no signature: it is accepted only when declared `audio/pcm` (alias
//!    `audio/L16`) and has an even number of bytes (16-bit samples).
//! 5. Otherwise the content must be UTF-8 text without NUL bytes. A declared text type is
//!    kept (`application/json` must also parse as JSON). Without one, the extension
//!    decides (`.md`/`.markdown`, `.csv`, `.json` when it parses, `.txt`), else content
//!    that parses as a JSON object or array is `application/json`, else `text/plain`.
//! 6. Anything else is "unrecognised": the error lists the accepted types.

use std::sync::OnceLock;

use crate::media_type::MediaType;

/// Why the bytes were refused (all map to 415, except [`SniffError::Empty`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SniffError {
    /// No bytes at all.
    #[error("the upload is empty: send the file's bytes as the request body")]
    Empty,
    /// The declared or detected type is not accepted.
    #[error(
        "{what} is not an accepted type; accepted: {}",
        MediaType::accepted_list()
    )]
    NotAccepted {
        /// What was refused, e.g. `declared type image/tiff` or `the bytes are image/tiff`.
        what: String,
    },
    /// The declared type contradicts the bytes.
    #[error(
        "the declared type {declared} contradicts the content: the bytes are {found} — send the matching Content-Type, or none to let ferry detect it"
    )]
    Mismatch {
        /// The declared type as given.
        declared: String,
        /// What the bytes are.
        found: String,
    },
    /// No accepted type matches the bytes.
    #[error(
        "cannot recognise the content: it is neither a known binary format nor UTF-8 text; accepted: {} (raw PCM must be declared as audio/pcm)",
        MediaType::accepted_list()
    )]
    Unrecognised,
}

/// Decides the media type of `bytes` given the client's declared type and file name.
pub fn sniff(
    bytes: &[u8],
    declared: Option<&str>,
    file_name: Option<&str>,
) -> Result<MediaType, SniffError> {
    if bytes.is_empty() {
        return Err(SniffError::Empty);
    }
    let declared_raw = declared
        .map(str::trim)
        .filter(|d| !d.is_empty() && !is_octet_stream(d));
    let declared = match declared_raw {
        Some(raw) => Some(
            MediaType::parse(raw).ok_or_else(|| SniffError::NotAccepted {
                what: format!("the declared type {}", essence(raw)),
            })?,
        ),
        None => None,
    };
    let hint = file_name.and_then(extension_hint);
    match detect_binary(bytes) {
        Some(Binary::Accepted(found)) => match declared {
            Some(d) if d == found || same_container(found, d) => Ok(d),
            Some(d) => Err(SniffError::Mismatch {
                declared: d.as_str().to_owned(),
                found: found.as_str().to_owned(),
            }),
            None => Ok(hint.filter(|h| same_container(found, *h)).unwrap_or(found)),
        },
        Some(Binary::Refused(mime)) => Err(match declared {
            Some(d) => SniffError::Mismatch {
                declared: d.as_str().to_owned(),
                found: mime.to_owned(),
            },
            None => SniffError::NotAccepted {
                what: format!("the content ({mime})"),
            },
        }),
        None => undetected(bytes, declared, hint),
    }
}

/// Bytes with no binary signature: raw PCM when declared, else text.
fn undetected(
    bytes: &[u8],
    declared: Option<MediaType>,
    hint: Option<MediaType>,
) -> Result<MediaType, SniffError> {
    if declared == Some(MediaType::AudioPcm) {
        return if bytes.len().is_multiple_of(2) {
            Ok(MediaType::AudioPcm)
        } else {
            Err(SniffError::Mismatch {
                declared: MediaType::AudioPcm.as_str().to_owned(),
                found: "an odd number of bytes, not 16-bit PCM samples".to_owned(),
            })
        };
    }
    let Some(text) = as_text(bytes) else {
        return match declared {
            Some(d) if d.is_text() => Err(SniffError::Mismatch {
                declared: d.as_str().to_owned(),
                found: "not valid UTF-8 text".to_owned(),
            }),
            Some(d) => Err(SniffError::Mismatch {
                declared: d.as_str().to_owned(),
                found: "unrecognised binary data".to_owned(),
            }),
            None => Err(SniffError::Unrecognised),
        };
    };
    match declared {
        Some(MediaType::ApplicationJson) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => Ok(MediaType::ApplicationJson),
            Err(e) => Err(SniffError::Mismatch {
                declared: MediaType::ApplicationJson.as_str().to_owned(),
                found: format!("text that is not valid JSON ({e})"),
            }),
        },
        Some(d) if d.is_text() => Ok(d),
        Some(d) => Err(SniffError::Mismatch {
            declared: d.as_str().to_owned(),
            found: "UTF-8 text".to_owned(),
        }),
        None => Ok(text_type(text, hint)),
    }
}

/// The text type of undeclared UTF-8 content.
fn text_type(text: &str, hint: Option<MediaType>) -> MediaType {
    let parses_as_json = || serde_json::from_str::<serde_json::Value>(text).is_ok();
    match hint {
        Some(MediaType::ApplicationJson) if parses_as_json() => MediaType::ApplicationJson,
        Some(MediaType::ApplicationJson) => MediaType::TextPlain,
        Some(h) if h.is_text() => h,
        _ => {
            let structured = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
            if structured && parses_as_json() {
                MediaType::ApplicationJson
            } else {
                MediaType::TextPlain
            }
        }
    }
}

/// The content as text: valid UTF-8 (a BOM is allowed) with no NUL byte.
fn as_text(bytes: &[u8]) -> Option<&str> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.contains(&0) {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// Two readings of one container format.
fn same_container(a: MediaType, b: MediaType) -> bool {
    use MediaType::*;
    matches!(
        (a, b),
        (VideoMp4, AudioMp4)
            | (AudioMp4, VideoMp4)
            | (VideoWebm, AudioWebm)
            | (AudioWebm, VideoWebm)
    )
}

fn is_octet_stream(declared: &str) -> bool {
    matches!(
        essence(declared).to_ascii_lowercase().as_str(),
        "application/octet-stream" | "binary/octet-stream"
    )
}

fn essence(declared: &str) -> &str {
    declared.split(';').next().unwrap_or("").trim()
}

/// The type a file extension suggests (only ever used to choose among readings the
/// bytes allow, never against them).
pub fn extension_hint(file_name: &str) -> Option<MediaType> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => MediaType::ImagePng,
        "jpg" | "jpeg" => MediaType::ImageJpeg,
        "webp" => MediaType::ImageWebp,
        "gif" => MediaType::ImageGif,
        "wav" => MediaType::AudioWav,
        "weba" => MediaType::AudioWebm,
        "mp3" => MediaType::AudioMpeg,
        "m4a" | "mp4a" => MediaType::AudioMp4,
        "ogg" | "oga" | "opus" => MediaType::AudioOgg,
        "flac" => MediaType::AudioFlac,
        "aac" => MediaType::AudioAac,
        "pcm" | "l16" => MediaType::AudioPcm,
        "mp4" | "m4v" => MediaType::VideoMp4,
        "webm" => MediaType::VideoWebm,
        "pdf" => MediaType::ApplicationPdf,
        "txt" | "text" | "log" => MediaType::TextPlain,
        "md" | "markdown" => MediaType::TextMarkdown,
        "csv" => MediaType::TextCsv,
        "json" => MediaType::ApplicationJson,
        _ => return None,
    })
}

enum Binary {
    Accepted(MediaType),
    Refused(&'static str),
}

/// What the magic bytes say, if anything binary; text-like matches (HTML, XML, scripts)
/// count as no binary signature, so the text rules decide.
fn detect_binary(bytes: &[u8]) -> Option<Binary> {
    let kind = detector().get(bytes)?;
    if kind.matcher_type() == infer::MatcherType::Text {
        return None;
    }
    let mime = kind.mime_type();
    Some(match mime {
        "image/png" => Binary::Accepted(MediaType::ImagePng),
        "image/jpeg" => Binary::Accepted(MediaType::ImageJpeg),
        "image/webp" => Binary::Accepted(MediaType::ImageWebp),
        "image/gif" => Binary::Accepted(MediaType::ImageGif),
        "audio/x-wav" => Binary::Accepted(MediaType::AudioWav),
        "audio/mpeg" => Binary::Accepted(MediaType::AudioMpeg),
        "audio/m4a" => Binary::Accepted(MediaType::AudioMp4),
        "audio/ogg" | "audio/opus" => Binary::Accepted(MediaType::AudioOgg),
        "audio/x-flac" => Binary::Accepted(MediaType::AudioFlac),
        "audio/aac" => Binary::Accepted(MediaType::AudioAac),
        "video/mp4" | "video/x-m4v" => Binary::Accepted(MediaType::VideoMp4),
        "video/webm" => Binary::Accepted(MediaType::VideoWebm),
        "application/pdf" => Binary::Accepted(MediaType::ApplicationPdf),
        other => Binary::Refused(other),
    })
}

/// `infer`'s matchers plus MPEG audio frame syncs it does not know (MPEG-2/2.5 layer III
/// and CRC-protected MPEG-1), so headerless MP3 streams are recognised too.
fn detector() -> &'static infer::Infer {
    static DETECTOR: OnceLock<infer::Infer> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let mut detector = infer::Infer::new();
        detector.add("audio/mpeg", "mp3", is_mpeg_audio_frame);
        detector
    })
}

fn is_mpeg_audio_frame(buf: &[u8]) -> bool {
    buf.len() > 3 && buf[0] == 0xFF && matches!(buf[1], 0xFA | 0xF3 | 0xF2 | 0xE3 | 0xE2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata;

    #[test]
    fn binary_types_are_sniffed() {
        let cases: &[(Vec<u8>, MediaType)] = &[
            (testdata::png(), MediaType::ImagePng),
            (testdata::jpeg(), MediaType::ImageJpeg),
            (testdata::gif(), MediaType::ImageGif),
            (testdata::webp(), MediaType::ImageWebp),
            (testdata::wav(), MediaType::AudioWav),
            (testdata::mp3(), MediaType::AudioMpeg),
            (testdata::pdf(), MediaType::ApplicationPdf),
            (testdata::webm(), MediaType::VideoWebm),
            (testdata::ogg(), MediaType::AudioOgg),
            (testdata::flac(), MediaType::AudioFlac),
            (testdata::m4a(), MediaType::AudioMp4),
        ];
        for (bytes, want) in cases {
            assert_eq!(sniff(bytes, None, None), Ok(*want), "{want}");
            assert_eq!(sniff(bytes, Some(want.as_str()), None), Ok(*want), "{want}");
        }
    }

    #[test]
    fn a_contradicting_declaration_names_both_types() {
        let err = sniff(&testdata::png(), Some("audio/wav"), None).unwrap_err();
        assert_eq!(
            err,
            SniffError::Mismatch {
                declared: "audio/wav".into(),
                found: "image/png".into()
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("audio/wav") && text.contains("image/png"),
            "{text}"
        );
        let err = sniff(b"hello", Some("image/png"), None).unwrap_err();
        assert!(err.to_string().contains("UTF-8 text"), "{err}");
    }

    #[test]
    fn containers_follow_the_declaration_or_the_extension() {
        assert_eq!(
            sniff(&testdata::webm(), Some("audio/webm"), None),
            Ok(MediaType::AudioWebm)
        );
        assert_eq!(
            sniff(&testdata::webm(), None, Some("memo.weba")),
            Ok(MediaType::AudioWebm)
        );
        assert_eq!(
            sniff(&testdata::webm(), None, Some("clip.webm")),
            Ok(MediaType::VideoWebm)
        );
        // An extension never overrides the bytes.
        assert_eq!(
            sniff(&testdata::png(), None, Some("x.wav")),
            Ok(MediaType::ImagePng)
        );
    }

    #[test]
    fn text_rules() {
        assert_eq!(sniff(b"hello\n", None, None), Ok(MediaType::TextPlain));
        assert_eq!(
            sniff(b"# Title\n", None, Some("notes.md")),
            Ok(MediaType::TextMarkdown)
        );
        assert_eq!(
            sniff(b"a,b\n1,2\n", None, Some("t.csv")),
            Ok(MediaType::TextCsv)
        );
        assert_eq!(
            sniff(b" {\"a\": 1}", None, None),
            Ok(MediaType::ApplicationJson)
        );
        assert_eq!(sniff(b"{not json", None, None), Ok(MediaType::TextPlain));
        assert_eq!(
            sniff(b"{not json", None, Some("x.json")),
            Ok(MediaType::TextPlain)
        );
        assert_eq!(
            sniff(b"a,b", Some("text/csv; charset=utf-8"), None),
            Ok(MediaType::TextCsv)
        );
        let err = sniff(b"{not json", Some("application/json"), None).unwrap_err();
        assert!(matches!(err, SniffError::Mismatch { .. }), "{err}");
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        assert_eq!(
            sniff("\u{feff}héllo".as_bytes(), None, None),
            Ok(MediaType::TextPlain)
        );
        assert_eq!(
            sniff(b"<html><body>x</body></html>", Some("text/plain"), None),
            Ok(MediaType::TextPlain)
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(sniff(b"", None, None), Err(SniffError::Empty));
        assert!(matches!(
            sniff(b"x", Some("image/tiff"), None),
            Err(SniffError::NotAccepted { .. })
        ));
        let tiff = [0x49, 0x49, 0x2A, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0];
        let err = sniff(&tiff, None, None).unwrap_err();
        assert!(err.to_string().contains("image/tiff"), "{err}");
        assert_eq!(
            sniff(&[0x00, 0xFF, 0x10, 0x80], None, None),
            Err(SniffError::Unrecognised)
        );
        assert!(matches!(
            sniff(&[0x00, 0xFF, 0x10], Some("text/plain"), None),
            Err(SniffError::Mismatch { .. })
        ));
    }

    #[test]
    fn pcm_only_when_declared() {
        let pcm = [0u8, 1, 0, 2, 0xFF, 0x7F];
        assert_eq!(
            sniff(&pcm, Some("audio/L16"), None),
            Ok(MediaType::AudioPcm)
        );
        assert_eq!(sniff(&pcm, None, None), Err(SniffError::Unrecognised));
        assert!(matches!(
            sniff(&pcm[..5], Some("audio/pcm"), None),
            Err(SniffError::Mismatch { .. })
        ));
        assert!(matches!(
            sniff(&testdata::wav(), Some("audio/pcm"), None),
            Err(SniffError::Mismatch { .. })
        ));
    }

    #[test]
    fn octet_stream_is_no_declaration() {
        assert_eq!(
            sniff(&testdata::wav(), Some("application/octet-stream"), None),
            Ok(MediaType::AudioWav)
        );
    }
}
