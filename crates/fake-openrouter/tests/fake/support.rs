//! Helpers shared by the tests: a client, request bodies, SSE frame reading.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use ferry_fake_openrouter::FakeOpenRouter;

pub const MODEL: &str = "openai/gpt-5.4-mini";

/// A client that never uses a proxy from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

pub fn chat_body(model: &str, stream: bool, text: &str) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": text},
        ],
    })
}

pub async fn post_chat(fake: &FakeOpenRouter, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", fake.base_url()))
        .json(body)
        .send()
        .await
        .expect("response")
}

/// Reads SSE frames (`\n\n`-terminated) one at a time as they arrive.
pub struct Frames {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: Vec<u8>,
    /// Set once the body ended with an error (e.g. a cut connection).
    pub error: Option<reqwest::Error>,
}

impl Frames {
    pub fn new(response: reqwest::Response) -> Frames {
        Frames {
            stream: response.bytes_stream().boxed(),
            buffer: Vec::new(),
            error: None,
        }
    }

    /// The next whole frame (without the blank line), or None at the end of the body.
    pub async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(pos) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..pos + 2).collect();
                return Some(String::from_utf8_lossy(&frame[..pos]).into_owned());
            }
            match self.stream.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    self.error = Some(e);
                    return None;
                }
                None => return None,
            }
        }
    }

    /// All remaining frames.
    pub async fn rest(&mut self) -> Vec<String> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame);
        }
        frames
    }

    /// Bytes received after the last whole frame.
    pub fn leftover(&self) -> &[u8] {
        &self.buffer
    }
}

/// The JSON of a `data: {…}` frame, None for comments, `[DONE]` and invalid JSON.
pub fn data_json(frame: &str) -> Option<Value> {
    serde_json::from_str(frame.strip_prefix("data: ")?).ok()
}

/// All JSON chunks of a streamed answer plus whether it ended with `[DONE]`.
pub async fn read_stream(response: reqwest::Response) -> (Vec<Value>, Vec<String>) {
    let mut frames = Frames::new(response);
    let all = frames.rest().await;
    assert!(frames.error.is_none(), "stream failed: {:?}", frames.error);
    (all.iter().filter_map(|f| data_json(f)).collect(), all)
}

/// The `delta` of a chunk's first choice.
pub fn delta(chunk: &Value) -> &Value {
    &chunk["choices"][0]["delta"]
}

/// Concatenated `delta.<field>` strings of all chunks.
pub fn joined(chunks: &[Value], field: &str) -> String {
    chunks
        .iter()
        .filter_map(|c| delta(c)[field].as_str())
        .collect()
}
