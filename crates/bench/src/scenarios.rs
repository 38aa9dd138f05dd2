//! The benchmark scenarios and the report. Every "added" figure is a difference against the
//! same fake upstream driven directly in the same run, at the same concurrency.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_fake_openrouter::{FakeOpenRouter, Reply};
use futures::StreamExt;
use serde_json::json;
use tokio::process::Command;

use crate::daemon::{pin_self_away_from, Daemon};
use crate::load::{self, Sample};
use crate::nginx::{self, Nginx};
use crate::procfs::{anon_rss_bytes, cpu_during, rss_bytes};
use crate::wrk::{Wrk, WrkRun};
use crate::Args;

const KEY: &str = "sk-or-v1-bench";

fn ferry_path(args: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &args.ferry {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let p = exe
        .parent()
        .map(|d| d.join("ferry"))
        .ok_or("cannot locate the ferry binary; pass --ferry")?;
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} not found: build it first (`cargo build --release --bin ferry --bin ferry-bench`) or pass --ferry",
            p.display()
        ))
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(4096)
        .http1_only()
        .build()
        .expect("http client")
}

/// Time to the whole response body.
pub(crate) async fn full(rb: reqwest::RequestBuilder) -> Result<Duration, String> {
    let t = Instant::now();
    let resp = rb.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(t.elapsed())
}

/// Time until `marker` first appears in the streamed body (then the rest is drained).
async fn until_marker(
    rb: reqwest::RequestBuilder,
    marker: &'static [u8],
) -> Result<Duration, String> {
    let t = Instant::now();
    let resp = rb.send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let mut stream = resp.bytes_stream();
    let mut seen: Vec<u8> = Vec::new();
    let mut first = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if first.is_none() {
            seen.extend_from_slice(&chunk);
            if seen.windows(marker.len()).any(|w| w == marker) {
                first = Some(t.elapsed());
            }
        }
    }
    first.ok_or_else(|| "the stream ended without the first token".to_string())
}

/// The bench's session input, `POST {base}/v1/sessions/{session}/input`: the session is
/// new when its id is.
pub(crate) fn session_input(
    http: &reqwest::Client,
    base: &str,
    session: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{base}/v1/sessions/{session}/input"))
        .json(&json!({"content": "hello there, how are you today"}))
}

/// The small chat request sent straight to the fake upstream at `upstream`.
pub(crate) fn direct_chat(
    http: &reqwest::Client,
    upstream: &str,
    stream: bool,
) -> reqwest::RequestBuilder {
    http.post(upstream)
        .bearer_auth(KEY)
        .json(&chat_body(stream))
}

fn chat_body(stream: bool) -> serde_json::Value {
    json!({"model": "openai/gpt-5.4-mini", "stream": stream,
           "messages": [{"role": "user", "content": "hello there, how are you today"}]})
}

