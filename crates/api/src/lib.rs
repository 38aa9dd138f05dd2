//! ferry's local HTTP control API (spec §6): an axum router over the engine, with browser
//! protection (Host/Origin/non-simple-request rules), bearer auth, body limits, CORS only
//! for allowed origins, and `application/problem+json` errors; the OpenAI-compatible
//! facade under `/openai/v1`; Prometheus metrics; and the OpenAPI document of it all,
//! generated from the handlers' `#[utoipa::path]` annotations.
//!
//! Adding a route: write the handler with `#[utoipa::path(...)]` and add it to [`api`]
//! with `routes!`. That is the only way routes enter the router, so the document and the
//! router cannot drift apart (the `openapi_lists_every_route` test walks the real router).

mod auth;
mod body_deadline;
mod browser;
mod console;
mod extract;
mod facade;
mod front_door;
mod handlers;
mod json_reply;
mod openapi;
mod problem;
mod sse;
mod upload;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use ferry_engine::Engine;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

pub use auth::{presented_credential, scope_for, AuthConfig, Need};
pub use body_deadline::{stall_limit, BodyStalled, StallLimit};
pub use browser::{takes_raw_body, BrowserPolicy, PolicyError, CLIENT_HEADER};
pub use facade::MAX_FACADE_BODY;
pub use problem::{openai_error_type, Problem};

/// Largest JSON body the control API accepts. Uploads (`POST /v1/assets`,
/// `POST /v1/observations`) have their own limit, the daemon's asset size limit, and the
/// facade accepts [`MAX_FACADE_BODY`].
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// `GET /v1/openapi.json`, serialized on its first request (the 220 KB document is
    /// not kept by a daemon nobody asks for it).
    pub openapi: Arc<tokio::sync::OnceCell<Bytes>>,
    /// The web console's sign-in sessions.
    pub console: console::session::ConsoleSessions,
}

/// Every route of the API, with its OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    use handlers::{
        anthropic, assets, config, keys, models, observations, openai, runs, runtime, secrets,
        sessions, system, tools,
    };
    let facade_limit = || DefaultBodyLimit::max(MAX_FACADE_BODY);
    let (schemas, paths, chat) = routes!(openai::chat_completions);
    let chat = (schemas, paths, chat.layer(facade_limit()));
    let (schemas, paths, responses) = routes!(openai::responses);
    let responses = (schemas, paths, responses.layer(facade_limit()));
    let (schemas, paths, embeddings) = routes!(openai::embeddings);
    let embeddings = (schemas, paths, embeddings.layer(facade_limit()));
    let (schemas, paths, messages) = routes!(anthropic::messages);
    let messages = (schemas, paths, messages.layer(facade_limit()));
    let (schemas, paths, count_tokens) = routes!(anthropic::count_tokens);
    let count_tokens = (schemas, paths, count_tokens.layer(facade_limit()));
    // Media uploads are bounded per file by the asset size limit while they stream in.
    let (schemas, paths, edits) = routes!(openai::media::images_edits);
    let edits = (schemas, paths, edits.layer(DefaultBodyLimit::disable()));
    let (schemas, paths, stt) = routes!(openai::media::transcriptions);
    let stt = (schemas, paths, stt.layer(DefaultBodyLimit::disable()));
    // Uploads are bounded by the asset size limit while they stream in, not by the JSON limit.
    let (schemas, paths, uploads) = routes!(assets::list, assets::upload);
    let uploads = (schemas, paths, uploads.layer(DefaultBodyLimit::disable()));
    let (schemas, paths, observe) = routes!(observations::observe);
    let observe = (schemas, paths, observe.layer(DefaultBodyLimit::disable()));
    OpenApiRouter::with_openapi(openapi::base_document())
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::status))
        .routes(routes!(system::metrics))
        .routes(routes!(system::openapi_json))
        .routes(routes!(config::show))
        .routes(routes!(runtime::get_runtime))
        .routes(routes!(runtime::set_model))
        .routes(routes!(secrets::list, secrets::set))
        .routes(routes!(secrets::delete))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::show, keys::update, keys::revoke))
        .routes(routes!(keys::spend))
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::show, sessions::update))
        .routes(routes!(sessions::messages))
        .routes(routes!(sessions::input))
        .routes(routes!(sessions::detached, sessions::runs))
        .routes(routes!(runs::list))
        .routes(routes!(runs::show))
        .routes(routes!(runs::events))
        .routes(routes!(runs::cancel))
        .routes(uploads)
        .routes(routes!(assets::show, assets::delete))
        .routes(routes!(assets::raw))
        .routes(observe)
        .routes(routes!(models::list))
        .routes(routes!(models::status))
        .routes(routes!(tools::transcribe_audio))
        .routes(routes!(tools::run))
        .routes(routes!(tools::videos))
        .routes(routes!(tools::video))
        .routes(chat)
        .routes(routes!(openai::models))
        .routes_rest_of_path(routes!(openai::model))
        .routes(responses)
        .routes(embeddings)
        .routes(routes!(openai::media::images_generations))
        .routes(edits)
        .routes(routes!(openai::media::speech))
        .routes(stt)
        .routes(messages)
        .routes(count_tokens)
}

