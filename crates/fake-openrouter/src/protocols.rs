//! `POST /responses` and `POST /messages`: the same [`crate::Reply`] scripts as chat
//! completions, answered in OpenRouter's Responses and Anthropic Messages shapes (from
//! `openrouter-openapi.yaml`: `OpenResponsesResult`, `ResponsesStreamingResponse`,
//! `MessagesResult`, `MessagesStreamEvents`). Streams are SSE with `event:` names; a
//! Responses stream ends with `response.completed` (or `response.failed`) and
//! `data: [DONE]`, a Messages stream with `message_stop` (or `event: error`).

use std::collections::VecDeque;

use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::body::{ScriptBody, Step};
use crate::chat::{duration_ms, even_pieces, Answer, Context, Ending, StreamSteps};
use crate::respond::{self, FakeResponse};
use crate::wire::{self, Usage};

/// One SSE frame `event: NAME\ndata: JSON\n\n`.
fn frame(event: &str, data: &Value) -> Bytes {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(&serde_json::to_vec(data).unwrap_or_default());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Anthropic's error `type` for an HTTP status.
fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The error body `/messages` answers with: `{type: "error", error: {type, message}}`.
pub(crate) fn anthropic_error_body(status: u16, message: &str) -> Value {
    json!({
        "type": "error",
        "error": {"type": anthropic_error_type(status), "message": message},
        "request_id": null,
    })
}

fn error_message(error: &Value) -> String {
    error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("Provider returned error")
        .to_owned()
}

fn error_status(error: &Value) -> u16 {
    error
        .get("code")
        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(502)
}

/// A 200 whose JSON body is cut off halfway (the connection closes mid-body).
fn cut_off(whole: &Value) -> FakeResponse {
    let bytes = Bytes::from(serde_json::to_vec(whole).unwrap_or_default());
    let half = bytes.slice(..bytes.len() / 2);
    let steps = VecDeque::from(vec![Step::Data(half), Step::Abort]);
    respond::raw_json(StatusCode::OK, ScriptBody::streamed(steps))
}

// ---- Responses ----

fn responses_usage(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "cost": usage.cost,
        "is_byok": false,
    })
}

/// The `output[]` items of an answer: a message with its text, then function calls.
fn responses_output(ctx: &Context<'_>, answer: &Answer) -> Vec<Value> {
    let mut items = Vec::new();
    if let Some(text) = &answer.content {
        items.push(json!({
            "id": format!("msg_{}", ctx.completion.id),
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }));
    }
    for call in &answer.tool_calls {
        items.push(json!({
            "id": format!("fc_{}", call.id),
            "type": "function_call",
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "status": "completed",
        }));
    }
    items
}

fn response_object(
    ctx: &Context<'_>,
    status: &str,
    output: Vec<Value>,
    usage: Option<Usage>,
    error: Option<Value>,
) -> Value {
    json!({
        "id": format!("resp_{}", ctx.completion.id),
        "object": "response",
        "created_at": ctx.completion.created,
        "completed_at": (status == "completed").then_some(ctx.completion.created),
        "model": ctx.completion.model,
        "status": status,
        "error": error,
        "incomplete_details": null,
        "instructions": null,
        "max_output_tokens": null,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "temperature": null,
        "top_p": null,
        "metadata": null,
        "usage": usage.map(responses_usage),
    })
}

pub(crate) fn responses_whole(
    ctx: &mut Context<'_>,
    answer: &Answer,
    ending: Ending,
    usage: Usage,
) -> (FakeResponse, &'static str, u64) {
    let finish = answer.finish_reason();
    let body = match ending {
        Ending::Normal | Ending::StallThenNormal(_) => {
            if let Ending::StallThenNormal(silence) = ending {
                ctx.delay += silence;
            }
            response_object(
                ctx,
                "completed",
                responses_output(ctx, answer),
                Some(usage),
                None,
            )
        }
        Ending::Truncate | Ending::Malformed => {
            let whole = response_object(
                ctx,
                "completed",
                responses_output(ctx, answer),
                Some(usage),
                None,
            );
            return (cut_off(&whole), finish, 0);
        }
        Ending::TopLevelError(error) | Ending::ChoiceError(error) => {
            let error = json!({"code": "server_error", "message": error_message(&error)});
            let body = response_object(ctx, "failed", Vec::new(), Some(usage), Some(error));
            return (respond::json(StatusCode::OK, &body), "error", 0);
        }
    };
    (respond::json(StatusCode::OK, &body), finish, 0)
}