/// The body ferry sends the upstream for one streamed session turn, as the fake received
/// it (recording is on for that one request only).
async fn session_turn_body(
    fake: &FakeOpenRouter,
    http: &reqwest::Client,
    base: &str,
) -> Result<Vec<u8>, String> {
    fake.clear_requests();
    fake.set_recording(true);
    let turn = until_marker(
        session_input(http, base, "turn-body").header("accept", "text/event-stream"),
        b"event: output.delta",
    )
    .await;
    fake.set_recording(false);
    let sent = fake.chat_requests().pop();
    fake.clear_requests();
    turn?;
    let body = sent
        .ok_or("the fake recorded no chat request for the session turn")?
        .raw_body;
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if v["stream"] == json!(true) => Ok(body),
        _ => Err("the session turn's upstream body is not a streamed chat request".into()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Row {
    figure: String,
    direct: String,
    ferry: String,
    added: String,
    target: &'static str,
}

fn latency_rows(
    name: &str,
    direct: &Sample,
    through: &Sample,
    p99_target: &'static str,
    p50_target: &'static str,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (p, target) in [(50.0, p50_target), (99.0, p99_target)] {
        let d = direct.percentile(p);
        let f = through.percentile(p);
        rows.push(Row {
            figure: format!("{name} p{p:.0}"),
            direct: format!("{:.3} ms", ms(d)),
            ferry: format!("{:.3} ms", ms(f)),
            added: format!("{:+.3} ms", ms(f) - ms(d)),
            target,
        });
    }
    rows
}

/// Runs every scenario and returns the Markdown report.
pub async fn run_all(args: &Args) -> Result<String, String> {
    let ferry = ferry_path(args)?;
    let fake = FakeOpenRouter::try_start().map_err(|e| e.to_string())?;
    fake.set_recording(false);
    fake.set_api_key(KEY);
    let pin = (!args.no_pin).then_some(args.daemon_core);
    if pin.is_some() {
        pin_self_away_from(args.daemon_core);
    }
    let daemon = Daemon::start(&ferry, &fake.base_url(), pin).await?;
    let http = client();
    let upstream = Arc::new(format!("{}/chat/completions", fake.base_url()));
    let (c, n) = (args.concurrency, args.requests);
    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let lc = args.latency_concurrency;
    let cores_at_start = crate::procfs::CoreTimes::now();
    let sqlite_runs = match args.only_postgres {
        true => None,
        false => Some(
            sqlite_rows(
                args,
                &ferry,
                &fake,
                &daemon,
                pin,
                &http,
                &upstream,
                (lc, c, n),
                &mut rows,
                &mut notes,
            )
            .await?,
        ),
    };
    // The store on PostgreSQL: one replica, then three behind a round-robin client.
    postgres_rows(
        &ferry,
        &fake,
        pin,
        &http,
        &upstream,
        (lc, c, n),
        sqlite_runs,
        &mut rows,
        &mut notes,
    )
    .await?;
    notes.push(format!(
        "CPU time stolen by the hypervisor over the whole run (a figure far from other runs' with a large share here measured a busy host, not ferry): {}",
        crate::procfs::CoreTimes::now().steal_note(&cores_at_start)
    ));
    Ok(render(&rows, &notes, (lc, c, n), pin))
}

/// Every row but the PostgreSQL ones (the embedded SQLite store, the facade, the
/// references); answers the SQLite session runs/s the PostgreSQL note compares with.
#[allow(clippy::too_many_arguments)]
async fn sqlite_rows(
    args: &Args,
    ferry: &PathBuf,
    fake: &FakeOpenRouter,
    daemon: &Daemon,
    pin: Option<usize>,
    http: &reqwest::Client,
    upstream: &Arc<String>,
    (lc, c, n): (usize, usize, usize),
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<f64, String> {
    let pid = daemon.pid();
    let base = Arc::new(daemon.url.clone());
    // Warm-up: connections, allocator, SQLite pages.
    {
        let (h, b) = (http.clone(), base.clone());
        load::run(c, 200, move |i| {
            let rb = h
                .post(format!("{b}/v1/sessions/warm-{i}/input"))
                .json(&json!({"content": "hi"}));
            full(rb)
        })
        .await;
    }
    // Idle: the daemon hands what the warm-up freed back to the OS on the first quiet
    // second after it (src/memory.rs), so up to 2 s after the last request.
    tokio::time::sleep(IDLE_SETTLE).await;
    let idle_rss = rss_bytes(pid).unwrap_or(0);
    let idle_anon = anon_rss_bytes(pid).unwrap_or(0);

    // OpenAI facade, non-streaming: added latency at `latency_concurrency`, then
    // throughput and the daemon's CPU per request at `concurrency`.
    let facade_url = Arc::new(format!("{}/openai/v1/chat/completions", daemon.url));
    let (direct_ns, facade_ns) = {
        let (u, f) = (upstream.clone(), facade_url.clone());
        paired(
            http,
            lc,
            n,
            (move |h, _| direct_chat(h, &u, false), None),
            (move |h, _| h.post(f.as_str()).json(&chat_body(false)), None),
        )
        .await
    };
    check(&direct_ns, "direct non-streaming")?;
    check(&facade_ns, "facade non-streaming")?;
    rows.extend(latency_rows(
        &format!("facade non-streaming, concurrency {lc}"),
        &direct_ns,
        &facade_ns,
        "—",
        "—",
    ));
    let direct_ns_tp = direct_calls(http, upstream, false, c, n).await;
    let (facade_tp, cpu_facade) =
        cpu_during(pid, facade_calls(http, &facade_url, c, n, false, None)).await;
    check(&facade_tp, "facade throughput")?;
    rows.extend(latency_rows(
        &format!("facade non-streaming, concurrency {c}"),
        &direct_ns_tp,
        &facade_tp,
        "—",
        "—",
    ));
    rows.push(Row {
        figure: format!("facade throughput, concurrency {c}"),
        direct: format!("{:.0} req/s", direct_ns_tp.throughput()),
        ferry: format!("{:.0} req/s", facade_tp.throughput()),
        added: "—".into(),
        target: "—",
    });
    rows.push(cpu_row(
        "daemon CPU per facade request",
        cpu_facade,
        &facade_tp,
        "— (spec §12 judges it against the nginx hop: rows below)",
    ));
    // The same with a virtual key carrying a budget and rpm/tpm limits (spec §14).
    let key = bench_key(http, &base).await?;
    let (keyed_tp, cpu_keyed) = cpu_during(
        pid,
        facade_calls(http, &facade_url, c, n, false, Some(key.clone())),
    )
    .await;
    check(&keyed_tp, "facade throughput with a key")?;
    let mut keyed = cpu_row(
        "daemon CPU per facade request, key + budget + rate limit",
        cpu_keyed,
        &keyed_tp,
        "≤ +10% of the row above",
    );
    keyed.added = format!(
        "{:+.0}%",
        (keyed_tp.cpu_ms_per_request(cpu_keyed)
            / facade_tp.cpu_ms_per_request(cpu_facade).max(1e-12)
            - 1.0)
            * 100.0
    );
    rows.push(keyed);
    if let Some(overhead) = key_overhead_by_wrk(pid, &facade_url, &key, c, pin).await? {
        rows.push(overhead);
    }
    let (direct_ttft, facade_ttft) = {
        let (u, f) = (upstream.clone(), facade_url.clone());
        let token: &'static [u8] = b"\"content\":\"echo:";
        paired(
            http,
            lc,
            n,
            (move |h, _| direct_chat(h, &u, true), Some(token)),
            (
                move |h, _| h.post(f.as_str()).json(&chat_body(true)),
                Some(token),
            ),
        )
        .await
    };
    check(&direct_ttft, "direct TTFT")?;
    check(&facade_ttft, "facade TTFT")?;
    rows.extend(latency_rows(
        &format!("facade streaming TTFT, concurrency {lc}"),
        &direct_ttft,
        &facade_ttft,
        "—",
        "≤ 0.2 ms added",
    ));

    // Streaming time to first token: a session input streamed over SSE, measured like the
    // facade's (above), before the durable write bursts below: after thousands of fsynced
    // runs the kernel is still writing back the database and its WAL, which slowed every
    // request that followed (the facade's TTFT too, 2–3×). Its direct reference asks the
    // upstream what ferry asks it for a session turn (the route's tools included), so the
    // added figure is ferry's, not the upstream's work on a larger body.
    let turn_body = bytes::Bytes::from(session_turn_body(fake, http, &base).await?);
    let (direct_turn_ttft, ferry_ttft) = {
        let (u, body, b) = (upstream.clone(), turn_body.clone(), base.clone());
        paired(
            http,
            lc,
            n,
            (
                move |h, _| {
                    h.post(u.as_str())
                        .bearer_auth(KEY)
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                Some(b"\"content\":\"echo:"),
            ),
            (
                move |h, i| {
                    session_input(h, &b, &format!("t-{i}")).header("accept", "text/event-stream")
                },
                Some(b"event: output.delta"),
            ),
        )
        .await
    };
    check(&direct_turn_ttft, "direct TTFT of a session turn's body")?;
    check(&ferry_ttft, "session TTFT")?;
    let mut session_ttft = latency_rows(
        &format!("streaming TTFT (session SSE), concurrency {lc}"),
        &direct_turn_ttft,
        &ferry_ttft,
        "—",
        "≤ the facade's added + 0.05 ms",
    );
    let added = |through: &Sample, direct: &Sample| {
        ms(through.percentile(50.0)) - ms(direct.percentile(50.0))
    };
    let facade_added = added(&facade_ttft, &direct_ttft);
    let gap = added(&ferry_ttft, &direct_turn_ttft) - facade_added;
    let small_body_added = added(&ferry_ttft, &direct_ttft);
    session_ttft[0].added = format!("{} ({gap:+.3} ms over the facade's)", session_ttft[0].added);
    rows.extend(session_ttft);
    notes.push(format!(
        "The session stream's direct reference sends the upstream the body ferry sends for a session turn ({} bytes, the route's tools included; the facade's is {} bytes): p50 {:.3} ms against {:.3} ms for the facade's small body. Against the small body the session stream would read {:+.3} ms added, {:+.3} ms over the facade's.",
        turn_body.len(),
        chat_body(true).to_string().len(),
        ms(direct_turn_ttft.percentile(50.0)),
        ms(direct_ttft.percentile(50.0)),
        small_body_added,
        small_body_added - facade_added,
    ));

    // Session input (durable persistence) vs the same upstream streamed directly (ferry
    // streams from upstream too): added latency at `latency_concurrency`, then throughput
    // and the daemon's CPU per request at `concurrency`.
    let (direct_stream, session) = {
        let (u, b) = (upstream.clone(), base.clone());
        paired(
            http,
            lc,
            n,
            (move |h, _| direct_chat(h, &u, true), None),
            (move |h, i| session_input(h, &b, &format!("s-{i}")), None),
        )
        .await
    };
    check(&direct_stream, "direct streaming")?;
    check(&session, "session input")?;
    rows.extend(latency_rows(
        &format!("session input (durable), concurrency {lc}"),
        &direct_stream,
        &session,
        "—",
        "—",
    ));
    let direct_tp = direct_calls(http, upstream, true, c, n).await;
    let (session_tp, cpu_session) = cpu_during(pid, session_inputs(http, &base, c, n, "u")).await;
    check(&session_tp, "session input throughput")?;
    rows.extend(latency_rows(
        &format!("session input (durable), concurrency {c}"),
        &direct_tp,
        &session_tp,
        "—",
        "—",
    ));
    rows.push(Row {
        figure: format!("session input throughput, concurrency {c}"),
        direct: format!("{:.0} req/s", direct_tp.throughput()),
        ferry: format!("{:.0} req/s", session_tp.throughput()),
        added: "—".into(),
        target: "—",
    });
    let mut session_cpu = cpu_row(
        "daemon CPU per session input",
        cpu_session,
        &session_tp,
        "≤ 3× the facade request's",
    );
    session_cpu.added = format!(
        "{:.1}× the facade request's",
        session_tp.cpu_ms_per_request(cpu_session)
            / facade_tp.cpu_ms_per_request(cpu_facade).max(1e-12)
    );
    rows.push(session_cpu);
    if let Some(ratio) = session_ratio_by_wrk(pid, &daemon.url, c, pin).await? {
        rows.push(ratio);
    }

    // The other client protocols against the same fake, then every facade endpoint's CPU
    // per request against a bare nginx hop in front of a fixed-answer nginx upstream.
    protocol_rows(http, fake, &daemon.url, lc, n, rows).await?;
    nginx_rows(args, ferry, http, pin, rows, notes).await?;

    // RSS with many concurrent streams held open by slow upstream replies: first facade
    // streams (the proxy path), then session streams (engine, events, persistence).
    let streams = args.streams;
    let facade_peak = held_streams(fake, pid, streams, notes, {
        let (h, u) = (http.clone(), facade_url.clone());
        move |_| until_marker(h.post(u.as_str()).json(&chat_body(true)), b"[DONE]")
    })
    .await;
    let session_peak = held_streams(fake, pid, streams, notes, {
        let (h, b) = (http.clone(), base.clone());
        move |i| {
            until_marker(
                h.post(format!("{b}/v1/sessions/m-{i}/input"))
                    .header("accept", "text/event-stream")
                    .json(&json!({"content": "stream please"})),
                b"event: run.completed",
            )
        }
    })
    .await;
    rows.push(Row {
        figure: "daemon RSS idle (3 s after the warm-up)".into(),
        direct: "—".into(),
        ferry: format!("{:.1} MB", idle_rss as f64 / 1e6),
        added: format!(
            "of which private (anonymous) {:.1} MB, mapped files {:.1} MB",
            idle_anon as f64 / 1e6,
            idle_rss.saturating_sub(idle_anon) as f64 / 1e6
        ),
        target: "≤ 25 MB",
    });
    rows.push(Row {
        figure: format!("daemon RSS peak, {streams} concurrent facade streams"),
        direct: "—".into(),
        ferry: format!("{:.1} MB", facade_peak as f64 / 1e6),
        added: "—".into(),
        target: "≤ 120 MB",
    });
    rows.push(Row {
        figure: format!("daemon RSS peak, {streams} concurrent session streams"),
        direct: "—".into(),
        ferry: format!("{:.1} MB", session_peak as f64 / 1e6),
        added: "—".into(),
        target: "≤ 120 MB",
    });

    Ok(session_tp.throughput())
}

/// The Markdown report of the rows and notes.
fn render(
    rows: &[Row],
    notes: &[String],
    (lc, c, n): (usize, usize, usize),
    pin: Option<usize>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ferry-bench: {n} requests per scenario; latency at concurrency {lc}, throughput and CPU at concurrency {c}; daemon {}",
        match pin {
            Some(core) => format!("pinned to core {core}"),
            None => "not pinned".to_string(),
        }
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| figure | direct to upstream | through ferry | added | target (spec §12) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.figure, r.direct, r.ferry, r.added, r.target
        );
    }
    for note in notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}

/// The PostgreSQL rows (issue 16 item 6): session inputs through one replica and three,
/// against the upstream streamed directly in the same run.
#[allow(clippy::too_many_arguments)]
async fn postgres_rows(
    ferry: &PathBuf,
    fake: &FakeOpenRouter,
    pin: Option<usize>,
    http: &reqwest::Client,
    upstream: &Arc<String>,
    (lc, c, n): (usize, usize, usize),
    sqlite_runs: Option<f64>,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let direct_pg_tp = direct_calls(http, upstream, true, c, n).await;
    match crate::replicas::measure(ferry, &fake.base_url(), upstream, pin, http, (lc, c, n)).await {
        Ok(m) => {
            check(&m.commit, "PostgreSQL durable commit")?;
            for (figure, p) in [("p50", 50.0), ("p99", 99.0)] {
                rows.push(Row {
                    figure: format!(
                        "reference: one-row durable commit on the same PostgreSQL, concurrency 1 {figure}"
                    ),
                    direct: "—".into(),
                    ferry: format!("{:.3} ms", ms(m.commit.percentile(p))),
                    added: "—".into(),
                    target: "—",
                });
            }
            for (name, direct, through, target) in [
                (
                    format!("session input on PostgreSQL, 1 replica, concurrency {lc}"),
                    &m.one_direct,
                    &m.one_latency,
                    "≤ 5 ms added",
                ),
                (
                    format!("session input on PostgreSQL, 1 replica, concurrency {c}"),
                    &direct_pg_tp,
                    &m.one_throughput,
                    "—",
                ),
                (
                    format!("session input on PostgreSQL, 3 replicas, concurrency {lc}"),
                    &m.three_direct,
                    &m.three_latency,
                    "≤ 5 ms added",
                ),
                (
                    format!("session input on PostgreSQL, 3 replicas, concurrency {c}"),
                    &direct_pg_tp,
                    &m.three_throughput,
                    "—",
                ),
            ] {
                check(through, &name)?;
                rows.extend(latency_rows(&name, direct, through, target, "—"));
            }
            for (replicas, sample) in [(1, &m.one_throughput), (3, &m.three_throughput)] {
                rows.push(Row {
                    figure: format!(
                        "session runs/s on PostgreSQL, {replicas} replica(s), concurrency {c}"
                    ),
                    direct: format!("{:.0} req/s", direct_pg_tp.throughput()),
                    ferry: format!("{:.0} runs/s", sample.throughput()),
                    added: "—".into(),
                    target: "—",
                });
            }
            notes.push(format!(
                "the PostgreSQL rows ran against a throwaway PostgreSQL cluster on this machine (fsync on, unpinned), the replicas all pinned {}; compare them with the SQLite session rows above ({} runs/s in this run); CPU time stolen by the hypervisor during the concurrency-{lc} rows: 1 replica {}; 3 replicas {}",
                pin.map_or("nowhere".to_string(), |c| format!("to core {c}")),
                sqlite_runs.map_or_else(|| "not measured".to_owned(), |r| format!("{r:.0}")),
                m.one_latency_steal,
                m.three_latency_steal,
            ));
        }
        Err(e) => notes.push(format!("PostgreSQL rows skipped: {e}")),
    }

    Ok(())
}

/// The daemon's CPU seconds over a scenario, per request served.
fn cpu_row(figure: &str, cpu_seconds: f64, sample: &Sample, target: &'static str) -> Row {
    Row {
        figure: figure.into(),
        direct: "—".into(),
        ferry: format!("{:.3} ms", sample.cpu_ms_per_request(cpu_seconds)),
        added: "—".into(),
        target,
    }
}

/// Holds `streams` concurrent streams open against slow upstream replies and returns the
/// daemon's peak RSS meanwhile.
async fn held_streams<F, Fut>(
    fake: &FakeOpenRouter,
    pid: u32,
    streams: usize,
    notes: &mut Vec<String>,
    request: F,
) -> u64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Duration, String>> + Send,
{
    let words: String = (0..40).map(|i| format!("w{i} ")).collect();
    for _ in 0..streams {
        fake.push(Reply::text(words.clone()).chunk_delay(Duration::from_millis(60)));
    }
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(r) = rss_bytes(pid) {
                    peak.fetch_max(r, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let held = load::run(streams, streams, request).await;
    sampler.abort();
    if held.errors > 0 {
        notes.push(format!(
            "{} of {streams} concurrent streams failed (first error: {})",
            held.errors,
            held.first_error.clone().unwrap_or_default()
        ));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    peak.load(std::sync::atomic::Ordering::Relaxed)
}

/// Facade calls, presenting `key` (a virtual key) when given.
async fn facade_calls(
    http: &reqwest::Client,
    url: &Arc<String>,
    c: usize,
    n: usize,
    stream: bool,
    key: Option<Arc<String>>,
) -> Sample {
    let (h, u) = (http.clone(), url.clone());
    load::run(c, n, move |_| {
        let mut rb = h.post(u.as_str()).json(&chat_body(stream));
        if let Some(k) = &key {
            rb = rb.bearer_auth(k.as_str());
        }
        full(rb)
    })
    .await
}

/// A virtual key with a budget and rate limits far above what the benchmark uses, so
/// every request takes the whole admission path (hash lookup, both limiters, a
/// reservation against the budget, the ledger row) and none is refused.
async fn bench_key(http: &reqwest::Client, base: &str) -> Result<Arc<String>, String> {
    let resp = http
        .post(format!("{base}/v1/keys"))
        .json(
            &json!({"name": "bench", "budget_usd": 1_000_000_000.0, "period": "month",
                      "rpm": 1_000_000_000u32, "tpm": 4_000_000_000u32}),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    v["secret"]
        .as_str()
        .map(|s| Arc::new(s.to_owned()))
        .ok_or_else(|| format!("cannot create the bench key: {v}"))
}

/// wrk pinned to the core the daemon is not pinned to, with a directory for its scripts;
/// none when wrk is not installed.
fn wrk_beside(pin: Option<usize>) -> Result<Option<(tempfile::TempDir, Wrk)>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wrk = Wrk::find(dir.path(), pin.map(|core| usize::from(core == 0)));
    Ok(wrk.map(|wrk| (dir, wrk)))
}

/// The key's overhead measured as the nginx rows are (when wrk is installed): plain and
/// keyed facade requests alternate, 5 s each, twice, and the lower CPU per request of each
/// kind is compared — the client-driven rows above last ~0.1 s, so /proc's 10 ms ticks
/// are ±12 % of each figure, more than the +10 % the target allows.
async fn key_overhead_by_wrk(
    pid: u32,
    facade_url: &str,
    key: &str,
    c: usize,
    pin: Option<usize>,
) -> Result<Option<Row>, String> {
    let Some((_scripts, wrk)) = wrk_beside(pin)? else {
        return Ok(None);
    };
    let driver = Driver::Wrk(&wrk);
    let (mut plain, mut keyed) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        let p = driver
            .measure(pid, facade_url, chat_body(false), None, c)
            .await?;
        let k = driver
            .measure(pid, facade_url, chat_body(false), Some(key), c)
            .await?;
        plain = plain.min(p.cpu_ms);
        keyed = keyed.min(k.cpu_ms);
    }
    Ok(Some(Row {
        figure: format!(
            "daemon CPU per facade request, plain → key + budget + rate limit, wrk 2 × 5 s each, concurrency {c}"
        ),
        direct: "—".into(),
        ferry: format!("{plain:.4} → {keyed:.4} ms"),
        added: format!("{:+.1}%", (keyed / plain.max(1e-12) - 1.0) * 100.0),
        target: "≤ +10%",
    }))
}

/// The session input's CPU against the facade request's, both driven by wrk as the nginx
/// rows are (when wrk is installed): facade requests and session inputs (each to a new
/// session) alternate, 5 s each after a 1 s warm-up, twice, and the lower CPU per request
/// of each is compared. The client-driven rows above last a fraction of a second each, so
/// /proc's 10 ms ticks move their ratio by ±10 % and more.
async fn session_ratio_by_wrk(
    pid: u32,
    base: &str,
    c: usize,
    pin: Option<usize>,
) -> Result<Option<Row>, String> {
    let Some((_scripts, wrk)) = wrk_beside(pin)? else {
        return Ok(None);
    };
    let facade_url = format!("{base}/openai/v1/chat/completions");
    let input = json!({"content": "hello there, how are you today"}).to_string();
    let driver = Driver::Wrk(&wrk);
    let (mut facade, mut session) = (f64::MAX, f64::MAX);
    for round in 0..2 {
        let m = driver
            .measure(pid, &facade_url, chat_body(false), None, c)
            .await?;
        facade = facade.min(m.cpu_ms);
        let sessions = |phase: &str| format!("/v1/sessions/wrk-{round}-{phase}-");
        let warm = sessions("warm");
        wrk.post_numbered(base, (&warm, "/input"), &input, c, WRK_WARM_UP)
            .await?;
        let each = sessions("measured");
        let (run, cpu) = cpu_during(
            pid,
            wrk.post_numbered(base, (&each, "/input"), &input, c, WRK_MEASURED),
        )
        .await;
        session = session.min(Measured::of_wrk(run?, cpu, "session inputs")?.cpu_ms);
    }
    // The durable runs' pages are still being written back; later rows would time that.
    let _ = Command::new("sync").status().await;
    Ok(Some(Row {
        figure: format!(
            "daemon CPU per session input vs facade request, wrk 2 × 5 s each, concurrency {c}"
        ),
        direct: format!("facade {facade:.4} ms"),
        ferry: format!("{session:.4} ms"),
        added: format!("{:.1}× the facade request's", session / facade.max(1e-12)),
        target: "≤ 3× the facade request's",
    }))
}

/// `n` of [`direct_chat`]'s requests (streamed or not) at concurrency `c`, read whole.
async fn direct_calls(
    http: &reqwest::Client,
    upstream: &Arc<String>,
    stream: bool,
    c: usize,
    n: usize,
) -> Sample {
    let (h, u) = (http.clone(), upstream.clone());
    load::run(c, n, move |_| full(direct_chat(&h, &u, stream))).await
}

async fn session_inputs(
    http: &reqwest::Client,
    base: &Arc<String>,
    c: usize,
    n: usize,
    tag: &'static str,
) -> Sample {
    let (h, b) = (http.clone(), base.clone());
    load::run(c, n, move |i| {
        full(session_input(&h, &b, &format!("{tag}-{i}")))
    })
    .await
}

fn check(s: &Sample, name: &str) -> Result<(), String> {
    if s.latencies.is_empty() {
        return Err(format!(
            "{name}: every request failed (first error: {})",
            s.first_error.clone().unwrap_or_default()
        ));
    }
    if s.errors > 0 {
        eprintln!(
            "warning: {name}: {} requests failed (first error: {})",
            s.errors,
            s.first_error.clone().unwrap_or_default()
        );
    }
    Ok(())
}

/// One facade protocol in the bench: its path on ferry, its upstream path, a request body,
/// and the marker of its first streamed token (none: it does not stream).
struct Endpoint {
    name: &'static str,
    path: &'static str,
    upstream: &'static str,
    body: fn(bool) -> serde_json::Value,
    token: Option<&'static [u8]>,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        name: "chat",
        path: "/openai/v1/chat/completions",
        upstream: "chat/completions",
        body: chat_body,
        token: Some(b"\"content\":\"echo:"),
    },
    Endpoint {
        name: "responses",
        path: "/openai/v1/responses",
        upstream: "responses",
        body: |stream| json!({"model": "openai/gpt-5.4-mini", "stream": stream, "input": "hello there, how are you today"}),
        token: Some(b"\"delta\":\"echo:"),
    },
    Endpoint {
        name: "messages",
        path: "/anthropic/v1/messages",
        upstream: "messages",
        body: |stream| json!({"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hello there, how are you today"}]}),
        token: Some(b"\"text\":\"echo:"),
    },
    Endpoint {
        name: "embeddings",
        path: "/openai/v1/embeddings",
        upstream: "embeddings",
        body: |_| json!({"model": "openai/text-embedding-3-small", "input": "hello there, how are you today"}),
        token: None,
    },
];

