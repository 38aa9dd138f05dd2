//! [`RecordedRequest`]: what the fake saw of one incoming request.

/// One request as the fake received it, in arrival order.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `"POST"`.
    pub method: String,
    /// Path without the query, e.g. `"/api/v1/chat/completions"`.
    pub path: String,
    /// The raw query string (without `?`), if any.
    pub query: Option<String>,
    /// Every header in received order; names are lowercase, repeated headers repeat.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, when it is non-empty valid JSON.
    pub body: Option<serde_json::Value>,
    /// The body bytes exactly as received.
    pub raw_body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a `POST …/chat/completions`.
    pub fn is_chat(&self) -> bool {
        self.method == "POST" && self.path.ends_with("/chat/completions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_is_case_insensitive_and_takes_the_first() {
        let req = RecordedRequest {
            method: "POST".into(),
            path: "/api/v1/chat/completions".into(),
            query: None,
            headers: vec![
                ("x-title".into(), "one".into()),
                ("x-title".into(), "two".into()),
            ],
            body: None,
            raw_body: Vec::new(),
        };
        assert_eq!(req.header("X-Title"), Some("one"));
        assert_eq!(req.header("missing"), None);
        assert!(req.is_chat());
    }
}
