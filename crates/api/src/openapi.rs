//! The fixed parts of the OpenAPI document (title, version, security scheme, tags, the
//! problem+json schema with its code enum from `ferry-types`); every path comes from a
//! handler's `#[utoipa::path]` via [`crate::api`].

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
    components(schemas(ferry_types::ProblemDocument, ferry_types::ProblemCode)),
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

/// Declares the responses every operation can give besides its own (so the document
/// lists every status a client can see): 400 for operations with parameters or a body,
/// 401 where a token applies, 403 (browser guard) everywhere, 404 for operations with
/// parameters, 413/415 for operations with a body — each with the error body of the
/// path's shape (problem+json, or OpenAI's error object under `/openai/`). Error
/// responses a handler declared without a body get that body too.
pub fn complete(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut v) = serde_json::to_value(&doc) else {
        return doc;
    };
    add_error_responses(&mut v);
    add_request_schemas(&mut v);
    params_not_nullable(&mut v);
    serde_json::from_value(v).unwrap_or(doc)
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn add_error_responses(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let (content_type, schema) = match crate::facade::ErrorShape::for_path(path) {
            crate::facade::ErrorShape::OpenAi => ("application/json", "OpenAiError"),
            crate::facade::ErrorShape::Anthropic => ("application/json", "AnthropicError"),
            crate::facade::ErrorShape::Problem => ("application/problem+json", "Problem"),
        };
        let body =
            json!({content_type: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        for method in METHODS {
            let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                continue;
            };
            let has_body = op.contains_key("requestBody");
            let has_params = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|p| !p.is_empty());
            let open = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| {
                    s.iter()
                        .all(|r| r.as_object().is_some_and(|r| r.is_empty()))
                });
            let mut extra: Vec<(&str, &str)> = Vec::new();
            if has_body || has_params {
                extra.push((
                    "400",
                    "Invalid request: `code` and `detail` say what was wrong",
                ));
            }
            if !open {
                extra.push((
                    "401",
                    "A token is configured and the request has none, or a wrong one",
                ));
            }
            extra.push(("403", "Refused by the browser guard: host_not_allowed, origin_not_allowed, json_content_type_required or client_header_required (docs/security.md)"));
            if has_params {
                extra.push((
                    "404",
                    "Not found: the named resource or route does not exist",
                ));
            }
            if has_body {
                extra.push(("413", "The body is larger than this endpoint accepts"));
                extra.push((
                    "415",
                    "The body's Content-Type is not one this endpoint takes",
                ));
            }
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(responses) = responses else { continue };
            for (status, description) in extra {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"description": description}));
            }
            for (status, response) in responses.iter_mut() {
                let error = status.starts_with('4') || status.starts_with('5');
                if let Some(r) = response.as_object_mut() {
                    if error && !r.contains_key("content") {
                        r.insert("content".into(), body.clone());
                    }
                }
            }
        }
    }
    let schemas = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
        .map(|c| c.entry("schemas").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut);
    if let Some(schemas) = schemas {
        schemas.insert(
            "AnthropicError".into(),
            json!({
                "type": "object",
                "description": "Anthropic's error body",
                "required": ["type", "error"],
                "properties": {
                    "type": {"type": "string", "const": "error"},
                    "error": {
                        "type": "object",
                        "required": ["type", "message"],
                        "properties": {
                            "type": {"type": "string"},
                            "message": {"type": "string"}
                        }
                    }
                }
            }),
        );
        schemas.insert(
            "OpenAiError".into(),
            json!({
                "type": "object",
                "description": "OpenAI's error body; ferry's problem code is in `error.code`",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["message", "type", "code"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": {"type": ["string", "null"]},
                        "code": {"type": "string"}
                    }
                }}
            }),
        );
    }
}

