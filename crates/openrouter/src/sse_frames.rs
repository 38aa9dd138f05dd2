//! Incremental SSE framing (the event-stream format of the HTML standard, as OpenRouter
//! and the protocols ferry passes through use it): splits lines across chunk boundaries
//! (LF or CRLF), skips `:` comments (OpenRouter's `: OPENROUTER PROCESSING` keep-alives)
//! and fields other than `data`, joins an event's `data:` lines with `\n`, and hands each
//! complete event's data on at its blank line. An event not ended by a blank line is never
//! handed on (the stream was cut inside it). Shared by the stream reader of the engine's
//! chat calls ([`crate::sse`]) and the pass-through tap ([`crate::passthrough`]); it
//! copies each data line once and allocates only while its buffers grow.

use std::ops::ControlFlow;

/// The framing state between chunks.
#[derive(Debug, Default)]
pub(crate) struct SseFrames {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The current event's data so far.
    data: Vec<u8>,
    /// Whether the current event had a `data` field (possibly empty).
    has_data: bool,
    /// Where in the chunk being fed the current event's first `data` line began (`None`:
    /// in an earlier chunk).
    event_start: Option<usize>,
}

impl SseFrames {
    /// A framer whose data buffer starts at `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> SseFrames {
        SseFrames {
            data: Vec::with_capacity(capacity),
            ..SseFrames::default()
        }
    }

    /// Feeds the next chunk of the stream: `on_event(data, start)` is called for each
    /// event completed in it, with the offset in `chunk` where the event's first `data`
    /// line began when that was in this chunk. `Break` stops the framing after that event
    /// and answers how many bytes of `chunk` were framed: the caller drops the rest, or
    /// feeds it later as the next chunk.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(&[u8], Option<usize>) -> ControlFlow<()>,
    ) -> ControlFlow<usize> {
        self.event_start = None;
        let mut rest = chunk;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            let start = chunk.len() - rest.len();
            let (line, after) = (&rest[..pos], &rest[pos + 1..]);
            rest = after;
            let flow = if self.partial.is_empty() {
                self.line(line, Some(start), &mut on_event)
            } else {
                let mut joined = std::mem::take(&mut self.partial);
                joined.extend_from_slice(line);
                let flow = self.line(&joined, None, &mut on_event);
                joined.clear();
                self.partial = joined;
                flow
            };
            if flow.is_break() {
                return ControlFlow::Break(chunk.len() - rest.len());
            }
        }
        self.partial.extend_from_slice(rest);
        ControlFlow::Continue(())
    }

    fn line(
        &mut self,
        line: &[u8],
        start: Option<usize>,
        on_event: &mut impl FnMut(&[u8], Option<usize>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if line[0] == b':' {
            return ControlFlow::Continue(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field == b"data" {
            if self.has_data {
                self.data.push(b'\n');
            } else {
                self.event_start = start;
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
        }
        ControlFlow::Continue(())
    }

    fn dispatch(
        &mut self,
        on_event: &mut impl FnMut(&[u8], Option<usize>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if !self.has_data {
            return ControlFlow::Continue(());
        }
        let flow = on_event(&self.data, self.event_start);
        self.data.clear();
        self.has_data = false;
        flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event's data (and start) of `text` fed in pieces of `split` bytes.
    fn events(text: &[u8], split: usize) -> Vec<(String, bool)> {
        let mut frames = SseFrames::default();
        let mut out = Vec::new();
        for piece in text.chunks(split) {
            let _ = frames.feed(piece, |data, start| {
                out.push((String::from_utf8(data.to_vec()).unwrap(), start.is_some()));
                ControlFlow::Continue(())
            });
        }
        out
    }

    #[test]
    fn events_are_framed_at_any_split_with_lf_or_crlf() {
        let text = ": OPENROUTER PROCESSING\n\nevent: message_start\ndata: {\"a\":1}\n\ndata:x\ndata: y\nid: 7\n\ndata: cut";
        for text in [text.to_owned(), text.replace('\n', "\r\n")] {
            for split in [1, 2, 5, 17, text.len()] {
                let got: Vec<String> = events(text.as_bytes(), split)
                    .into_iter()
                    .map(|(d, _)| d)
                    .collect();
                assert_eq!(got, ["{\"a\":1}", "x\ny"], "split {split}");
            }
        }
    }

    #[test]
    fn an_empty_data_field_is_an_event_and_a_blank_line_alone_is_not() {
        assert_eq!(events(b"\n\ndata:\n\n\n", 100), [(String::new(), true)],);
    }

    #[test]
    fn the_start_offset_points_at_the_event_in_the_chunk() {
        let chunk = b"data: 1\n\ndata: 2\n\n";
        let mut frames = SseFrames::default();
        let mut starts = Vec::new();
        let _ = frames.feed(chunk, |_, start| {
            starts.push(start);
            ControlFlow::Continue(())
        });
        assert_eq!(starts, [Some(0), Some(9)]);
        // An event begun in an earlier chunk has no start in this one.
        let mut frames = SseFrames::default();
        let _ = frames.feed(b"data: 1", |_, _| ControlFlow::Continue(()));
        let _ = frames.feed(b"\n\n", |_, start| {
            assert_eq!(start, None);
            ControlFlow::Continue(())
        });
    }

    #[test]
    fn break_stops_the_framing_and_says_where() {
        let mut frames = SseFrames::default();
        let mut seen = 0;
        let chunk = b"data: 1\n\ndata: 2\n\n";
        let flow = frames.feed(chunk, |_, _| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert_eq!((flow, seen), (ControlFlow::Break(9), 1));
        // The rest, fed next, frames as if the chunk had not been cut there.
        let mut rest = Vec::new();
        let flow = frames.feed(&chunk[9..], |data, start| {
            rest.push((data.to_vec(), start));
            ControlFlow::Continue(())
        });
        assert_eq!(flow, ControlFlow::Continue(()));
        assert_eq!(rest, [(b"2".to_vec(), Some(0))]);
    }

    #[test]
    fn a_break_inside_a_line_split_across_chunks_counts_this_chunks_bytes() {
        let mut frames = SseFrames::default();
        let _ = frames.feed(b"data: 1", |_, _| ControlFlow::Continue(()));
        let flow = frames.feed(b"\n\ndata: 2\n\n", |_, _| ControlFlow::Break(()));
        assert_eq!(flow, ControlFlow::Break(2));
    }
}
