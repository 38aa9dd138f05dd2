//! The fixed parts of the OpenAPI document (title, version, security scheme, tags); every
//! path comes from a handler's `#[utoipa::path]` via [`crate::api`].

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ferry",
        description = "ferry's local HTTP control API, its OpenAI-compatible facade and operator endpoints. Errors are application/problem+json with a stable `code` (OpenAI-style bodies under /openai). With a token configured every request but /healthz and /readyz needs `Authorization: Bearer <token>`.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health, status, metrics and this document"),
        (name = "runtime", description = "Active model and configuration"),
        (name = "secrets", description = "Encrypted secret store (metadata only on read)"),
        (name = "sessions", description = "Sessions and their inputs"),
        (name = "runs", description = "Runs and their events"),
        (name = "openai", description = "OpenAI-compatible facade over the routes")
    )
)]
struct BaseDocument;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The document before any path is added, with ferry's version.
pub fn base_document() -> utoipa::openapi::OpenApi {
    let mut doc = BaseDocument::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}