/// [`OpenApiRouter::routes`] for a route whose last path parameter spans segments.
trait RestOfPath {
    /// Registers `route` (from `routes!`) as `routes` does, except that the router gives
    /// its path's last parameter the rest of the path (axum's `{*name}` for `{name}`), so
    /// a selector's `/`s may be sent plain or `%2F`-encoded. The document keeps `{name}`:
    /// OpenAPI has no parameter spanning segments, and the handler's description says a
    /// `/` in it may be sent either way.
    fn routes_rest_of_path(self, route: UtoipaMethodRouter<AppState>) -> Self;
}

impl RestOfPath for OpenApiRouter<AppState> {
    fn routes_rest_of_path(
        self,
        (schemas, paths, method_router): UtoipaMethodRouter<AppState>,
    ) -> Self {
        let mut api = paths.paths.keys().fold(self, |api, path| {
            api.route(&rest_of_path(path), method_router.clone())
        });
        let doc = api.get_openapi_mut();
        for (path, item) in paths.paths {
            match doc.paths.paths.get_mut(&path) {
                Some(known) => known.merge_operations(item),
                None => {
                    doc.paths.paths.insert(path, item);
                }
            }
        }
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        api
    }
}

/// `/a/{b}` → `/a/{*b}`: the path's last segment, a parameter, made a catch-all.
fn rest_of_path(path: &str) -> String {
    match path.rsplit_once("/{") {
        Some((head, name)) if name.ends_with('}') && !name.contains('/') => {
            format!("{head}/{{*{name}")
        }
        _ => panic!("{path}: a rest-of-path route ends with a `{{parameter}}` segment"),
    }
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::complete(api().into_openapi())
}

/// Builds the router: the API and the web console under `/ui/`. The browser guard runs
/// first (before auth), on every route.
pub fn router(engine: Engine, auth: AuthConfig, browser: BrowserPolicy) -> Router {
    let routes: Router<AppState> = api().into();
    auth.apply(&engine);
    let state = AppState {
        engine,
        openapi: Arc::default(),
        console: console::session::ConsoleSessions::new(auth.console_ttl()),
    };
    routes
        .merge(console::routes())
        .fallback(handlers::system::not_found)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn_with_state(
            front_door::FrontDoor {
                browser,
                state: state.clone(),
            },
            front_door::front_door,
        ))
        .with_state(state)
}

#[cfg(test)]
mod route_walk;

#[cfg(test)]
mod tests {
    use super::rest_of_path;

    #[test]
    fn the_last_parameter_takes_the_rest_of_the_path() {
        assert_eq!(
            rest_of_path("/openai/v1/models/{model}"),
            "/openai/v1/models/{*model}"
        );
        assert_eq!(rest_of_path("/a/{b}/c/{d}"), "/a/{b}/c/{*d}");
    }

    #[test]
    #[should_panic(expected = "ends with a `{parameter}` segment")]
    fn a_path_not_ending_in_a_parameter_is_a_mistake() {
        rest_of_path("/v1/models/{route}/status");
    }
}
