//! Answers one HTTP request: records it, checks the API key, routes to the endpoints.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, AUTHORIZATION};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::audio;
use crate::catalog::ModalityFilter;
use crate::chat::{self, ChatRequest, Outcome, Protocol};
use crate::generation::{new_generation_id, unix_now};
use crate::keys;
use crate::media::{self, MediaEndpoint};
use crate::record::RecordedRequest;
use crate::respond::{self, FakeResponse};
use crate::state::Shared;

/// What a request handler can reach: the shared state and its connection's reset switch.
pub(crate) struct ConnectionContext {
    pub(crate) shared: Arc<Shared>,
    /// Notified when a reply asks for the connection to be reset.
    pub(crate) reset: Arc<Notify>,
}

/// The endpoints under `/api/v1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Chat,
    /// `POST /responses`.
    Responses,
    /// `POST /messages`.
    Messages,
    Models,
    Key,
    Generation,
    Media(MediaEndpoint),
    /// A `GET` outside `/api/v1`: served files (download URLs).
    File,
    Transcriptions,
    /// `POST /keys` (management API).
    KeyCreate,
    /// `PATCH /keys/{hash}` (management API).
    KeyUpdate,
    NotFound,
}

impl Route {
    fn of(method: &Method, path: &str) -> Route {
        let Some(endpoint) = path.strip_prefix("/api/v1") else {
            return if method == Method::GET {
                Route::File
            } else {
                Route::NotFound
            };
        };
        if let Some(which) = media::endpoint_of(method, endpoint) {
            return Route::Media(which);
        }
        match (method, endpoint) {
            (&Method::POST, "/chat/completions") => Route::Chat,
            (&Method::POST, "/responses") => Route::Responses,
            (&Method::POST, "/messages") => Route::Messages,
            (&Method::GET, "/models") => Route::Models,
            (&Method::GET, "/key") => Route::Key,
            (&Method::GET, "/generation") => Route::Generation,
            (&Method::POST, "/audio/transcriptions") => Route::Transcriptions,
            (&Method::POST, "/keys") => Route::KeyCreate,
            (&Method::PATCH, p) if p.starts_with("/keys/") => Route::KeyUpdate,
            _ => Route::NotFound,
        }
    }
}

/// Answers one request.
pub(crate) async fn handle(
    request: Request<Incoming>,
    ctx: Arc<ConnectionContext>,
) -> Result<FakeResponse, Infallible> {
    let (parts, body) = request.into_parts();
    let raw = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(respond::openrouter_error(
                400,
                "Could not read the request body",
            ))
        }
    };
    let json: Option<Value> = if raw.is_empty() {
        None
    } else {
        serde_json::from_slice(&raw).ok()
    };
    let route = Route::of(&parts.method, parts.uri.path());
    let chat_request = match (&route, &json) {
        (Route::Chat, Some(body @ Value::Object(_))) => Some(ChatRequest::from_json(body)),
        (Route::Responses, Some(body @ Value::Object(_))) => {
            Some(ChatRequest::of(Protocol::Responses, body))
        }
        (Route::Messages, Some(body @ Value::Object(_))) => {
            Some(ChatRequest::of(Protocol::Messages, body))
        }
        _ => None,
    };
    let query = parts.uri.query().map(str::to_owned);
    // Media handlers read the body after recording took it; only they get a copy.
    let json_body = match route {
        Route::Media(_) | Route::Transcriptions | Route::KeyCreate | Route::KeyUpdate => {
            json.clone()
        }
        _ => None,
    };
    let shared = &ctx.shared;
    if shared.recording() {
        shared.record(RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: query.clone(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect(),
            body: json,
            raw_body: raw.into(),
        });
    }

    let scripted = match route {
        Route::Media(MediaEndpoint::Embeddings) => scripted_error(shared, json_body.as_ref()),
        _ => None,
    };
    let mut response = match auth_failure(shared, &parts.headers, route).or(scripted) {
        Some(answer) => answer,
        None => match route {
            Route::Chat | Route::Responses => match chat_request {
                Some(request) => return Ok(answer_chat(&ctx, request).await),
                None => respond::openrouter_error(400, "Invalid JSON body: expected an object"),
            },
            Route::Messages => match chat_request {
                Some(request) => return Ok(answer_chat(&ctx, request).await),
                None => respond::json(
                    StatusCode::BAD_REQUEST,
                    &crate::protocols::anthropic_error_body(
                        400,
                        "Invalid JSON body: expected an object",
                    ),
                ),
            },
            Route::Models => models(shared, query.as_deref()),
            Route::Key => {
                let data = shared.lock().key_info.clone();
                respond::json(StatusCode::OK, &json!({ "data": data }))
            }
            Route::Generation => generation(shared, query.as_deref()),
            Route::Media(which) => {
                let endpoint = parts.uri.path().trim_start_matches("/api/v1");
                media::handle(
                    shared,
                    which,
                    endpoint,
                    query.as_deref(),
                    json_body.as_ref(),
                )
            }
            Route::File => media::file(shared, parts.uri.path()),
            Route::Transcriptions => audio::answer(shared, json_body.as_ref()),
            Route::KeyCreate => keys::create(shared, json_body.as_ref()),
            Route::KeyUpdate => keys::update(
                shared,
                parts.uri.path().trim_start_matches("/api/v1/keys/"),
                json_body.as_ref(),
            ),
            Route::NotFound => respond::openrouter_error(404, "Not Found"),
        },
    };
    respond::ensure_generation_id(&mut response, || new_generation_id(unix_now()));
    Ok(response)
}

