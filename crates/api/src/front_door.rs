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
            problem::in_path_shape(req, |req| next.run(req))
        })
    })
    .await
}
