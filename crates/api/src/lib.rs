//! ferry's local HTTP control API (spec §6): an axum router over the engine, with bearer
//! auth, body limits, CORS off by default, and `application/problem+json` errors.

mod auth;
mod extract;
mod handlers;
mod problem;
mod sse;
mod upload;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;
use ferry_engine::Engine;

pub use auth::AuthConfig;
pub use problem::Problem;

/// Largest JSON body the control API accepts. Uploads (`POST /v1/assets`,
/// `POST /v1/observations`) have their own limit: the daemon's asset size limit.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
}

/// Builds the router. Every route of the API is listed here.
pub fn router(engine: Engine, auth: AuthConfig) -> Router {
    let state = AppState { engine };
    Router::new()
        .route("/healthz", get(handlers::system::healthz))
        .route("/readyz", get(handlers::system::readyz))
        .route("/v1/status", get(handlers::system::status))
        .route("/v1/runtime", get(handlers::runtime::get_runtime))
        .route("/v1/runtime/model", post(handlers::runtime::set_model))
        .route(
            "/v1/secrets",
            get(handlers::secrets::list).post(handlers::secrets::set),
        )
        .route("/v1/secrets/{ref}", delete(handlers::secrets::delete))
        .route(
            "/v1/sessions",
            get(handlers::sessions::list).post(handlers::sessions::create),
        )
        .route(
            "/v1/sessions/{id}",
            get(handlers::sessions::show).patch(handlers::sessions::update),
        )
        .route(
            "/v1/sessions/{id}/messages",
            get(handlers::sessions::messages),
        )
        .route("/v1/sessions/{id}/input", post(handlers::sessions::input))
        .route(
            "/v1/sessions/{id}/runs",
            post(handlers::sessions::detached).get(handlers::sessions::runs),
        )
        .route("/v1/models/status", get(handlers::models::status))
        .route("/v1/runs/{id}", get(handlers::runs::show))
        .route("/v1/runs/{id}/events", get(handlers::runs::events))
        .route("/v1/runs/{id}/cancel", post(handlers::runs::cancel))
        .route(
            "/v1/assets",
            get(handlers::assets::list)
                .post(handlers::assets::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/assets/{id}",
            get(handlers::assets::show).delete(handlers::assets::delete),
        )
        .route("/v1/assets/{id}/raw", get(handlers::assets::raw))
        .route(
            "/v1/observations",
            post(handlers::observations::observe).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/models", get(handlers::models::list))
        .route(
            "/v1/tools/transcribe_audio",
            post(handlers::tools::transcribe_audio),
        )
        .route("/v1/tools/{name}", post(handlers::tools::run))
        .route("/v1/videos", get(handlers::tools::videos))
        .route("/v1/videos/{id}", get(handlers::tools::video))
        .fallback(handlers::system::not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(
            auth,
            auth::require_token,
        ))
        .with_state(state)
}