/// OpenRouter's 401 when an API key is configured and the request does not carry it.
/// `GET /models` is public on OpenRouter and stays so here.
fn auth_failure(shared: &Shared, headers: &HeaderMap, route: Route) -> Option<FakeResponse> {
    if matches!(route, Route::Models | Route::File) {
        return None;
    }
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if matches!(route, Route::KeyCreate | Route::KeyUpdate) {
        return (!keys::is_management(shared, presented))
            .then(|| respond::openrouter_error(401, "A management key is required"));
    }
    if presented.is_some_and(|p| keys::is_provisioned(shared, p)) {
        return None;
    }
    let message = {
        let state = shared.lock();
        let expected = state.api_key.as_deref()?;
        match headers.get(AUTHORIZATION).map(|v| v.to_str()) {
            None => "No auth credentials found",
            Some(Ok(value)) if value.strip_prefix("Bearer ") == Some(expected) => return None,
            Some(_) => "User not found.",
        }
    };
    Some(respond::openrouter_error(401, message))
}

/// An error reply queued with `push_for_model` for the request's model answers an
/// endpoint that has no reply scripts of its own (embeddings): so tests can make one
/// model rate-limited. Other reply kinds queued for the model are left alone.
fn scripted_error(shared: &Shared, body: Option<&Value>) -> Option<FakeResponse> {
    let model = body?.get("model")?.as_str()?;
    let reply = shared.next_model_reply(model)?;
    match chat::plan(reply, &ChatRequest::from_json(body?)).outcome {
        Outcome::Respond(response) => Some(response),
        Outcome::Reset => Some(respond::openrouter_error(502, "connection reset")),
    }
}

async fn answer_chat(ctx: &ConnectionContext, request: ChatRequest) -> FakeResponse {
    let reply = ctx
        .shared
        .next_reply(request.model.as_deref())
        .unwrap_or_else(|| request.echo_reply());
    let plan = chat::plan(reply, &request);
    if let Some(record) = plan.generation {
        ctx.shared.remember_generation(record);
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if let Some(gate) = plan.gate {
        gate.wait().await;
    }
    match plan.outcome {
        Outcome::Respond(response) => response,
        Outcome::Reset => {
            ctx.reset.notify_one();
            // The connection task drops this request (and the socket) on the notification.
            std::future::pending::<FakeResponse>().await
        }
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn models(shared: &Shared, query: Option<&str>) -> FakeResponse {
    let filter = ModalityFilter::from_query(query_param(query, "output_modalities").as_deref());
    let data = filter.apply(&shared.lock().models);
    respond::json(StatusCode::OK, &json!({ "data": data }))
}

fn generation(shared: &Shared, query: Option<&str>) -> FakeResponse {
    let Some(id) = query_param(query, "id").filter(|id| !id.is_empty()) else {
        return respond::openrouter_error(400, "Missing required query parameter: id");
    };
    let found = shared.lock().generations.get(&id).map(|g| g.to_json());
    match found {
        Some(data) => respond::json(StatusCode::OK, &json!({ "data": data })),
        None => respond::openrouter_error(404, &format!("Generation {id} not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_live_under_api_v1() {
        assert_eq!(
            Route::of(&Method::POST, "/api/v1/chat/completions"),
            Route::Chat
        );
        assert_eq!(
            Route::of(&Method::GET, "/api/v1/chat/completions"),
            Route::NotFound
        );
        assert_eq!(Route::of(&Method::GET, "/api/v1/models"), Route::Models);
        assert_eq!(Route::of(&Method::GET, "/api/v1/key"), Route::Key);
        assert_eq!(
            Route::of(&Method::GET, "/api/v1/generation"),
            Route::Generation
        );
        assert_eq!(Route::of(&Method::GET, "/models"), Route::File);
        assert_eq!(Route::of(&Method::POST, "/models"), Route::NotFound);
        assert_eq!(
            Route::of(&Method::POST, "/api/v1/audio/speech"),
            Route::Media(MediaEndpoint::Speech)
        );
        assert_eq!(
            Route::of(&Method::GET, "/api/v1/videos/job-1"),
            Route::Media(MediaEndpoint::PollVideo)
        );
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param(
                Some("a=1&output_modalities=text%2Cimage"),
                "output_modalities"
            )
            .as_deref(),
            Some("text,image")
        );
        assert_eq!(query_param(None, "id"), None);
    }

    #[test]
    fn auth_requires_the_exact_bearer_key() {
        let shared = Shared::new();
        let mut headers = HeaderMap::new();
        assert!(auth_failure(&shared, &headers, Route::Key).is_none());
        shared.lock().api_key = Some("sk-or-v1-test".into());
        let denied = auth_failure(&shared, &headers, Route::Key).expect("401");
        assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
        assert!(auth_failure(&shared, &headers, Route::Models).is_none());
        headers.insert(
            AUTHORIZATION,
            "Bearer sk-or-v1-other".parse().expect("value"),
        );
        assert!(auth_failure(&shared, &headers, Route::Chat).is_some());
        headers.insert(
            AUTHORIZATION,
            "Bearer sk-or-v1-test".parse().expect("value"),
        );
        assert!(auth_failure(&shared, &headers, Route::Chat).is_none());
    }
}