pub(crate) fn responses_streamed(
    ctx: &mut Context<'_>,
    answer: &Answer,
    ending: Ending,
    usage: Usage,
) -> (FakeResponse, &'static str, u64) {
    let mut steps = StreamSteps::new(ctx.chunk_delay, ctx.gate.take());
    let mut seq = 0u64;
    let mut event = |steps: &mut StreamSteps, payload: bool, kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        let bytes = frame(kind, &data);
        if payload {
            steps.payload(bytes);
        } else {
            steps.frame(bytes);
        }
    };
    steps.frame(Bytes::from_static(wire::PROCESSING));
    let created = response_object(ctx, "in_progress", Vec::new(), None, None);
    event(
        &mut steps,
        false,
        "response.created",
        json!({"response": created.clone()}),
    );
    event(
        &mut steps,
        false,
        "response.in_progress",
        json!({"response": created}),
    );
    steps.mark_gate_fallback();
    let mut index = 0usize;
    if let Some(text) = answer.content.as_deref() {
        let id = format!("msg_{}", ctx.completion.id);
        let item = json!({"id": id, "type": "message", "role": "assistant", "status": "in_progress", "content": []});
        event(
            &mut steps,
            false,
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        );
        event(
            &mut steps,
            false,
            "response.content_part.added",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for piece in &answer.pieces {
            event(
                &mut steps,
                true,
                "response.output_text.delta",
                json!({"item_id": id, "output_index": index, "content_index": 0, "delta": &text[piece.clone()], "logprobs": []}),
            );
        }
        if matches!(ending, Ending::Normal | Ending::StallThenNormal(_)) {
            event(
                &mut steps,
                false,
                "response.output_text.done",
                json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
            );
            event(
                &mut steps,
                false,
                "response.content_part.done",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}),
            );
            let done = json!({"id": id, "type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]});
            event(
                &mut steps,
                false,
                "response.output_item.done",
                json!({"output_index": index, "item": done}),
            );
        }
        index += 1;
    }
    for call in &answer.tool_calls {
        let id = format!("fc_{}", call.id);
        let item = json!({"id": id, "type": "function_call", "call_id": call.id, "name": call.name, "arguments": "", "status": "in_progress"});
        event(
            &mut steps,
            true,
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        );
        for piece in even_pieces(&call.arguments, 3) {
            event(
                &mut steps,
                true,
                "response.function_call_arguments.delta",
                json!({"item_id": id, "output_index": index, "delta": &call.arguments[piece]}),
            );
        }
        event(
            &mut steps,
            false,
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": index, "arguments": call.arguments}),
        );
        let done = json!({"id": id, "type": "function_call", "call_id": call.id, "name": call.name, "arguments": call.arguments, "status": "completed"});
        event(
            &mut steps,
            false,
            "response.output_item.done",
            json!({"output_index": index, "item": done}),
        );
        index += 1;
    }
    let mut extra = std::time::Duration::ZERO;
    let finish = match ending {
        Ending::Normal | Ending::StallThenNormal(_) => {
            if let Ending::StallThenNormal(silence) = ending {
                steps.pause(silence);
                extra = silence;
            }
            let done = response_object(
                ctx,
                "completed",
                responses_output(ctx, answer),
                Some(usage),
                None,
            );
            event(
                &mut steps,
                false,
                "response.completed",
                json!({"response": done}),
            );
            steps.frame(Bytes::from_static(wire::DONE));
            answer.finish_reason()
        }
        Ending::Truncate | Ending::Malformed => {
            steps.abort();
            answer.finish_reason()
        }
        Ending::TopLevelError(error) | Ending::ChoiceError(error) => {
            let error = json!({"code": "server_error", "message": error_message(&error)});
            let failed = response_object(ctx, "failed", Vec::new(), Some(usage), Some(error));
            event(
                &mut steps,
                false,
                "response.failed",
                json!({"response": failed}),
            );
            steps.frame(Bytes::from_static(wire::DONE));
            "error"
        }
    };
    let generation_time = duration_ms(steps.total_delay() + extra);
    (
        respond::event_stream(steps.finish()),
        finish,
        generation_time,
    )
}

// ---- Messages ----

fn messages_usage(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": null,
        "inference_geo": null,
        "output_tokens_details": null,
        "server_tool_use": null,
        "service_tier": "standard",
        "cost": usage.cost,
        "is_byok": false,
    })
}

fn stop_reason(answer: &Answer) -> &'static str {
    if answer.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

fn message_object(
    ctx: &Context<'_>,
    content: Vec<Value>,
    stop: Option<&str>,
    usage: Value,
) -> Value {
    json!({
        "id": format!("msg_{}", ctx.completion.id),
        "type": "message",
        "role": "assistant",
        "model": ctx.completion.model,
        "provider": ctx.completion.provider,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "stop_details": null,
        "container": null,
        "usage": usage,
    })
}

