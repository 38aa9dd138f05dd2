//! Reading a response body into memory with a hard size cap, shared by the chat transport
//! and the media downloads. A declared `Content-Length` over the cap fails before any byte
//! is read.

use reqwest::Response;

/// What to do when the body is larger than the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Keep the first `limit` bytes (error bodies: they only add detail).
    Cut,
    /// Fail with [`BodyError::TooLarge`].
    Fail,
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// More than the cap (with [`Overflow::Fail`]).
    TooLarge,
    /// The connection failed or stalled while reading.
    Read(reqwest::Error),
}

/// Reads the whole body, at most `limit` bytes.
pub(crate) async fn collect(
    mut response: Response,
    limit: usize,
    overflow: Overflow,
) -> Result<Vec<u8>, BodyError> {
    let declared = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    if overflow == Overflow::Fail && declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        let room = limit.saturating_sub(bytes.len());
        if chunk.len() > room {
            return match overflow {
                Overflow::Cut => {
                    bytes.extend_from_slice(&chunk[..room]);
                    Ok(bytes)
                }
                Overflow::Fail => Err(BodyError::TooLarge),
            };
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
