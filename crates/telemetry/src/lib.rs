//! ferry-telemetry: OpenTelemetry traces of model calls, exported over OTLP/HTTP
//! (protobuf) to a collector (`serve --otlp-endpoint`). One span per session run or
//! OpenAI-facade call, named `chat {model}` with the GenAI semantic conventions
//! (`gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
//! `gen_ai.response.model`, `gen_ai.usage.input_tokens`/`output_tokens`,
//! `gen_ai.response.finish_reasons`, `gen_ai.conversation.id`) plus `ferry.*` attributes
//! (route, API surface, run id, cost in USD, error code). Never a key or a prompt.
//!
//! Spans are batched and sent from the SDK's own thread; its HTTP requests run on the
//! daemon's tokio runtime through [`RuntimeHttpClient`] (the workspace's reqwest), so no
//! second HTTP stack is built. No global state: the daemon owns one [`Traces`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry::trace::{Span, SpanKind, Status, Tracer, TracerProvider};
use opentelemetry::KeyValue;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

/// The OTLP/HTTP path of traces, appended to an endpoint given without it.
pub const TRACES_PATH: &str = "/v1/traces";
/// Longest wait for one export request.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The endpoint is not an http(s) URL.
    #[error(
        "--otlp-endpoint {0:?} is not an http:// or https:// URL (e.g. http://127.0.0.1:4318)"
    )]
    BadEndpoint(String),
    /// The exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
}

/// One model call as a span describes it.
#[derive(Debug, Clone, Default)]
pub struct ModelCall<'a> {
    /// `sessions` or `openai` (ferry's API surface).
    pub api: &'a str,
    /// The route.
    pub route: &'a str,
    /// The model asked for (the wire id).
    pub request_model: &'a str,
    /// The model that answered, when known.
    pub response_model: Option<&'a str>,
    /// Prompt tokens.
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    pub output_tokens: Option<u64>,
    /// Cost in USD credits.
    pub cost: Option<f64>,
    /// Why the model stopped (`stop`, `length`, `tool_calls`, …).
    pub finish_reasons: Vec<String>,
    /// The problem code of a failure.
    pub error_code: Option<&'a str>,
    /// The run, when the call is one.
    pub run_id: Option<&'a str>,
    /// The session (GenAI `gen_ai.conversation.id`).
    pub session_id: Option<&'a str>,
    /// When the call started.
    pub started: Option<SystemTime>,
    /// When it ended.
    pub ended: Option<SystemTime>,
}

/// The daemon's tracer and its exporter pipeline.
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Traces {
    /// Starts exporting to `endpoint` (`http://host:4318`, or the full `…/v1/traces` URL).
    /// Must be called inside the tokio runtime that will carry the export requests.
    pub fn start(endpoint: &str, http: reqwest::Client) -> Result<Traces, TelemetryError> {
        let url = traces_url(endpoint)?;
        let client = RuntimeHttpClient {
            http,
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?,
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let resource = Resource::builder()
            .with_service_name("ferry")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("ferry");
        Ok(Traces { provider, tracer })
    }

    /// Records one finished model call as a span.
    pub fn record(&self, call: &ModelCall<'_>) {
        let mut attrs = vec![
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "openrouter"),
            KeyValue::new("gen_ai.system", "openrouter"),
            KeyValue::new("gen_ai.request.model", call.request_model.to_string()),
            KeyValue::new("ferry.api", call.api.to_string()),
            KeyValue::new("ferry.route", call.route.to_string()),
        ];
        let mut opt = |key: &'static str, v: Option<opentelemetry::Value>| {
            if let Some(v) = v {
                attrs.push(KeyValue::new(key, v));
            }
        };
        let int = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX).into());
        let text = |s: Option<&str>| s.map(|s| s.to_string().into());
        opt("gen_ai.response.model", text(call.response_model));
        opt("gen_ai.usage.input_tokens", int(call.input_tokens));
        opt("gen_ai.usage.output_tokens", int(call.output_tokens));
        opt("gen_ai.usage.cost", call.cost.map(Into::into));
        opt("gen_ai.conversation.id", text(call.session_id));
        opt("ferry.run_id", text(call.run_id));
        opt("error.type", text(call.error_code));
        if !call.finish_reasons.is_empty() {
            let reasons: Vec<opentelemetry::StringValue> = call
                .finish_reasons
                .iter()
                .map(|r| r.clone().into())
                .collect();
            attrs.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                opentelemetry::Value::Array(reasons.into()),
            ));
        }
        let mut builder = self
            .tracer
            .span_builder(format!("chat {}", call.request_model))
            .with_kind(SpanKind::Client)
            .with_attributes(attrs);
        if let Some(t) = call.started {
            builder = builder.with_start_time(t);
        }
        let mut span = builder.start(&self.tracer);
        if let Some(code) = call.error_code {
            span.set_status(Status::error(code.to_string()));
        }
        match call.ended {
            Some(t) => span.end_with_timestamp(t),
            None => span.end(),
        }
    }

    /// Sends what is buffered and stops the exporter (blocks; call off the runtime's
    /// worker threads, e.g. in `spawn_blocking`).
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "OTLP exporter did not shut down cleanly");
        }
    }
}

/// `endpoint` as the traces URL: checked, with `/v1/traces` appended unless present.
pub fn traces_url(endpoint: &str) -> Result<String, TelemetryError> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let ok = (trimmed.starts_with("http://") || trimmed.starts_with("https://"))
        && trimmed
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty());
    if !ok {
        return Err(TelemetryError::BadEndpoint(endpoint.to_string()));
    }
    Ok(if trimmed.ends_with(TRACES_PATH) {
        trimmed.to_string()
    } else {
        format!("{trimmed}{TRACES_PATH}")
    })
}

/// The OTLP exporter's HTTP client: the SDK's export thread hands each request to the
/// daemon's tokio runtime and waits for the answer.
#[derive(Debug, Clone)]
pub struct RuntimeHttpClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let task = self.runtime.spawn(async move {
            let (parts, body) = request.into_parts();
            let mut rb = http.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                rb = rb.header(name, value);
            }
            let resp = rb.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = task.await??;
        let mut out = Response::builder().status(status.as_u16());
        for (name, value) in &headers {
            out = out.header(name.as_str(), value.as_bytes());
        }
        Ok(out.body(body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_the_traces_path_once() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/v1/traces/").unwrap(),
            "https://otel.example/v1/traces"
        );
        assert!(traces_url("127.0.0.1:4318").is_err());
        assert!(traces_url("http://").is_err());
    }
}
