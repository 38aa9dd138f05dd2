//! Walks the real router — its route table, read from axum's `Debug` output, and a request
//! to every route it has — and checks that the OpenAPI document lists exactly those routes
//! with exactly those methods, and is a well-formed OpenAPI 3 document.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request};
use ferry_engine::{Engine, SecretsHandle};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::{openapi, router, AuthConfig, BrowserPolicy};

pub(crate) async fn engine(dir: &std::path::Path) -> Engine {
    let routes = ferry_config::parse_routes(
        "version = 1\ndefault_route = \"openrouter\"\n[routes.openrouter]\ndriver = \"openrouter\"\ndefault_model = \"openai/gpt-5.4-mini\"\napi_key_env = \"FERRY_TEST_NO_SUCH_KEY\"\n",
        &dir.join("routes.toml"),
    )
    .unwrap();
    let store = ferry_store::Store::open(dir).unwrap();
    let secrets = SecretsHandle::open(dir.to_path_buf(), None).unwrap();
    Engine::start(
        routes,
        std::sync::Arc::new(store),
        secrets,
        Default::default(),
        ferry_engine::EngineConfig::new(dir),
    )
    .await
    .unwrap()
    .0
}

/// `(path, method)` of every route of the router, from its `Debug` form: the node maps
/// `RouteId(n)` to a path, the route map gives each id's `allow_header` (its methods).
fn route_table(debug: &str) -> BTreeSet<(String, String)> {
    let mut paths = std::collections::HashMap::new();
    let mut methods = std::collections::HashMap::new();
    // Only the main path router: the fallback router that follows has ids of its own.
    let main = debug.split("fallback_router").next().unwrap_or(debug);
    for segment in main.split("RouteId(").skip(1) {
        let (id, rest) = segment.split_once(')').expect("RouteId(n)");
        let id: u32 = id.trim().parse().expect("route id");
        if let Some(path) = rest.strip_prefix(": \"") {
            paths.insert(id, path.split('"').next().unwrap().to_string());
        } else if let Some(router) = rest.strip_prefix(": ") {
            let allow = router
                .split("allow_header: Bytes(b\"")
                .nth(1)
                .and_then(|a| a.split('"').next())
                .unwrap_or_else(|| {
                    panic!("route {id} is not a method router with known methods: add routes with `routes!` in ferry_api::api()")
                });
            methods.insert(id, allow.to_string());
        }
    }
    assert!(
        !paths.is_empty(),
        "could not read the router's route table:\n{debug}"
    );
    let mut table = BTreeSet::new();
    for (id, path) in &paths {
        // The web console's pages are HTML, not part of the JSON API (docs/console.md).
        if path == crate::console::PREFIX || path.starts_with("/ui/") {
            continue;
        }
        let allow = methods
            .get(id)
            .unwrap_or_else(|| panic!("no methods for {path}"));
        for m in allow.split(',').filter(|m| *m != "HEAD") {
            table.insert((path.clone(), m.to_ascii_lowercase()));
        }
    }
    table
}

fn document_table(doc: &Value) -> BTreeSet<(String, String)> {
    let mut table = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
                table.insert((path.clone(), method.clone()));
            }
        }
    }
    table
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(
        engine(dir.path()).await,
        AuthConfig::open(),
        BrowserPolicy::loopback(),
    );
    let routes = route_table(&format!("{app:?}"));
    assert!(routes.len() >= 20, "{routes:?}");

    let doc = serde_json::to_value(openapi()).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "ferry");
    assert!(doc["info"]["version"].is_string());
    let documented = document_table(&doc);
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    let phantom: Vec<_> = documented.difference(&routes).collect();
    assert!(
        phantom.is_empty(),
        "documented routes the router lacks: {phantom:?}"
    );

    // Every route really answers its method (not the 404 fallback, not 405).
    for (path, method) in &routes {
        let uri = path.replace("{id}", "walk-x").replace("{ref}", "walk.x");
        let req = Request::builder()
            .method(Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap())
            .uri(&uri)
            .header(crate::CLIENT_HEADER, "route-walk")
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert_ne!(status, 405, "{method} {uri}: {text}");
        assert!(
            !(status == 404 && text.contains("no such endpoint")),
            "{method} {uri} fell through to the fallback: {text}"
        );
    }

    // And a path that is not a route does fall through.
    let resp = app
        .oneshot(
            Request::get("/v1/nothing-here")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
