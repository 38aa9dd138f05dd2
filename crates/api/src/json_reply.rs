//! JSON response bodies (`application/json`): the API's replacement for axum's `Json`
//! as a response. axum's serialises through a `BytesMut` writer that starts at 128 bytes,
//! so every small write serde makes (a quote, a key, a comma) goes through `BufMut` and
//! the buffer grows four times for a run's view; here serde writes into a `Vec` sized
//! for a typical view, which takes ~35 % less time for the view a session input answers
//! (docs/benchmarks.md). A value that cannot be serialised is a 500 problem document.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use ferry_types::ProblemCode;
use serde::Serialize;

use crate::problem::Problem;

/// Bytes reserved before serialising: a run's view (~1.2 KB) fits without growing.
const INITIAL_CAPACITY: usize = 1536;

/// A response whose body is `T` as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(INITIAL_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => Problem::new(
                500,
                ProblemCode::InternalError,
                format!("the response could not be encoded as JSON: {e}"),
            )
            .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::body::to_bytes;

    use super::*;

    #[tokio::test]
    async fn a_value_is_its_json_with_the_json_content_type() {
        let resp = Json(serde_json::json!({"a": [1, "two", null]})).into_response();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], br#"{"a":[1,"two",null]}"#);
    }

    #[tokio::test]
    async fn a_value_json_cannot_hold_is_a_500_problem() {
        // A map with non-string keys has no JSON form.
        let resp = Json(HashMap::from([((1, 2), 3)])).into_response();
        assert_eq!(resp.status(), 500);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["code"], "internal_error");
        assert!(doc["detail"]
            .as_str()
            .unwrap()
            .contains("could not be encoded"));
    }
}