/// Runs `n` requests of `body` against `url` at concurrency `c` (bearer auth when `key`).
async fn calls(
    http: &reqwest::Client,
    url: String,
    body: serde_json::Value,
    bearer: Option<&str>,
    c: usize,
    n: usize,
) -> Sample {
    let (h, u, b) = (http.clone(), Arc::new(url), Arc::new(body));
    let bearer: Option<Arc<str>> = bearer.map(Arc::from);
    load::run(c, n, move |_| {
        let mut rb = h.post(u.as_str()).json(b.as_ref());
        if let Some(key) = &bearer {
            rb = rb.bearer_auth(key);
        }
        full(rb)
    })
    .await
}

/// `n` requests of endpoint `e` to the fake's endpoint of its protocol (`upstream`) and
/// `n` through ferry (`through`), in alternation ([`paired`]): streamed and read up to
/// `marker` when one is given, else not streamed and read whole.
async fn protocol_pair(
    http: &reqwest::Client,
    upstream: &str,
    through: &str,
    e: &Endpoint,
    marker: Option<&'static [u8]>,
    c: usize,
    n: usize,
) -> (Sample, Sample) {
    let body = Arc::new((e.body)(marker.is_some()));
    let (u, b) = (upstream.to_owned(), body.clone());
    let t = through.to_owned();
    paired(
        http,
        c,
        n,
        (
            move |h, _| h.post(u.as_str()).bearer_auth(KEY).json(b.as_ref()),
            marker,
        ),
        (move |h, _| h.post(t.as_str()).json(body.as_ref()), marker),
    )
    .await
}