pub(crate) fn messages_whole(
    ctx: &mut Context<'_>,
    answer: &Answer,
    ending: Ending,
    usage: Usage,
) -> (FakeResponse, &'static str, u64) {
    let mut content = Vec::new();
    if let Some(reasoning) = &answer.reasoning {
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": "sig"}));
    }
    if let Some(text) = &answer.content {
        content.push(json!({"type": "text", "text": text, "citations": []}));
    }
    for call in &answer.tool_calls {
        let input: Value = serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    match ending {
        Ending::TopLevelError(error) | Ending::ChoiceError(error) => {
            let status = error_status(&error);
            let body = anthropic_error_body(status, &error_message(&error));
            (
                respond::json(respond::status_code(status), &body),
                "error",
                0,
            )
        }
        Ending::Truncate | Ending::Malformed => {
            let whole = message_object(
                ctx,
                content,
                Some(stop_reason(answer)),
                messages_usage(usage),
            );
            (cut_off(&whole), answer.finish_reason(), 0)
        }
        Ending::Normal | Ending::StallThenNormal(_) => {
            if let Ending::StallThenNormal(silence) = ending {
                ctx.delay += silence;
            }
            let body = message_object(
                ctx,
                content,
                Some(stop_reason(answer)),
                messages_usage(usage),
            );
            (
                respond::json(StatusCode::OK, &body),
                answer.finish_reason(),
                0,
            )
        }
    }
}

pub(crate) fn messages_streamed(
    ctx: &mut Context<'_>,
    answer: &Answer,
    ending: Ending,
    usage: Usage,
) -> (FakeResponse, &'static str, u64) {
    let mut steps = StreamSteps::new(ctx.chunk_delay, ctx.gate.take());
    let start_usage = json!({"input_tokens": usage.prompt_tokens, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
    let start = message_object(ctx, Vec::new(), None, start_usage);
    steps.frame(frame(
        "message_start",
        &json!({"type": "message_start", "message": start}),
    ));
    let mut index = 0usize;
    let block =
        |steps: &mut StreamSteps, index: usize, start: Value, deltas: Vec<Value>, stop: bool| {
            steps.frame(frame(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": start}),
            ));
            for delta in deltas {
                steps.payload(frame(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": delta}),
                ));
            }
            if stop {
                steps.frame(frame(
                    "content_block_stop",
                    &json!({"type": "content_block_stop", "index": index}),
                ));
            }
        };
    steps.frame(frame("ping", &json!({"type": "ping"})));
    steps.mark_gate_fallback();
    let normal = matches!(ending, Ending::Normal | Ending::StallThenNormal(_));
    if let Some(reasoning) = answer.reasoning.as_deref() {
        let deltas = vec![
            json!({"type": "thinking_delta", "thinking": reasoning}),
            json!({"type": "signature_delta", "signature": "sig"}),
        ];
        block(
            &mut steps,
            index,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
            deltas,
            true,
        );
        index += 1;
    }
    if let Some(text) = answer.content.as_deref() {
        let deltas = answer
            .pieces
            .iter()
            .map(|p| json!({"type": "text_delta", "text": &text[p.clone()]}))
            .collect();
        block(
            &mut steps,
            index,
            json!({"type": "text", "text": ""}),
            deltas,
            normal,
        );
        index += 1;
    }
    for call in &answer.tool_calls {
        let deltas = even_pieces(&call.arguments, 3)
            .into_iter()
            .map(|p| json!({"type": "input_json_delta", "partial_json": &call.arguments[p]}))
            .collect();
        block(
            &mut steps,
            index,
            json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}}),
            deltas,
            true,
        );
        index += 1;
    }
    let mut extra = std::time::Duration::ZERO;
    let finish = match ending {
        Ending::Normal | Ending::StallThenNormal(_) => {
            if let Ending::StallThenNormal(silence) = ending {
                steps.pause(silence);
                extra = silence;
            }
            let delta_usage = json!({"output_tokens": usage.completion_tokens, "cost": usage.cost, "input_tokens": null, "cache_creation_input_tokens": null, "cache_read_input_tokens": null, "server_tool_use": null});
            steps.frame(frame("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null}, "usage": delta_usage})));
            steps.frame(frame("message_stop", &json!({"type": "message_stop"})));
            answer.finish_reason()
        }
        Ending::Truncate | Ending::Malformed => {
            steps.abort();
            answer.finish_reason()
        }
        Ending::TopLevelError(error) | Ending::ChoiceError(error) => {
            let status = error_status(&error);
            let mut body = anthropic_error_body(status, &error_message(&error));
            body["error"]["error_type"] = json!("provider_error");
            steps.frame(frame("error", &body));
            "error"
        }
    };
    let generation_time = duration_ms(steps.total_delay() + extra);
    (
        respond::event_stream(steps.finish()),
        finish,
        generation_time,
    )
}
