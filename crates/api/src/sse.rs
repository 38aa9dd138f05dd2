//! Server-sent events for runs: replay from `Last-Event-ID`, then the live tail, each event
//! forwarded as it happens (`id:` = seq, `event:` = kind, `data:` = JSON).

use ferry_types::ProblemCode;
use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ferry_engine::{Event, Subscription};
use futures::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

fn to_sse(ev: &Event) -> SseEvent {
    let event = SseEvent::default().id(ev.seq.to_string()).event(ev.kind());
    // A payload is plain data and always serialises; `json_data` cannot fail on it.
    match event.json_data(ev.event.payload()) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(seq = ev.seq, error = %e, "run event payload not serialisable");
            SseEvent::default()
                .id(ev.seq.to_string())
                .event(ev.kind())
                .data("null")
        }
    }
}

/// The event stream of a subscription; it ends after the run's terminal event.
pub fn event_stream(sub: Subscription) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    let Subscription { replay, live, hub } = sub;
    let last = replay.last().map(|e| e.seq);
    let replay_done = replay.iter().any(Event::is_terminal);
    let replay_stream = stream::iter(replay.into_iter().map(|e| Ok(to_sse(&e))));
    let live_stream = stream::unfold(
        (live.filter(|_| !replay_done), last, false, hub),
        |(rx, mut last, done, hub)| async move {
            if done {
                return None;
            }
            let mut rx = rx?;
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        if last.is_some_and(|l| ev.seq <= l) {
                            continue;
                        }
                        last = Some(ev.seq);
                        let terminal = ev.is_terminal();
                        return Some((vec![ev], (Some(rx), last, terminal, hub)));
                    }
                    Err(RecvError::Lagged(_)) => {
                        let missed = hub.events_after(last.unwrap_or(0));
                        if missed.is_empty() {
                            continue;
                        }
                        last = missed.last().map(|e| e.seq);
                        let terminal = missed.iter().any(Event::is_terminal);
                        return Some((missed, (Some(rx), last, terminal, hub)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
    .flat_map(|batch| stream::iter(batch.into_iter().map(|e| Ok(to_sse(&e)))));
    replay_stream.chain(live_stream)
}

/// An SSE response for a subscription.
pub fn sse_response(sub: Subscription) -> Response {
    Sse::new(event_stream(sub))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Parses `Last-Event-ID` (or `?after=`) into a seq; a header that is not a seq (ferry
/// only ever sends numbers as event ids) is a 400, not a silent replay from the start.
pub fn last_event_id(
    headers: &axum::http::HeaderMap,
    query_after: Option<u64>,
) -> Result<u64, crate::problem::Problem> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(query_after.unwrap_or(0));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| {
            crate::problem::Problem::new(
                400,
                ProblemCode::InvalidLastEventId,
                "Last-Event-ID must be the id of an event this run sent (a whole number); omit it to replay from the start",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_engine::LiveRun;
    use ferry_types::{RunCompleted, RunEvent, TextDelta};
    use http_body_util::BodyExt;
    use serde_json::json;

    /// A subscriber that falls far behind the live ring still gets every event once, in
    /// order, recovered from the run's log.
    #[tokio::test]
    async fn a_lagging_subscriber_recovers_every_event_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferry_store::Store::open(dir.path()).unwrap();
        let hub = LiveRun::new("run_x".into(), "s".into(), std::sync::Arc::new(store));
        let sub = hub.subscribe(0);
        let total = ferry_engine::LIVE_BUFFER * 4;
        for i in 0..total {
            hub.emit(RunEvent::OutputDelta(TextDelta {
                text: format!("{i} "),
            }));
        }
        let (terminal, _) = hub.prepare(RunEvent::RunCompleted(RunCompleted {
            output: json!({"text": "…"}).into(),
            usage: None,
            cost: None,
            model: None,
            duration_ms: 0,
        }));
        hub.publish(terminal);
        let body = sse_response(sub)
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let ids: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("id:"))
            .map(|v| v.trim().parse().unwrap())
            .collect();
        assert_eq!(ids, (1..=total as u64 + 1).collect::<Vec<_>>());
        assert!(text.contains("event: run.completed"));
    }
}