/// `n` requests to a reference and `n` through ferry, in alternation at concurrency `c`
/// ([`load::run_paired`]), so that the two samples share the machine's state and their
/// difference is ferry's. Each kind is a request builder (given the client and the index
/// of its own request, 0 to `n`) and how it is read: up to its first token (the marker),
/// or whole.
pub(crate) async fn paired<R, T>(
    http: &reqwest::Client,
    c: usize,
    n: usize,
    reference: (R, Option<&'static [u8]>),
    through: (T, Option<&'static [u8]>),
) -> (Sample, Sample)
where
    R: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
    T: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let h = http.clone();
    load::run_paired(c, n, move |i| {
        let (rb, marker) = match i % 2 {
            0 => ((reference.0)(&h, i / 2), reference.1),
            _ => ((through.0)(&h, i / 2), through.1),
        };
        async move {
            match marker {
                Some(marker) => until_marker(rb, marker).await,
                None => full(rb).await,
            }
        }
    })
    .await
}

/// Added latency (non-streaming p50/p99) and streaming TTFT of Responses, Messages and
/// embeddings, each against the fake's endpoint of the same protocol.
async fn protocol_rows(
    http: &reqwest::Client,
    fake: &FakeOpenRouter,
    ferry: &str,
    lc: usize,
    n: usize,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    for e in ENDPOINTS.iter().filter(|e| e.name != "chat") {
        let upstream = format!("{}/{}", fake.base_url(), e.upstream);
        let through = format!("{ferry}{}", e.path);
        let (direct, facade) = protocol_pair(http, &upstream, &through, e, None, lc, n).await;
        check(&direct, &format!("direct {}", e.name))?;
        check(&facade, &format!("facade {}", e.name))?;
        rows.extend(latency_rows(
            &format!("{} non-streaming, concurrency {lc}", e.name),
            &direct,
            &facade,
            "—",
            "—",
        ));
        if let Some(marker) = e.token {
            let (direct, facade) =
                protocol_pair(http, &upstream, &through, e, Some(marker), lc, n).await;
            check(&direct, &format!("direct {} TTFT", e.name))?;
            check(&facade, &format!("facade {} TTFT", e.name))?;
            rows.extend(latency_rows(
                &format!("{} streaming TTFT, concurrency {lc}", e.name),
                &direct,
                &facade,
                "—",
                "≤ 0.2 ms added",
            ));
        }
    }
    Ok(())
}

/// CPU per request and req/s of every facade endpoint (non-streaming, at `concurrency`)
/// against a bare nginx reverse-proxy hop, both pinned alone to the daemon core, both in
/// front of the same fixed-answer nginx upstream on the other core.
async fn nginx_rows(
    args: &Args,
    ferry: &PathBuf,
    http: &reqwest::Client,
    pin: Option<usize>,
    rows: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let Some(bin) = nginx::find() else {
        notes.push("nginx is not installed (Debian `nginx-light`): the nginx-hop reference rows are skipped".into());
        return Ok(());
    };
    let (c, n) = (args.concurrency, args.requests);
    let other_core = pin.map(|core| usize::from(core == 0));
    let upstream = Nginx::fixed_upstream(&bin, other_core).await?;
    let hop = Nginx::proxy_hop(&bin, &upstream.url, pin).await?;
    // A second ferry, alone on the daemon core once the first one is idle, in front of the
    // fixed upstream.
    let gateway = Daemon::start(ferry, &format!("{}/api/v1", upstream.url), pin).await?;
    let wrk_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let wrk = Wrk::find(wrk_dir.path(), other_core);
    let driver = match &wrk {
        Some(wrk) => Driver::Wrk(wrk),
        None => {
            notes.push(format!(
                "wrk is not installed (Debian `wrk`): the nginx-hop rows ran on the bench's own client, {n} requests each, which does not saturate the gateway; their CPU figures have the 10 ms resolution of /proc over a fraction of a second"
            ));
            Driver::Client { http, n }
        }
    };
    let hop_chat = format!("{}/api/v1/chat/completions", hop.url);
    let direct = driver
        .measure(
            upstream.pid(),
            &format!("{}/api/v1/chat/completions", upstream.url),
            chat_body(false),
            Some(KEY),
            c,
        )
        .await?;
    let through_hop = driver
        .measure(hop.pid(), &hop_chat, chat_body(false), Some(KEY), c)
        .await?;
    let (hop_cpu, hop_rps) = (through_hop.cpu_ms, through_hop.rate);
    rows.push(Row {
        figure: format!("reference: bare nginx hop, chat, concurrency {c}"),
        direct: format!("{:.0} req/s", direct.rate),
        ferry: format!("{hop_rps:.0} req/s, CPU {hop_cpu:.4} ms/req"),
        added: "—".into(),
        target: "(the reference)",
    });
    latency_vs_hop(
        http,
        &upstream.url,
        &hop_chat,
        &gateway.url,
        (args.latency_concurrency, n),
        rows,
    )
    .await?;
    for e in ENDPOINTS {
        let url = format!("{}{}", gateway.url, e.path);
        let through = driver
            .measure(gateway.pid(), &url, (e.body)(false), None, c)
            .await
            .map_err(|err| format!("ferry {} vs nginx: {err}", e.name))?;
        rows.push(Row {
            figure: format!("ferry {} vs nginx hop, concurrency {c}", e.name),
            direct: format!("nginx {hop_cpu:.4} ms/req, {hop_rps:.0} req/s"),
            ferry: format!("{:.4} ms/req, {:.0} req/s", through.cpu_ms, through.rate),
            added: format!(
                "CPU {:.2}× nginx, {:.0}% of its req/s",
                through.cpu_ms / hop_cpu.max(1e-9),
                100.0 * through.rate / hop_rps.max(1e-9)
            ),
            target: "≤ 1.5× CPU, ≥ 65% req/s",
        });
    }
    // An agent's request (Claude Code's, Codex's) is tens of KB of conversation and tool
    // definitions: the same comparison with such a body on both sides.
    for (name, path, upstream_path, body) in [
        (
            "messages",
            "/anthropic/v1/messages",
            "messages",
            agent_body(AgentDialect::Messages),
        ),
        (
            "chat",
            "/openai/v1/chat/completions",
            "chat/completions",
            agent_body(AgentDialect::Chat),
        ),
    ] {
        let size = body.to_string().len() / 1024;
        let hop_url = format!("{}/api/v1/{upstream_path}", hop.url);
        let by_hop = driver
            .measure(hop.pid(), &hop_url, body.clone(), Some(KEY), c)
            .await?;
        let url = format!("{}{path}", gateway.url);
        let through = driver
            .measure(gateway.pid(), &url, body, None, c)
            .await
            .map_err(|err| format!("ferry {name} (agent-sized) vs nginx: {err}"))?;
        rows.push(Row {
            figure: format!(
                "ferry {name}, an agent's {size} KB body, vs nginx hop, concurrency {c}"
            ),
            direct: format!(
                "nginx {:.4} ms/req, {:.0} req/s",
                by_hop.cpu_ms, by_hop.rate
            ),
            ferry: format!("{:.4} ms/req, {:.0} req/s", through.cpu_ms, through.rate),
            added: format!(
                "CPU {:.2}× nginx, {:.0}% of its req/s",
                through.cpu_ms / by_hop.cpu_ms.max(1e-9),
                100.0 * through.rate / by_hop.rate.max(1e-9)
            ),
            target: "(an agent's body; spec §12 names none)",
        });
    }
    Ok(())
}

/// The protocol an [`agent_body`] is written in.
#[derive(Clone, Copy)]
enum AgentDialect {
    Messages,
    Chat,
}

/// A request the size and shape of a coding agent's (~50 KB): a long system prompt, 15
/// tool definitions with JSON schemas, and 20 rounds of user text, assistant text with a
/// tool call, and the tool's result. Deterministic.
fn agent_body(dialect: AgentDialect) -> serde_json::Value {
    const WORDS: &[&str] = &[
        "the",
        "file",
        "contains",
        "a",
        "function",
        "that",
        "reads",
        "configuration",
        "and",
        "returns",
        "an",
        "error",
        "when",
        "path",
        "is",
        "missing",
        "so",
        "we",
        "should",
        "check",
        "it",
        "first",
        "before",
        "running",
        "tests",
        "again",
    ];
    let mut seed: u64 = 7;
    let mut text = |n: usize| -> String {
        let mut out = String::new();
        for i in 0..n {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i > 0 {
                out.push(' ');
            }
            out.push_str(WORDS[(seed >> 33) as usize % WORDS.len()]);
        }
        out
    };
    let schema = |text: &mut dyn FnMut(usize) -> String| {
        let properties: serde_json::Map<String, serde_json::Value> = (0..5)
            .map(|j| {
                (
                    format!("arg{j}"),
                    json!({"type": "string", "description": text(12)}),
                )
            })
            .collect();
        json!({"type": "object", "properties": properties, "required": ["arg0"]})
    };
    let system = text(400);
    let tools: Vec<(String, String, serde_json::Value)> = (0..15)
        .map(|i| (format!("Tool{i}"), text(60), schema(&mut text)))
        .collect();
    let mut messages = Vec::new();
    match dialect {
        AgentDialect::Messages => {
            for i in 0..20 {
                messages
                    .push(json!({"role": "user", "content": [{"type": "text", "text": text(80)}]}));
                messages.push(json!({"role": "assistant", "content": [
                    {"type": "text", "text": text(60)},
                    {"type": "tool_use", "id": format!("toolu_{i}"), "name": "Tool1", "input": {"arg0": text(5)}}]}));
                messages.push(json!({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": format!("toolu_{i}"), "content": text(120)}]}));
            }
            messages.push(json!({"role": "user", "content": [{"type": "text",
                "text": "hello there, how are you today", "cache_control": {"type": "ephemeral"}}]}));
            let tools: Vec<_> = tools
                .into_iter()
                .map(|(name, description, schema)| {
                    json!({"name": name, "description": description, "input_schema": schema})
                })
                .collect();
            json!({"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64,
                   "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                   "tools": tools, "messages": messages})
        }
        AgentDialect::Chat => {
            messages.push(json!({"role": "system", "content": system}));
            for i in 0..20 {
                messages.push(json!({"role": "user", "content": text(80)}));
                let arguments = json!({"arg0": text(5)}).to_string();
                messages.push(
                    json!({"role": "assistant", "content": text(60), "tool_calls": [
                    {"id": format!("call_{i}"), "type": "function",
                     "function": {"name": "Tool1", "arguments": arguments}}]}),
                );
                messages.push(json!({"role": "tool", "tool_call_id": format!("call_{i}"), "content": text(120)}));
            }
            messages.push(json!({"role": "user", "content": "hello there, how are you today"}));
            let tools: Vec<_> = tools
                .into_iter()
                .map(|(name, description, schema)| {
                    json!({"type": "function", "function": {"name": name, "description": description, "parameters": schema}})
                })
                .collect();
            json!({"model": "openai/gpt-5.4-mini", "tools": tools, "messages": messages})
        }
    }
}

/// The latency a hop adds at low concurrency, where waking an idle core costs more than
/// the hop's own work: the fixed nginx upstream directly, through the bare nginx hop and
/// through ferry's chat facade, `n` requests each on the bench's own client at
/// concurrency `lc`. The hop's figure is the same-run reference for spec §12's
/// added-latency targets.
async fn latency_vs_hop(
    http: &reqwest::Client,
    upstream: &str,
    hop_chat: &str,
    gateway: &str,
    (lc, n): (usize, usize),
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    // The key goes to nginx as in the CPU rows; ferry, like there, is called without one
    // (it sends its route's key upstream).
    let urls = [
        (format!("{upstream}/api/v1/chat/completions"), Some(KEY)),
        (hop_chat.to_owned(), Some(KEY)),
        (format!("{gateway}/openai/v1/chat/completions"), None),
    ];
    let mut samples = Vec::with_capacity(urls.len());
    for (url, key) in urls {
        let _ = calls(http, url.clone(), chat_body(false), key, lc, 200).await;
        let sample = calls(http, url.clone(), chat_body(false), key, lc, n).await;
        check(&sample, &url)?;
        samples.push(sample);
    }
    let [direct, hop, ferry] = &samples[..] else {
        unreachable!("three samples were taken")
    };
    rows.extend(latency_rows(
        &format!("reference: bare nginx hop, chat, concurrency {lc}"),
        direct,
        hop,
        "(the reference)",
        "(the reference)",
    ));
    rows.extend(latency_rows(
        &format!("ferry chat in front of the same nginx upstream, concurrency {lc}"),
        direct,
        ferry,
        "—",
        "—",
    ));
    let added = |s: &Sample| ms(s.percentile(50.0)) - ms(direct.percentile(50.0));
    rows.push(Row {
        figure: format!("ferry chat vs nginx hop, added latency, concurrency {lc} p50"),
        direct: format!("nginx hop {:+.3} ms", added(hop)),
        ferry: format!("{:+.3} ms", added(ferry)),
        added: format!("{:.2}× the hop's", added(ferry) / added(hop).max(1e-6)),
        target: "(spec §12's added-latency targets are absolute; this is their reference)",
    });
    Ok(())
}

/// What drives the load of the nginx comparison: wrk for a fixed time when installed (the
/// method of issue 10), else the bench's own client for a fixed number of requests.
enum Driver<'a> {
    Wrk(&'a Wrk),
    Client { http: &'a reqwest::Client, n: usize },
}

/// One measured load: requests per second, and the CPU per request of the process watched.
struct Measured {
    rate: f64,
    cpu_ms: f64,
}

impl Measured {
    /// What a wrk run did while the watched process spent `cpu` seconds; an error when
    /// an answer was not 2xx or none came (`what` names the load).
    fn of_wrk(run: WrkRun, cpu: f64, what: &str) -> Result<Measured, String> {
        if run.failed > 0 || run.requests == 0 {
            return Err(format!(
                "{what}: {} of {} answers were not 2xx",
                run.failed, run.requests
            ));
        }
        Ok(Measured {
            rate: run.rate,
            cpu_ms: cpu * 1000.0 / run.requests as f64,
        })
    }
}

/// How long after the warm-up the idle RSS is read: the daemon is quiet by then.
const IDLE_SETTLE: Duration = Duration::from_secs(3);

/// How long wrk warms a path up, then measures it.
const WRK_WARM_UP: Duration = Duration::from_secs(1);
const WRK_MEASURED: Duration = Duration::from_secs(5);

impl Driver<'_> {
    /// Warms `url` up, then loads it at concurrency `c` while watching `pid`'s CPU time;
    /// `bearer` is sent as `Authorization: Bearer`.
    async fn measure(
        &self,
        pid: u32,
        url: &str,
        body: serde_json::Value,
        bearer: Option<&str>,
        c: usize,
    ) -> Result<Measured, String> {
        match self {
            Driver::Wrk(wrk) => {
                let body = body.to_string();
                wrk.post(url, &body, bearer, c, WRK_WARM_UP).await?;
                let (run, cpu) =
                    cpu_during(pid, wrk.post(url, &body, bearer, c, WRK_MEASURED)).await;
                Measured::of_wrk(run?, cpu, url)
            }
            Driver::Client { http, n } => {
                let _ = calls(http, url.to_owned(), body.clone(), bearer, c, 500).await;
                let (sample, cpu) =
                    cpu_during(pid, calls(http, url.to_owned(), body, bearer, c, *n)).await;
                check(&sample, url)?;
                Ok(Measured {
                    rate: sample.throughput(),
                    cpu_ms: sample.cpu_ms_per_request(cpu),
                })
            }
        }
    }
}
