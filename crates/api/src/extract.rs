//! Request extractors whose rejections are problem documents instead of axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use ferry_types::ProblemCode;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// `Json<T>` with problem+json rejections that say what was wrong.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            // serde reads a struct from a JSON array too (`[null, null]`); the API's bodies
            // are objects, so anything else is refused before it is read as one.
            Ok(axum::Json(v)) if !v.is_object() => Err(Problem::new(
                400,
                ProblemCode::InvalidBody,
                "the body must be a JSON object ({...}); see docs/api.md for its fields",
            )),
            Ok(axum::Json(v)) => serde_json::from_value(v).map(ApiJson).map_err(|e| {
                Problem::new(
                    400,
                    ProblemCode::InvalidBody,
                    format!(
                        "the JSON body has the wrong shape: {}",
                        redact_body_error(&e.to_string())
                    ),
                )
            }),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::new(
            415,
            ProblemCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => Problem::new(
            400,
            ProblemCode::InvalidJson,
            format!(
                "the body is not valid JSON: {}",
                redact_body_error(&e.body_text())
            ),
        ),
        JsonRejection::JsonDataError(e) => Problem::new(
            400,
            ProblemCode::InvalidBody,
            format!(
                "the JSON body has the wrong shape: {}",
                redact_body_error(&e.body_text())
            ),
        ),
        JsonRejection::BytesRejection(e) => {
            let status = e.status().as_u16();
            if status == 413 {
                Problem::new(
                    413,
                    ProblemCode::BodyTooLarge,
                    format!("the request body is larger than this endpoint accepts ({} MiB of JSON); send large media by URL or upload it first (POST /v1/assets)", crate::MAX_JSON_BODY / (1024 * 1024)),
                )
            } else {
                Problem::unreadable_body(status, ProblemCode::InvalidBody, e.body_text())
            }
        }
        other => Problem::unreadable_body(400, ProblemCode::InvalidBody, other.body_text()),
    }
}

/// serde messages can quote input values (`invalid type: string "sk-or-…"`); keep the
/// position and the expectation, drop quoted values.
fn redact_body_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_quote = false;
    for c in text.chars() {
        if c == '"' {
            if !in_quote {
                out.push_str("\"…");
            } else {
                out.push('"');
            }
            in_quote = !in_quote;
            continue;
        }
        if !in_quote {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_body_error;

    #[test]
    fn quoted_values_are_dropped() {
        let s = redact_body_error("invalid type: string \"sk-or-v1-abc\", expected u32 at line 1");
        assert!(!s.contains("sk-or"));
        assert!(s.contains("expected u32"));
    }
}
