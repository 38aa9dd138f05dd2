//! Collecting an upload body with a hard size limit: chunks are appended until the limit
//! would be exceeded, which fails at once, so an oversize body is never held in full.

use bytes::{Bytes, BytesMut};

use crate::error::AssetError;

/// Accumulates body chunks up to `limit` bytes.
#[derive(Debug)]
pub struct Collector {
    buf: BytesMut,
    limit: u64,
}

impl Collector {
    /// A collector for at most `limit` bytes; `size_hint` (e.g. Content-Length) is
    /// checked against the limit up front and used to pre-allocate.
    pub fn new(limit: u64, size_hint: Option<u64>) -> Result<Collector, AssetError> {
        if let Some(n) = size_hint {
            if n > limit {
                return Err(AssetError::TooLarge { limit });
            }
        }
        let capacity = size_hint.unwrap_or(0).min(limit).min(8 * 1024 * 1024) as usize;
        Ok(Collector {
            buf: BytesMut::with_capacity(capacity),
            limit,
        })
    }

    /// Appends a chunk, or fails if the total would exceed the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), AssetError> {
        if self.buf.len() as u64 + chunk.len() as u64 > self.limit {
            return Err(AssetError::TooLarge { limit: self.limit });
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    /// Bytes collected so far.
    pub fn len(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The collected body.
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_limit() {
        let mut c = Collector::new(5, None).unwrap();
        c.push(b"abc").unwrap();
        c.push(b"de").unwrap();
        assert!(matches!(
            c.push(b"f"),
            Err(AssetError::TooLarge { limit: 5 })
        ));
        assert_eq!(&c.finish()[..], b"abcde");
        assert!(matches!(
            Collector::new(5, Some(6)),
            Err(AssetError::TooLarge { .. })
        ));
    }
}
