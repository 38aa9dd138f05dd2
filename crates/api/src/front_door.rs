//! The one middleware every request passes, outermost: the browser rules
//! ([`crate::browser`]: Host allow-list, Origin check, no simple writes), then
//! authentication and scope ([`crate::auth`], running the rest as the caller), then the
//! router — and on the way out, errors re-rendered in the path's shape
//! ([`crate::problem`]). One layer instead of three: every axum `from_fn` layer clones the
//! service stack beneath it and boxes a future per request, a cost each facade call paid
//! three times.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::browser::{self, BrowserPolicy};
use crate::{auth, problem, AppState};

/// What the front door needs: the browser policy and the daemon's state (for auth).
#[derive(Clone)]
pub(crate) struct FrontDoor {
    pub(crate) browser: BrowserPolicy,
    pub(crate) state: AppState,
}

/// Browser rules, then auth, then the router with errors in the path's shape.
pub(crate) async fn front_door(
    State(door): State<FrontDoor>,
    req: Request,
    next: Next,
) -> Response {
    browser::guarded(&door.browser, req, |req| {
        auth::authorized(&door.state, req, |req| {
            problem::in_path_shape(req, |req| async move {
                match compressed_body(&req) {
                    Some(refusal) => refusal,
                    None => next.run(req).await,
                }
            })
        })
    })
    .await
}

/// A 415 for a body sent with a `Content-Encoding` (ferry reads bodies as sent: a gzip
/// body would otherwise fail as JSON that does not parse, and one labelled `br` but sent
/// plain would pass); `None` for none or `identity`.
fn compressed_body(req: &Request) -> Option<Response> {
    use axum::response::IntoResponse;
    let encoding = req.headers().get(axum::http::header::CONTENT_ENCODING)?;
    let named: String = String::from_utf8_lossy(encoding.as_bytes())
        .trim()
        .chars()
        .take(64)
        .collect();
    if named.is_empty() || named.eq_ignore_ascii_case("identity") {
        return None;
    }
    Some(
        (
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the request body is sent with Content-Encoding: {named}, which ferry does not decode; send the body uncompressed, without a Content-Encoding header"),
        )
            .into_response(),
    )
}
