//! Walks the real router — the routes `ferry_api::api()` declares to it, and a request for
//! every method on each of their paths — and checks that the OpenAPI document lists exactly
//! those routes with exactly those methods, that the router answers each of them and no
//! other method there, and that the document is a well-formed OpenAPI 3 document.

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

/// `(path, method)` of every route the API declares: the routes [`crate::api`] hands to
/// the router (`router` builds its routes from the same list, with `split_for_parts`).
/// utoipa-axum registers each handler under the path and methods of its
/// `#[utoipa::path]`, so these are the router's routes; the walk below proves that the
/// router answers each of them, and no other method on their paths.
fn declared_routes() -> BTreeSet<(String, String)> {
    let (_, doc) = crate::api().split_for_parts();
    let mut table = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        let methods = [
            ("get", item.get.is_some()),
            ("put", item.put.is_some()),
            ("post", item.post.is_some()),
            ("delete", item.delete.is_some()),
            ("options", item.options.is_some()),
            ("head", item.head.is_some()),
            ("patch", item.patch.is_some()),
            ("trace", item.trace.is_some()),
        ];
        for (method, declared) in methods {
            if declared {
                table.insert((path.clone(), method.to_owned()));
            }
        }
    }
    table
}

/// A request for `method path` on the router, with `{…}` segments filled in.
async fn call(app: &axum::Router, path: &str, method: &str) -> (u16, String) {
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
    (status, String::from_utf8_lossy(&body).into_owned())
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
    let routes = declared_routes();
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

    // Every route really answers its method (not the 404 fallback, not 405), and no
    // other method on its path (405), so the router serves nothing undocumented there.
    let paths: BTreeSet<&String> = routes.iter().map(|(p, _)| p).collect();
    for path in paths {
        for method in ["get", "put", "post", "delete", "patch"] {
            let (status, text) = call(&app, path, method).await;
            if routes.contains(&(path.clone(), method.to_owned())) {
                assert_ne!(status, 405, "{method} {path}: {text}");
                assert!(
                    !(status == 404 && text.contains("no such endpoint")),
                    "{method} {path} fell through to the fallback: {text}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is served but not declared: {text}"
                );
            }
        }
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
