//! `data:` URLs (RFC 2397) as OpenRouter uses them for media: `data:image/png;base64,…`.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

/// Standard alphabet, padding optional on decode, written on encode.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A decoded `data:` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl {
    /// The declared media type (lower-case essence, parameters dropped), e.g. `image/png`;
    /// `text/plain` when the URL declares none.
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// Why a `data:` URL could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataUrlError {
    #[error("not a data: URL")]
    NotDataUrl,
    #[error("the data: URL has no ',' separating the header from the data")]
    NoComma,
    #[error("the data: URL is not base64-encoded")]
    NotBase64Encoded,
    #[error("the data: URL's base64 payload is invalid")]
    BadBase64,
}

/// Decodes a base64 `data:` URL. Whitespace inside the payload is ignored.
pub fn parse_data_url(url: &str) -> Result<DataUrl, DataUrlError> {
    let rest = url
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .map(|_| &url[5..])
        .ok_or(DataUrlError::NotDataUrl)?;
    let (header, payload) = rest.split_once(',').ok_or(DataUrlError::NoComma)?;
    let mut params = header.split(';');
    let essence = params.next().unwrap_or("").trim().to_ascii_lowercase();
    if !params.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err(DataUrlError::NotBase64Encoded);
    }
    let compact: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = BASE64
        .decode(compact.as_bytes())
        .map_err(|_| DataUrlError::BadBase64)?;
    Ok(DataUrl {
        media_type: if essence.is_empty() {
            "text/plain".into()
        } else {
            essence
        },
        bytes,
    })
}

/// `data:{media_type};base64,{bytes}`.
pub fn to_data_url(media_type: &str, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(media_type.len() + 13 + bytes.len().div_ceil(3) * 4);
    out.push_str("data:");
    out.push_str(media_type);
    out.push_str(";base64,");
    BASE64.encode_string(bytes, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let url = to_data_url("image/png", &[0x89, b'P', b'N', b'G', 0, 255]);
        assert_eq!(url, "data:image/png;base64,iVBORwD/");
        let d = parse_data_url(&url).unwrap();
        assert_eq!(d.media_type, "image/png");
        assert_eq!(d.bytes, vec![0x89, b'P', b'N', b'G', 0, 255]);
    }

    #[test]
    fn tolerant_of_params_case_padding_and_whitespace() {
        let d = parse_data_url("DATA:Image/PNG;name=x.png;BASE64,iVBO\nRw").unwrap();
        assert_eq!(d.media_type, "image/png");
        assert_eq!(d.bytes, vec![0x89, b'P', b'N', b'G']);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_data_url("https://x/y.png"),
            Err(DataUrlError::NotDataUrl)
        );
        assert_eq!(
            parse_data_url("data:image/png;base64"),
            Err(DataUrlError::NoComma)
        );
        assert_eq!(
            parse_data_url("data:text/plain,hello"),
            Err(DataUrlError::NotBase64Encoded)
        );
        assert_eq!(
            parse_data_url("data:image/png;base64,***"),
            Err(DataUrlError::BadBase64)
        );
    }
}
