//! The PostgreSQL rows of the bench (spec §15, §12 — issue 16 item 6): durable session
//! inputs with the store on PostgreSQL, through one replica and through three behind a
//! round-robin client, against the same upstream streamed directly in the same run. The
//! cluster is a throwaway one started here (`initdb` + `postgres` from the machine's
//! PostgreSQL, `fsync=on` as a real server runs, on every core rather than the load driver's
//! one, as a database runs on its own host) and stopped at the end; without
//! PostgreSQL installed the bench says so and skips these rows.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_store_pg::test_cluster::TestCluster;

use crate::daemon::Daemon;
use crate::load::{self, Sample};
use crate::procfs::CoreTimes;
use crate::scenarios::session_input;

/// What the PostgreSQL scenarios measured.
pub struct Measured {
    /// The reference: one-row INSERTs committed synchronously by a plain client, one at a
    /// time — the floor any durable write on this cluster and disk pays.
    pub commit: Sample,
    /// The upstream streamed directly, in alternation with `one_latency`.
    pub one_direct: Sample,
    /// Session inputs through one replica at the latency concurrency.
    pub one_latency: Sample,
    /// … at the throughput concurrency.
    pub one_throughput: Sample,
    /// The CPU steal during `one_latency`, per core ([`crate::procfs::CoreTimes`]).
    pub one_latency_steal: String,
    /// The upstream streamed directly, in alternation with `three_latency`.
    pub three_direct: Sample,
    /// Session inputs spread over three replicas at the latency concurrency.
    pub three_latency: Sample,
    /// The CPU steal during `three_latency`.
    pub three_latency_steal: String,
    /// … at the throughput concurrency.
    pub three_throughput: Sample,
}

/// Session inputs, request `i` to `bases[i % len]`, each in a new session.
async fn inputs(
    http: &reqwest::Client,
    bases: &Arc<Vec<String>>,
    c: usize,
    n: usize,
    tag: &'static str,
) -> Sample {
    let (h, b) = (http.clone(), Arc::clone(bases));
    load::run(c, n, move |i| {
        let base = &b[i % b.len()];
        crate::scenarios::full(session_input(&h, base, &format!("{tag}-{i}")))
    })
    .await
}

/// Session inputs as [`inputs`] does, in alternation with the small chat request streamed
/// straight to the upstream's chat endpoint `direct` ([`crate::scenarios::paired`]):
/// (direct, through the replicas).
async fn inputs_paired(
    http: &reqwest::Client,
    direct: &Arc<String>,
    bases: &Arc<Vec<String>>,
    c: usize,
    n: usize,
    tag: &'static str,
) -> (Sample, Sample) {
    let (d, b) = (Arc::clone(direct), Arc::clone(bases));
    crate::scenarios::paired(
        http,
        c,
        n,
        (move |h, _| crate::scenarios::direct_chat(h, &d, true), None),
        (
            move |h, i| session_input(h, &b[i % b.len()], &format!("{tag}-{i}")),
            None,
        ),
    )
    .await
}

/// Runs the scenarios: replicas on `pin` (all on the daemon core), latency at `lc` (each
/// input in alternation with a request streamed straight to `direct`, the upstream's chat
/// endpoint), throughput at `c`, `n` requests each. `Err` says why they could not run.
pub async fn measure(
    ferry: &PathBuf,
    upstream: &str,
    direct: &Arc<String>,
    pin: Option<usize>,
    http: &reqwest::Client,
    (lc, c, n): (usize, usize, usize),
) -> Result<Measured, String> {
    let cluster = TestCluster::start_with(true)?;
    if let Some(pid) = cluster.pid() {
        crate::daemon::unpin_tree(pid);
    }
    let url = cluster.new_database().await?;
    let commit = durable_commits(&url, n).await?;
    let extra = ["--database-url", url.as_str()];
    let first = Daemon::start_with(ferry, upstream, pin, &extra).await?;
    let one = Arc::new(vec![first.url.clone()]);
    // Warm-up: connections, pool, caches — and the database past its first thousands of
    // rows: a fresh one's tables and indexes grow from nothing (new pages, the first
    // automatic ANALYZE and the plans it invalidates), which a deployed database did long
    // ago and which lengthened the tail of what follows.
    inputs(http, &one, c, n.max(200), "pw").await;
    let before = CoreTimes::now();
    let (one_direct, one_latency) = inputs_paired(http, direct, &one, lc, n, "p1l").await;
    let one_latency_steal = CoreTimes::now().steal_note(&before);
    let one_throughput = inputs(http, &one, c, n, "p1t").await;
    let second = Daemon::start_with(ferry, upstream, pin, &extra).await?;
    let third = Daemon::start_with(ferry, upstream, pin, &extra).await?;
    let three = Arc::new(vec![
        first.url.clone(),
        second.url.clone(),
        third.url.clone(),
    ]);
    inputs(http, &three, c, 200, "pw3").await;
    let before = CoreTimes::now();
    let (three_direct, three_latency) = inputs_paired(http, direct, &three, lc, n, "p3l").await;
    let three_latency_steal = CoreTimes::now().steal_note(&before);
    let three_throughput = inputs(http, &three, c, n, "p3t").await;
    drop((first, second, third));
    drop(cluster);
    Ok(Measured {
        commit,
        one_direct,
        one_latency,
        one_latency_steal,
        one_throughput,
        three_direct,
        three_latency,
        three_latency_steal,
        three_throughput,
    })
}

/// `n` one-row INSERTs on `url`, each its own synchronously committed transaction, one at
/// a time over one connection with a prepared statement.
async fn durable_commits(url: &str, n: usize) -> Result<Sample, String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE bench_commits (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)")
        .await
        .map_err(|e| e.to_string())?;
    let insert = client
        .prepare("INSERT INTO bench_commits (note) VALUES ($1)")
        .await
        .map_err(|e| e.to_string())?;
    let client = Arc::new(client);
    let insert = Arc::new(insert);
    Ok(load::run(1, n, move |_| {
        let (client, insert) = (Arc::clone(&client), Arc::clone(&insert));
        async move {
            let started = std::time::Instant::now();
            client
                .execute(insert.as_ref(), &[&"a run's end"])
                .await
                .map_err(|e| e.to_string())?;
            Ok(started.elapsed())
        }
    })
    .await)
}