/// JSON bodies whose handlers take a free-form map (validated by the engine) get the
/// schema of what they accept, so `{}` and unknown fields are visibly invalid.
fn add_request_schemas(doc: &mut serde_json::Value) {
    use serde_json::json;
    let input = json!({
        "type": "object",
        "description": "One input: text and/or attachments, with optional per-input overrides",
        "minProperties": 1,
        "anyOf": [{"required": ["content"]}, {"required": ["attachments"]}],
        "additionalProperties": false,
        "properties": {
            "content": {"type": "string", "description": "The user's text"},
            "attachments": {"type": "array", "maxItems": 32, "items": {"oneOf": [
                {"type": "object", "required": ["asset_id"], "additionalProperties": false,
                 "properties": {"asset_id": {"type": "string"}}},
                {"type": "object", "required": ["path"], "additionalProperties": false,
                 "properties": {"path": {"type": "string"}}},
                {"type": "object", "required": ["media_type", "data_base64"], "additionalProperties": false,
                 "properties": {"media_type": {"type": "string"}, "data_base64": {"type": "string"},
                                "file_name": {"type": "string"}}}
            ]}},
            "provider": {"type": "string", "description": "A route id"},
            "model": {"type": "string", "description": "A model or selector"},
            "fallbacks": {"type": "array", "items": {"type": "string"}},
            "thinking": {"type": "string"},
            "params": {"type": "object"},
            "provider_routing": {"type": "object"},
            "speak": {"type": "boolean"}
        }
    });
    let chat = json!({
        "type": "object",
        "description": "An OpenAI chat-completions request; `model` is a ferry selector. OpenRouter's other request fields are forwarded; fields ferry does not know are refused",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "minLength": 1},
            "messages": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["role"],
                "properties": {"role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]}}
            }},
        }
    });
    let tool = json!({
        "type": "object",
        "description": "The tool's arguments (generate_image/edit_image: prompt …; generate_audio: text …; generate_video: prompt …), plus optional route, model and (images) timeout_ms",
        "minProperties": 1
    });
    for (path, method, schema) in [
        ("/v1/sessions/{id}/input", "post", &input),
        ("/v1/sessions/{id}/runs", "post", &input),
        ("/openai/v1/chat/completions", "post", &chat),
        ("/v1/tools/{name}", "post", &tool),
    ] {
        let content = doc
            .pointer_mut(&format!(
                "/paths/{}/{method}/requestBody/content/application~1json",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(serde_json::Value::as_object_mut);
        if let Some(content) = content {
            content.insert("schema".into(), schema.clone());
        }
    }
}

/// Query and header parameters cannot be `null`: an absent one is how a client says
/// "none". utoipa writes `Option<T>` parameters as `[T, "null"]`; keep `T`.
fn params_not_nullable(doc: &mut serde_json::Value) {
    use serde_json::Value;
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        for method in METHODS {
            let params = item
                .get_mut(method)
                .and_then(|op| op.get_mut("parameters"))
                .and_then(Value::as_array_mut);
            for param in params.into_iter().flatten() {
                let types = param
                    .pointer_mut("/schema/type")
                    .and_then(Value::as_array_mut);
                if let Some(types) = types {
                    types.retain(|t| t != "null");
                    if types.len() == 1 {
                        let only = types[0].clone();
                        if let Some(schema) = param.get_mut("schema") {
                            schema["type"] = only;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every operation declares the guard's 403 with an error body, operations with a body
    /// declare 400/413/415, and no query or header parameter may be `null`.
    #[test]
    fn every_operation_declares_its_error_responses() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut seen = 0;
        for (path, item) in paths {
            for method in super::METHODS {
                let Some(op) = item.get(method) else { continue };
                seen += 1;
                let responses = op["responses"].as_object().unwrap();
                let forbidden = &responses["403"]["content"];
                let expected = if path.starts_with("/openai/") || path.starts_with("/anthropic/") {
                    "application/json"
                } else {
                    "application/problem+json"
                };
                assert!(
                    forbidden.get(expected).is_some(),
                    "{method} {path}: 403 as {expected}"
                );
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415"] {
                        assert!(responses.contains_key(status), "{method} {path}: {status}");
                    }
                }
                let open = path == "/healthz" || path == "/readyz";
                assert_eq!(!open, responses.contains_key("401"), "{method} {path}: 401");
                for param in op["parameters"].as_array().into_iter().flatten() {
                    assert!(
                        !param["schema"]["type"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|t| t == "null")),
                        "{method} {path}: {} is nullable",
                        param["name"]
                    );
                }
            }
        }
        assert!(seen >= 30, "{seen} operations");
        assert!(doc["components"]["schemas"]["Problem"].is_object());
    }

    /// The free-form JSON bodies refuse `{}` in the document, as their handlers do.
    #[test]
    fn free_form_bodies_have_their_schemas() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let schema = |path: &str| -> Value {
            doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
                .clone()
        };
        assert_eq!(
            schema("/openai/v1/chat/completions")["required"],
            serde_json::json!(["model", "messages"])
        );
        assert_eq!(schema("/v1/sessions/{id}/input")["minProperties"], 1);
        assert_eq!(schema("/v1/tools/{name}")["minProperties"], 1);
    }

    /// The typed endpoints (runs, sessions, secrets, ...) answer ferry-types' views (not a bare `Object`), every
    /// error response of theirs is a problem document, and the problem's `code` is the
    /// enum of every `ProblemCode`; every `$ref` in the document resolves.
    #[test]
    fn typed_endpoints_document_their_views_and_problems() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        for (path, method, status, schema) in [
            ("/v1/runs", "get", "200", "RunPage"),
            ("/v1/runs/{id}", "get", "200", "RunView"),
            ("/v1/runs/{id}/cancel", "post", "200", "RunView"),
            ("/v1/sessions", "get", "200", "SessionPage"),
            ("/v1/sessions", "post", "201", "SessionInfo"),
            ("/v1/sessions/{id}", "get", "200", "SessionView"),
            ("/v1/sessions/{id}", "patch", "200", "SessionInfo"),
            ("/v1/sessions/{id}/input", "post", "200", "RunView"),
            ("/v1/sessions/{id}/runs", "post", "202", "RunView"),
            ("/v1/sessions/{id}/runs", "post", "200", "RunView"),
            ("/healthz", "get", "200", "Health"),
            ("/readyz", "get", "200", "Health"),
            ("/v1/secrets", "get", "200", "SecretList"),
            ("/v1/secrets", "post", "201", "SecretStored"),
            ("/v1/secrets", "post", "200", "SecretStored"),
            ("/v1/secrets/{ref}", "delete", "200", "SecretDeleted"),
            ("/v1/keys", "get", "200", "KeyList"),
            ("/v1/keys", "post", "201", "KeyCreated"),
            ("/v1/keys/{id}", "get", "200", "KeyAnswer"),
            ("/v1/keys/{id}", "patch", "200", "KeyAnswer"),
            ("/v1/keys/{id}", "delete", "200", "KeyAnswer"),
            ("/v1/status", "get", "200", "StatusView"),
            ("/v1/runtime", "get", "200", "RuntimeView"),
            ("/v1/runtime/model", "post", "200", "RuntimeView"),
            ("/v1/assets", "post", "201", "AssetUpload"),
            ("/v1/assets", "post", "200", "AssetUpload"),
            ("/v1/assets", "get", "200", "AssetPage"),
            ("/v1/assets/{id}", "get", "200", "AssetDetail"),
            ("/v1/assets/{id}", "delete", "200", "AssetDeleted"),
            ("/v1/sessions/{id}/messages", "get", "200", "SessionHistory"),
            ("/v1/sessions/{id}/runs", "get", "200", "SessionRuns"),
            (
                "/v1/tools/transcribe_audio",
                "post",
                "200",
                "TranscriptView",
            ),
            ("/v1/tools/{name}", "post", "200", "ToolOutput"),
            ("/v1/tools/{name}", "post", "202", "VideoJobView"),
            ("/v1/videos/{id}", "get", "200", "VideoJobView"),
            ("/v1/videos", "get", "200", "VideoJobList"),
            ("/v1/spend", "get", "200", "SpendReport"),
            ("/v1/models", "get", "200", "ModelsView"),
            ("/v1/models/status", "get", "200", "KeyStatus"),
            ("/v1/observations", "post", "201", "ObservationView"),
            ("/v1/openapi.json", "get", "200", "ApiDocument"),
        ] {
            let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
            assert_eq!(
                responses[status]["content"]["application/json"]["schema"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{method} {path} {status}"
            );
            // A view with a flattened part is `allOf` that part and its own fields.
            let view = &schemas[schema];
            assert!(
                view["properties"].is_object() || view["allOf"].is_array(),
                "{schema}: {view}"
            );
            let errors: Vec<_> = responses
                .iter()
                .filter(|(s, _)| s.starts_with('4') || s.starts_with('5'))
                .collect();
            assert!(!errors.is_empty(), "{method} {path}: no error responses");
            for (status, r) in errors {
                assert_eq!(
                    r["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
        let code = &schemas["Problem"]["properties"]["code"];
        assert_eq!(code["$ref"], "#/components/schemas/ProblemCode", "{code}");
        let codes = schemas["ProblemCode"]["enum"].as_array().unwrap();
        assert_eq!(codes.len(), ferry_types::ProblemCode::ALL.len());
        assert!(codes.iter().any(|c| c == "session_busy"));
        let required = &schemas["Problem"]["required"];
        for field in ["type", "title", "status", "code", "detail"] {
            assert!(
                required.as_array().unwrap().iter().any(|r| r == field),
                "{field}"
            );
        }
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(schemas[name].is_object(), "$ref to a missing schema {name}");
        }
    }

    /// No answer in the document is a bare `Object` any more: every JSON 2xx body is a
    /// named schema with its fields, and the OpenAI-shaped answers ferry builds are typed.
    #[test]
    fn no_answer_is_a_bare_object() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let mut bodies = 0;
        let mut bare = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in super::METHODS {
                let Some(op) = item.get(method) else { continue };
                for (status, r) in op["responses"].as_object().unwrap() {
                    if !status.starts_with('2') {
                        continue;
                    }
                    let Some(schema) = r["content"]["application/json"].get("schema") else {
                        continue;
                    };
                    bodies += 1;
                    let name = schema["$ref"]
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"));
                    let typed = name.is_some_and(|name| {
                        let view = &schemas[name];
                        view["properties"].is_object()
                            || view["allOf"].is_array()
                            || view["oneOf"].is_array()
                    });
                    if !typed {
                        bare.push(format!("{method} {path} {status}: {schema}"));
                    }
                }
            }
        }
        assert!(bare.is_empty(), "bare objects:\n{}", bare.join("\n"));
        assert!(bodies >= 40, "{bodies} JSON answers");
        for (path, schema) in [
            ("/openai/v1/images/generations", "ImagesAnswer"),
            ("/openai/v1/images/edits", "ImagesAnswer"),
            ("/openai/v1/audio/transcriptions", "TranscriptionAnswer"),
        ] {
            assert_eq!(
                doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
                    ["schema"]["$ref"],
                format!("#/components/schemas/{schema}"),
                "{path}"
            );
        }
        assert_eq!(
            doc["paths"]["/openai/v1/models/{model}"]["get"]["responses"]["200"]["content"]
                ["application/json"]["schema"]["$ref"],
            "#/components/schemas/FacadeModel"
        );
        assert_eq!(
            schemas["TranscriptionAnswer"]["oneOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        // Exactly one variant matches a verbose answer: the plain one allows no other field.
        assert_eq!(schemas["TranscriptText"]["additionalProperties"], false);
        let document: ferry_types::ApiDocument = serde_json::from_value(doc.clone()).unwrap();
        assert!(document.openapi.starts_with("3.1"), "{}", document.openapi);
    }
}
