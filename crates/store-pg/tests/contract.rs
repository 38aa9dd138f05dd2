//! The storage contract, written once over `Arc<dyn Storage>` and run against both
//! backends: SQLite in a temporary state root and PostgreSQL in a throwaway cluster
//! (`initdb` + `postgres` on loopback; the test fails when PostgreSQL is missing). Every
//! scenario gets a fresh database.

use std::future::Future;
use std::sync::Arc;

use ferry_store::prelude::*;
use ferry_store::{
    AssetFilter, AssetInsert, Creation, LedgerEntry, NewAsset, NewEvent, NewRun, NewSession,
    NewVideoJob, RunFilter, RunFinish, RunStart, RunStatus, SessionAtCreation, SessionPatch,
    SpendGrouping, Storage, Store, StoreError, UsageObject, VideoJobUpdate,
};
use ferry_store_pg::test_cluster::TestCluster;
use ferry_store_pg::PgStore;
use serde_json::json;

type Backend = Arc<dyn Storage>;

fn run(id: &str, session: &str, key: Option<&str>) -> NewRun {
    NewRun {
        id: id.into(),
        session_id: session.into(),
        input: json!({"input": id, "z": 1, "a": 2}),
        idempotency_key: key.map(Into::into),
        acknowledged: true,
    }
}

fn start() -> RunStart {
    RunStart {
        route: "openrouter".into(),
        model_requested: "openrouter/auto".into(),
        started_at: time::OffsetDateTime::now_utc(),
    }
}

fn finish(id: &str, status: RunStatus, messages: Vec<serde_json::Value>, seq: u64) -> RunFinish {
    RunFinish {
        run_id: id.into(),
        start: None,
        status,
        model_served: Some("m".into()),
        usage: UsageObject::from_value(&json!({"prompt_tokens": 3, "completion_tokens": 4}))
            .map(Into::into),
        cost: Some(0.5),
        output: Some(json!({"text": "hi"}).into()),
        error_code: None,
        error_message: None,
        attempts: json!([{"route": "openrouter"}]),
        cache_status: None,
        generation_id: Some(format!("gen-{id}")),
        messages,
        events: vec![NewEvent::new(seq, "run.completed", &json!({"ok": true})).unwrap()],
    }
}

/// Whatever a run's end wrote (a failure with its error, a start carried by the end, an
/// idempotency key, usage with fractions, no output), `finish_run` answers the run exactly
/// as a later read finds it.
async fn every_end_answers_what_a_read_finds(s: Backend) {
    let ends = [
        (RunStatus::Failed, Some("upstream_error"), true, None),
        (
            RunStatus::Cancelled,
            Some("run_cancelled"),
            false,
            Some("key-2"),
        ),
        (RunStatus::Interrupted, Some("interrupted"), true, None),
        (RunStatus::Completed, None, false, Some("key-4")),
    ];
    for (i, (status, code, with_start, key)) in ends.into_iter().enumerate() {
        let id = format!("e{i}");
        s.create_run(run(&id, "ends", key)).await.unwrap();
        let mut fin = finish(&id, status, Vec::new(), 1);
        fin.start = with_start.then(start);
        fin.error_code = code.map(Into::into);
        fin.error_message = code.map(|c| format!("it ended: {c} \"quoted\""));
        fin.usage = UsageObject::from_value(
            &json!({"prompt_tokens": 3, "cost": 6.5999999999999995e-6, "n": -1}),
        )
        .map(Into::into);
        fin.output = None;
        fin.cost = Some(0.1 + 0.2);
        fin.generation_id = None;
        fin.cache_status = Some("HIT".into());
        let ended = s.finish_run(fin.into()).await.unwrap();
        let read = s.get_run(&id).await.unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&ended).unwrap(),
            serde_json::to_value(&read).unwrap(),
            "{status:?}"
        );
        assert_eq!(read.status, status);
        assert_eq!(read.started_at.is_some(), with_start, "{status:?}");
    }
}

async fn sessions_and_history(s: Backend) {
    let made = s
        .create_session(NewSession {
            id: "a".into(),
            pinned_selector: Some("openrouter/x".into()),
            system_prompt: None,
        })
        .await
        .unwrap();
    assert_eq!(made.pinned_selector.as_deref(), Some("openrouter/x"));
    assert!(matches!(
        s.create_session(NewSession {
            id: "a".into(),
            ..Default::default()
        })
        .await,
        Err(StoreError::SessionExists { .. })
    ));
    assert!(!s.ensure_session("a").await.unwrap().1);
    assert!(s.ensure_session("b").await.unwrap().1);
    s.ensure_session("c").await.unwrap();
    let page = s.list_sessions(None, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    let page = s.list_sessions(Some("b"), 2).await.unwrap();
    assert_eq!(
        page.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    let patched = s
        .update_session(
            "a",
            SessionPatch {
                pinned_selector: Some(None),
                system_prompt: Some(Some("be brief".into())),
                speak_replies: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.pinned_selector, None);
    assert_eq!(patched.system_prompt.as_deref(), Some("be brief"));
    assert!(matches!(
        s.update_session("nope", SessionPatch::default()).await,
        Err(StoreError::SessionNotFound { .. })
    ));
    let stored = s
        .append_messages(
            "a",
            vec![json!({"role": "user", "content": "x", "b": 1, "a": 0})],
        )
        .await
        .unwrap();
    assert_eq!(stored[0].seq, 1);
    assert!(matches!(
        s.append_messages("a", vec![json!({"content": "no role"})])
            .await,
        Err(StoreError::InvalidMessage { index: 0, .. })
    ));
    assert!(matches!(
        s.append_messages("nope", vec![json!({"role": "user"})])
            .await,
        Err(StoreError::SessionNotFound { .. })
    ));
    let history = s.history("a").await.unwrap();
    assert_eq!(history.len(), 1);
    // Key order survives the round trip.
    assert_eq!(
        history[0].body.to_string(),
        r#"{"role":"user","content":"x","b":1,"a":0}"#
    );
    assert_eq!(s.get_session("a").await.unwrap().unwrap().message_count, 1);
    assert!(s.get_session("zzz").await.unwrap().is_none());
}

async fn runs_events_and_end(s: Backend) {
    let (first, in_line) = match s
        .create_run_planned(run("r1", "s", Some("k")), None)
        .await
        .unwrap()
    {
        Creation::Inserted { run, in_line, .. } => (run, in_line),
        other => panic!("expected an inserted run, got {other:?}"),
    };
    // A store that tells whether the new run is first in its session tells the truth.
    assert!(matches!(in_line, None | Some(true)), "{in_line:?}");
    assert_eq!(first.status, RunStatus::Queued);
    assert_eq!(
        s.get_run("r1").await.unwrap().unwrap().created_at,
        first.created_at
    );
    let again = s.create_run(run("r1-again", "s", Some("k"))).await.unwrap();
    match again {
        ferry_store::InsertOutcome::Existing(r) => assert_eq!(r.id, "r1"),
        other => panic!("expected the earlier run, got {other:?}"),
    }
    s.append_events(
        "r1",
        Some(start()),
        vec![
            NewEvent::new(1, "run.started", &json!({})).unwrap(),
            NewEvent::new(2, "output.delta", &json!({"text": "h"})).unwrap(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_run("r1").await.unwrap().unwrap().status,
        RunStatus::Running
    );
    let ended = s
        .finish_run(
            finish(
                "r1",
                RunStatus::Completed,
                vec![
                    json!({"role": "user", "content": "q"}),
                    json!({"role": "assistant", "content": "a"}),
                ],
                3,
            )
            .into(),
        )
        .await
        .unwrap();
    let done = s.get_run("r1").await.unwrap().unwrap();
    // The end answers the run as it stored it: what a read finds afterwards.
    assert_eq!(
        serde_json::to_value(&ended).unwrap(),
        serde_json::to_value(&done).unwrap()
    );
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.route.as_deref(), Some("openrouter"));
    assert_eq!(done.input.to_string(), r#"{"input":"r1","z":1,"a":2}"#);
    assert!(done.finished_at.is_some());
    let events = s.events_after("r1", 1).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(events[1].kind, "run.completed");
    let history = s.history("s").await.unwrap();
    assert_eq!(history.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(history[1].run_id.as_deref(), Some("r1"));
    // An ended run takes no more writes, and its end is all or nothing.
    assert!(matches!(
        s.finish_run(finish("r1", RunStatus::Failed, vec![json!({"role": "user"})], 4).into())
            .await,
        Err(StoreError::InvalidTransition {
            current: RunStatus::Completed,
            requested: RunStatus::Failed,
            ..
        })
    ));
    assert_eq!(s.events_after("r1", 0).await.unwrap().len(), 3);
    assert_eq!(s.history("s").await.unwrap().len(), 2);
    assert!(matches!(
        s.finish_run(finish("nope", RunStatus::Completed, vec![], 1).into())
            .await,
        Err(StoreError::RunNotFound { .. })
    ));
    assert!(matches!(
        s.append_events("r1", None, vec![]).await,
        Err(StoreError::InvalidTransition { .. })
    ));
    s.create_run(run("r2", "s", None)).await.unwrap();
    let bad = finish("r2", RunStatus::Completed, vec![json!({"no": "role"})], 1);
    assert!(matches!(
        s.finish_run(bad.into()).await,
        Err(StoreError::InvalidMessage { .. })
    ));
    assert_eq!(
        s.get_run("r2").await.unwrap().unwrap().status,
        RunStatus::Queued
    );
    assert!(s.events_after("r2", 0).await.unwrap().is_empty());
    // A duplicate event seq fails the whole end: nothing of it is stored.
    s.append_events(
        "r2",
        None,
        vec![NewEvent::new(1, "run.started", &json!({})).unwrap()],
    )
    .await
    .unwrap();
    let dup = finish("r2", RunStatus::Completed, vec![json!({"role": "user"})], 1);
    assert!(s.finish_run(dup.into()).await.is_err());
    assert_eq!(
        s.get_run("r2").await.unwrap().unwrap().status,
        RunStatus::Queued
    );
    assert_eq!(s.history("s").await.unwrap().len(), 2);
    // Spend after the end; refused while a run goes on.
    assert!(s.set_run_spend("r2", None, Some(1.0)).await.is_err());
    s.set_run_spend(
        "r1",
        UsageObject::from_value(&json!({"prompt_tokens": 10})),
        Some(2.0),
    )
    .await
    .unwrap();
    s.set_billed_cost("r1", 2.5).await.unwrap();
    assert!(matches!(
        s.set_billed_cost("nope", 1.0).await,
        Err(StoreError::RunNotFound { .. })
    ));
    let totals = s.session_totals("s").await.unwrap();
    assert_eq!((totals.runs, totals.prompt_tokens), (2, 10));
    assert_eq!(totals.billed_cost, Some(2.5));
    // Pages: newest first, cursor, status filter, unknown cursor.
    s.create_run(run("r3", "t", None)).await.unwrap();
    let all = RunFilter {
        limit: 10,
        ..RunFilter::default()
    };
    let ids = |v: Vec<ferry_store::Run>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_runs_page(all.clone()).await.unwrap()),
        ["r3", "r2", "r1"]
    );
    let after = RunFilter {
        after: Some("r3".into()),
        limit: 1,
        ..RunFilter::default()
    };
    assert_eq!(ids(s.list_runs_page(after).await.unwrap()), ["r2"]);
    let done = RunFilter {
        status: Some(RunStatus::Completed),
        limit: 10,
        ..RunFilter::default()
    };
    assert_eq!(ids(s.list_runs_page(done).await.unwrap()), ["r1"]);
    let in_t = RunFilter {
        session_id: Some("t".into()),
        limit: 10,
        ..RunFilter::default()
    };
    assert_eq!(ids(s.list_runs_page(in_t).await.unwrap()), ["r3"]);
    let unknown = RunFilter {
        after: Some("nope".into()),
        limit: 1,
        ..RunFilter::default()
    };
    assert!(matches!(
        s.list_runs_page(unknown).await,
        Err(StoreError::RunNotFound { .. })
    ));
}

async fn concurrent_writers(s: Backend) {
    // The same idempotency key from many callers at once: exactly one run.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.create_run(run(&format!("c{i}"), "same", Some("once")))
                .await
        }));
    }
    let mut inserted = 0;
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let outcome = t.await.unwrap().unwrap();
        inserted += matches!(outcome, ferry_store::InsertOutcome::Inserted(_)) as usize;
        ids.insert(outcome.run().id.clone());
    }
    assert_eq!((inserted, ids.len()), (1, 1));
    // History appends from many callers: consecutive seqs, none lost.
    s.ensure_session("h").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.append_messages(
                "h",
                vec![
                    json!({"role": "user", "n": i}),
                    json!({"role": "assistant"}),
                ],
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let seqs: Vec<u64> = s
        .history("h")
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, (1..=32).collect::<Vec<_>>());
}

async fn assets_and_derivations(s: Backend) {
    let new = |id: &str, sha: &str, ty: &str| NewAsset {
        id: id.into(),
        sha256: sha.into(),
        media_type: ty.into(),
        size: 10,
        file_name: Some("f".into()),
        source: "upload".into(),
    };
    assert!(matches!(
        s.insert_asset(new("a1", "h1", "image/png")).await.unwrap(),
        AssetInsert::Inserted(_)
    ));
    match s.insert_asset(new("a1b", "h1", "image/png")).await.unwrap() {
        AssetInsert::Existing(a) => assert_eq!(a.id, "a1"),
        other => panic!("expected the existing asset, got {other:?}"),
    }
    s.insert_asset(new("a2", "h1", "audio/wav")).await.unwrap();
    s.insert_asset(new("a3", "h3", "audio/wav")).await.unwrap();
    let list = |f: AssetFilter| {
        let s = s.clone();
        async move {
            s.list_assets(f)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(AssetFilter {
            limit: 10,
            ..Default::default()
        })
        .await,
        ["a3", "a2", "a1"]
    );
    assert_eq!(
        list(AssetFilter {
            media_types: vec!["audio/wav".into()],
            limit: 10,
            ..Default::default()
        })
        .await,
        ["a3", "a2"]
    );
    let a2 = s.get_asset("a2").await.unwrap().unwrap();
    assert_eq!(
        list(AssetFilter {
            before: Some(a2.seq),
            limit: 10,
            ..Default::default()
        })
        .await,
        ["a1"]
    );
    let d = s
        .put_derivation(
            "a3",
            "transcript",
            "m",
            "hello",
            Some(json!({"lang": "en"})),
        )
        .await
        .unwrap();
    let d2 = s
        .put_derivation("a3", "transcript", "m", "other", None)
        .await
        .unwrap();
    assert_eq!(
        (d.content.as_str(), d2.content.as_str()),
        ("hello", "hello")
    );
    assert_eq!(s.derivations("a3").await.unwrap().len(), 1);
    assert!(s
        .get_derivation("a3", "transcript", "x")
        .await
        .unwrap()
        .is_none());
    let (gone, shared) = s.delete_asset("a1").await.unwrap();
    assert_eq!((gone.id.as_str(), shared), ("a1", true));
    let (_, shared) = s.delete_asset("a3").await.unwrap();
    assert!(!shared);
    assert!(!s.blob_in_use("h3").await.unwrap());
    assert!(matches!(
        s.delete_asset("a3").await,
        Err(StoreError::AssetNotFound { .. })
    ));
    assert!(matches!(
        s.put_derivation("a3", "transcript", "m", "x", None).await,
        Err(StoreError::AssetNotFound { .. })
    ));
}

async fn video_jobs(s: Backend) {
    let job = s
        .insert_video_job(NewVideoJob {
            id: "v1".into(),
            route: "r".into(),
            model: "m".into(),
            upstream_id: "up".into(),
            polling_url: None,
            status: "pending".into(),
            request: json!({"prompt": "p"}),
            run_id: None,
        })
        .await
        .unwrap();
    assert_eq!(job.status, "pending");
    assert_eq!(s.unfinished_video_jobs().await.unwrap().len(), 1);
    let done = s
        .update_video_job(
            "v1",
            VideoJobUpdate {
                status: "completed".into(),
                asset_id: Some("a".into()),
                finished: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(done.finished_at.is_some());
    assert!(matches!(
        s.update_video_job("v1", VideoJobUpdate::default()).await,
        Err(StoreError::VideoJobFinished { .. })
    ));
    assert!(matches!(
        s.update_video_job("nope", VideoJobUpdate::default()).await,
        Err(StoreError::VideoJobNotFound { .. })
    ));
    assert!(s.unfinished_video_jobs().await.unwrap().is_empty());
    assert_eq!(
        s.list_video_jobs(5).await.unwrap()[0].asset_id.as_deref(),
        Some("a")
    );
}

async fn keys_ledger_and_config(s: Backend) {
    let key = s
        .insert_key(
            "k1".into(),
            "ci".into(),
            "hash1".into(),
            "fk-…abcd".into(),
            json!({"budget": 1}),
        )
        .await
        .unwrap();
    assert_eq!(key.revoked_at, None);
    assert!(s
        .update_key("k1".into(), "ci2".into(), json!({"budget": 2}))
        .await
        .unwrap());
    assert!(!s
        .update_key("nope".into(), "x".into(), json!({}))
        .await
        .unwrap());
    assert!(s.revoke_key("k1".into()).await.unwrap());
    assert!(!s.revoke_key("k1".into()).await.unwrap());
    let keys = s.list_keys().await.unwrap();
    assert_eq!(
        (keys[0].name.as_str(), keys[0].settings.clone()),
        ("ci2", json!({"budget": 2}))
    );
    assert!(keys[0].revoked_at.is_some());
    let since = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    for (model, nanos) in [("a", 5), ("b", 7), ("a", 11)] {
        s.charge_nowait(LedgerEntry {
            key_id: Some("k1".into()),
            route: "r".into(),
            model: model.into(),
            kind: "chat".into(),
            prompt_tokens: Some(1),
            completion_tokens: Some(2),
            cost: Some(nanos as f64 / 1e9),
            cost_nanos: nanos,
            estimated: model == "b",
            generation_id: Some(format!("g{nanos}")),
            run_id: None,
        });
    }
    s.set_ledger_billed_nowait("g7".into(), 0.25);
    assert_eq!(
        s.key_spend_since(vec![("k1".into(), since)]).await.unwrap(),
        [("k1".into(), 23)]
    );
    let report = s
        .spend_report(SpendGrouping::Model, None, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        report
            .iter()
            .map(|g| (g.group.as_str(), g.calls))
            .collect::<Vec<_>>(),
        [("a", 2), ("b", 1)]
    );
    assert_eq!(
        (report[1].estimated_calls, report[1].billed_usd),
        (1, Some(0.25))
    );
    assert_eq!(report[0].prompt_tokens, 2);
    let split = s
        .spend_report(
            SpendGrouping::Key,
            Some(SpendGrouping::Model),
            None,
            None,
            Some("k1".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        split
            .iter()
            .map(|g| g.split.clone().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    let by_day = s
        .spend_report(
            SpendGrouping::Day,
            None,
            Some("2000-01-01".into()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(by_day.len(), 1);
    assert_eq!(by_day[0].group.len(), 10);
    assert!(s
        .spend_report(
            SpendGrouping::Kind,
            None,
            None,
            Some("2000-01-01".into()),
            None
        )
        .await
        .unwrap()
        .is_empty());
    assert!(s.release_all_reservations().await.unwrap().is_empty());
    assert_eq!(s.runtime_get("model").await.unwrap(), None);
    s.runtime_set("model", Some("openrouter/x")).await.unwrap();
    s.runtime_set("model", Some("openrouter/y")).await.unwrap();
    assert_eq!(
        s.runtime_get("model").await.unwrap().as_deref(),
        Some("openrouter/y")
    );
    s.runtime_set("model", None).await.unwrap();
    assert_eq!(s.runtime_get("model").await.unwrap(), None);
    // A row with every optional field empty is kept as such.
    s.charge_nowait(LedgerEntry {
        key_id: None,
        route: "r".into(),
        model: "z".into(),
        kind: "chat".into(),
        prompt_tokens: None,
        completion_tokens: None,
        cost: None,
        cost_nanos: 0,
        estimated: false,
        generation_id: None,
        run_id: None,
    });
    let report = s
        .spend_report(SpendGrouping::Model, None, None, None, None)
        .await
        .unwrap();
    let z = report
        .iter()
        .find(|g| g.group == "z")
        .expect("the empty row");
    assert_eq!((z.calls, z.prompt_tokens, z.billed_usd), (1, 0, None));
}

async fn upkeep(s: Backend) {
    s.create_run(run("old", "u", None)).await.unwrap();
    s.finish_run(finish("old", RunStatus::Completed, vec![], 1).into())
        .await
        .unwrap();
    s.create_run(run("open", "u", None)).await.unwrap();
    let stats = s.stats().await.unwrap();
    assert_eq!((stats.sessions, stats.runs, stats.events), (1, 2, 1));
    assert_eq!(stats.runs_by_status[&RunStatus::Queued], 1);
    let future = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let pruned = s.prune_runs(future, 10).await.unwrap();
    assert_eq!((pruned.runs, pruned.events), (1, 1));
    assert!(s.get_run("old").await.unwrap().is_none());
    assert!(s.get_run("open").await.unwrap().is_some());
    s.close().await;
    assert!(matches!(
        s.ensure_session("late").await,
        Err(StoreError::Closed)
    ));
    assert!(
        s.get_run("open").await.unwrap().is_some(),
        "reads keep working after close"
    );
}

/// The new run's place in line, when the store tells it at the creation.
async fn in_line(s: &Backend, new: NewRun) -> Option<bool> {
    match s.create_run_planned(new, None).await.unwrap() {
        Creation::Inserted { in_line, .. } => in_line,
        other => panic!("expected an inserted run, got {other:?}"),
    }
}

/// Whether a new run is first in line in its session, when the store says so at its
/// creation, is what `oldest_unfinished_run` answers right after.
async fn first_in_line(s: Backend) {
    for (id, first) in [("l1", true), ("l2", false), ("l3", false)] {
        let in_line = in_line(&s, run(id, "line", None)).await;
        assert!(in_line.is_none_or(|v| v == first), "{id}: {in_line:?}");
        assert_eq!(
            s.oldest_unfinished_run("line").await.unwrap().as_deref(),
            Some("l1")
        );
    }
    s.finish_run(finish("l1", RunStatus::Completed, vec![], 1).into())
        .await
        .unwrap();
    let l4 = in_line(&s, run("l4", "line", None)).await;
    assert!(l4.is_none_or(|v| !v), "{l4:?}");
    // A repeated idempotency key creates nothing, so there is nothing to be in line.
    s.create_run(run("k1", "keyed", Some("k"))).await.unwrap();
    let again = s
        .create_run_planned(run("k2", "keyed", Some("k")), None)
        .await
        .unwrap();
    assert!(
        matches!(again, Creation::Existing(ref r) if r.id == "k1"),
        "{again:?}"
    );
}

/// A creation planned for a session pin inserts only in a session pinned so, and answers
/// the session as it found it either way: settings, and whether the run's history
/// starts empty.
async fn planned_creation(s: Backend) {
    let inserted = |c: Creation| match c {
        Creation::Inserted { session, run, .. } => (run, session),
        other => panic!("expected an inserted run, got {other:?}"),
    };
    // A new session: unpinned, no settings, fresh.
    let (_, found) = inserted(
        s.create_run_planned(run("n1", "new", None), None)
            .await
            .unwrap(),
    );
    assert_eq!(
        found,
        SessionAtCreation {
            fresh: true,
            ..SessionAtCreation::default()
        }
    );
    // Its second run (the first still queued) does not start from an empty history.
    let (_, found) = inserted(
        s.create_run_planned(run("n2", "new", None), None)
            .await
            .unwrap(),
    );
    assert!(!found.fresh);
    // A pinned session planned as unpinned: nothing inserted, its settings answered.
    s.create_session(NewSession {
        id: "pinned".into(),
        pinned_selector: Some("openrouter/x".into()),
        system_prompt: Some("be brief".into()),
    })
    .await
    .unwrap();
    s.update_session(
        "pinned",
        SessionPatch {
            speak_replies: Some(Some("always".into())),
            ..SessionPatch::default()
        },
    )
    .await
    .unwrap();
    let moved = s
        .create_run_planned(run("p1", "pinned", None), None)
        .await
        .unwrap();
    let expected = SessionAtCreation {
        pinned_selector: Some("openrouter/x".into()),
        system_prompt: Some("be brief".into()),
        speak_replies: Some("always".into()),
        fresh: true,
    };
    assert!(
        matches!(&moved, Creation::PinMoved(f) if *f == expected),
        "{moved:?}"
    );
    assert!(s.get_run("p1").await.unwrap().is_none());
    let wrong = s
        .create_run_planned(run("p1", "pinned", None), Some("openrouter/y"))
        .await
        .unwrap();
    assert!(matches!(wrong, Creation::PinMoved(_)), "{wrong:?}");
    // Planned for its pin: inserted.
    let (stored, found) = inserted(
        s.create_run_planned(run("p1", "pinned", Some("k")), Some("openrouter/x"))
            .await
            .unwrap(),
    );
    assert_eq!((stored.id.as_str(), found), ("p1", expected));
    assert_eq!(
        s.get_run("p1").await.unwrap().unwrap().status,
        RunStatus::Queued
    );
    // A used idempotency key answers its run whatever the pin planned for.
    let again = s
        .create_run_planned(run("p2", "pinned", Some("k")), None)
        .await
        .unwrap();
    assert!(
        matches!(&again, Creation::Existing(r) if r.id == "p1"),
        "{again:?}"
    );
    assert!(s.get_run("p2").await.unwrap().is_none());
    // History without any run (an observation's transcript) is history too.
    s.ensure_session("observed").await.unwrap();
    s.append_messages("observed", vec![json!({"role": "user", "content": "seen"})])
        .await
        .unwrap();
    let (_, found) = inserted(
        s.create_run_planned(run("o1", "observed", None), None)
            .await
            .unwrap(),
    );
    assert!(!found.fresh);
}

/// Whether the PostgreSQL store tells a new run's place in line at its creation (it
/// does: the engine then skips the separate check).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_tells_whether_a_new_run_is_first_in_line() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let s: Backend = Arc::new(PgStore::connect(&url).await.unwrap());
    let first = in_line(&s, run("a", "x", None)).await;
    let second = in_line(&s, run("b", "x", None)).await;
    assert_eq!((first, second), (Some(true), Some(false)));
}

/// Runs every scenario on a fresh database made by `fresh`.
async fn suite<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Backend>,
{
    sessions_and_history(fresh().await).await;
    runs_events_and_end(fresh().await).await;
    every_end_answers_what_a_read_finds(fresh().await).await;
    first_in_line(fresh().await).await;
    planned_creation(fresh().await).await;
    concurrent_writers(fresh().await).await;
    assets_and_derivations(fresh().await).await;
    video_jobs(fresh().await).await;
    keys_ledger_and_config(fresh().await).await;
    upkeep(fresh().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_contract_holds_on_sqlite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    suite(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        dirs.lock().unwrap().push(dir);
        async move { Arc::new(store) as Backend }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_contract_holds_on_postgresql() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    suite(|| async {
        let url = cluster.new_database().await.unwrap();
        Arc::new(PgStore::connect(&url).await.unwrap()) as Backend
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_migrate_once_and_bad_urls_say_what_to_fix() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(&url).await })
        })
        .collect();
    for open in opens {
        open.await.unwrap().unwrap();
    }
    let wrong = format!(
        "postgres://ferry:hunter2@127.0.0.1:{}/no_such_db",
        cluster.port()
    );
    let message = PgStore::connect(&wrong).await.unwrap_err().to_string();
    assert!(message.contains("no_such_db"), "{message}");
    assert!(message.contains("--database-url"), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
}

/// Creates a queued run and a running run with one event on `s`.
async fn runs_in_flight(s: &dyn Storage) {
    s.create_run(run("q", "crash", None)).await.unwrap();
    s.create_run(run("r", "crash", None)).await.unwrap();
    s.append_events(
        "r",
        Some(start()),
        vec![NewEvent::new(1, "run.started", &json!({})).unwrap()],
    )
    .await
    .unwrap();
}

/// The runs `q` and `r` ended interrupted, each with its `run.failed` after its events.
async fn assert_interrupted(s: &dyn Storage) {
    for (id, seqs) in [
        ("q", vec![(1, "run.failed")]),
        ("r", vec![(1, "run.started"), (2, "run.failed")]),
    ] {
        let run = s.get_run(id).await.unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Interrupted, "{id}");
        assert_eq!(run.error.unwrap().message, "the daemon stopped");
        let events = s.events_after(id, 0).await.unwrap();
        assert_eq!(
            events
                .iter()
                .map(|e| (e.seq, e.kind.as_str()))
                .collect::<Vec<_>>(),
            seqs
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_recovery_at_startup_interrupts_every_run_left_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    runs_in_flight(&first).await;
    first.close().await;
    drop(first);
    let second = Store::open(dir.path()).unwrap();
    let recovered = second
        .recover_interrupted("the daemon stopped", &json!({"code": "interrupted"}))
        .await
        .unwrap();
    assert_eq!(
        recovered.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["q", "r"]
    );
    assert_interrupted(&second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_recovery_interrupts_only_the_runs_of_replicas_that_died() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let a = PgStore::connect(&url).await.unwrap();
    runs_in_flight(&a).await;
    // A second replica starting while the first lives leaves the first one's runs alone.
    let b = PgStore::connect(&url).await.unwrap();
    let terminal = json!({"code": "interrupted"});
    assert!(b
        .recover_interrupted("the daemon stopped", &terminal)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        b.get_run("r").await.unwrap().unwrap().status,
        RunStatus::Running
    );
    // The first replica dies (its connections close): the second's heartbeat interrupts
    // its runs without anyone asking.
    drop(a);
    let deadline = std::time::Instant::now() + ferry_store_pg::HEARTBEAT * 3;
    while b.get_run("r").await.unwrap().unwrap().status != RunStatus::Interrupted {
        assert!(
            std::time::Instant::now() < deadline,
            "the dead replica's runs were not recovered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_interrupted(&b).await;
    // Its own runs are never touched by its own recovery.
    b.create_run(run("mine", "other", None)).await.unwrap();
    assert!(b
        .recover_interrupted("the daemon stopped", &terminal)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        b.get_run("mine").await.unwrap().unwrap().status,
        RunStatus::Queued
    );
}

/// The shared budget accounts: reservations of every replica count against one budget, a
/// settlement frees the rest of its reservation and charges the cost, an account in an
/// older period starts again, a start-up load never lowers the spend, and a dead
/// replica's reservations end with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budget_accounts_are_shared_by_the_replicas() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let a = PgStore::connect(&url).await.unwrap();
    // Recovery runs once the engine has said how recovered runs end (at start-up).
    a.recover_interrupted("the daemon stopped", &json!({"code": "interrupted"}))
        .await
        .unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    let (ra, rb) = (a.shared_budgets().unwrap(), b.shared_budgets().unwrap());
    let march = time::macros::datetime!(2026-03-01 00:00 UTC);
    let april = time::macros::datetime!(2026-04-01 00:00 UTC);
    let held = ra.reserve("k", march, 100, 60).await.unwrap().unwrap();
    assert_eq!((held.spent, held.reserved), (0, 60));
    // B sees A's reservation: 60 + 50 > 100.
    let refused = rb.reserve("k", march, 100, 50).await.unwrap().unwrap_err();
    assert_eq!((refused.spent, refused.reserved), (0, 60));
    rb.reserve("k", march, 100, 40).await.unwrap().unwrap();
    // A's call cost 30 of its 60: 30 spent, B's 40 still held; 30 fits again.
    let after = ra.settle("k", march, 60, 30).await.unwrap();
    assert_eq!((after.spent, after.reserved), (30, 40));
    assert!(ra.reserve("k", march, 100, 31).await.unwrap().is_err());
    ra.reserve("k", march, 100, 30).await.unwrap().unwrap();
    // A start-up load from a ledger that lags never lowers the spend.
    let loaded = rb.load_spent("k", march, 10).await.unwrap();
    assert_eq!(loaded.spent, 30);
    // A new period starts from zero spend; reservations in flight stay.
    let april_account = rb.load_spent("k", april, 0).await.unwrap();
    assert_eq!((april_account.spent, april_account.reserved), (0, 70));
    // B dies: its 40 are released by A's recovery.
    drop(rb);
    drop(b);
    let deadline = std::time::Instant::now() + ferry_store_pg::HEARTBEAT * 3;
    loop {
        let account = ra.load_spent("k", april, 0).await.unwrap();
        if account.reserved == 30 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dead replica's reservation was not released: {account:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Shared rate cells: every replica takes from the same minute, and a refused take takes
/// nothing from the key's other limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_cells_are_shared_and_all_or_nothing() {
    use ferry_store::RateTake;
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let a = PgStore::connect(&url)
        .await
        .unwrap()
        .shared_rates()
        .unwrap();
    let b = PgStore::connect(&url)
        .await
        .unwrap()
        .shared_rates()
        .unwrap();
    let take = |tokens| {
        [
            RateTake {
                kind: "requests",
                per_minute: 2,
                units: 1,
            },
            RateTake {
                kind: "tokens",
                per_minute: 10,
                units: tokens,
            },
        ]
    };
    let left = a.take_rates("k", &take(8)).await.unwrap().unwrap();
    assert_eq!((left[0].remaining, left[1].remaining), (1, 2));
    // B sees A's take: 5 tokens do not fit, and its request is not taken either.
    let refused = b.take_rates("k", &take(5)).await.unwrap().unwrap_err();
    assert_eq!(refused.index, 1);
    assert!(!refused.too_large && refused.retry_after > std::time::Duration::ZERO);
    let left = b.take_rates("k", &take(1)).await.unwrap().unwrap();
    assert_eq!((left[0].remaining, left[1].remaining), (0, 1));
    let refused = a.take_rates("k", &take(1)).await.unwrap().unwrap_err();
    assert_eq!(refused.index, 0, "the third request of a 2-a-minute limit");
    assert!(
        b.take_rates("other", &take(11))
            .await
            .unwrap()
            .unwrap_err()
            .too_large
    );
}

/// A blob's lock is held across replicas: while one holds it, another waits; dropping the
/// lease releases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blob_locks_are_held_across_replicas() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let a = PgStore::connect(&url).await.unwrap();
    let b = Arc::new(PgStore::connect(&url).await.unwrap());
    let sha = "ab".repeat(32);
    let held = a.lock_blob(&sha).await.unwrap().expect("shared backend");
    let waiter = {
        let (b, sha) = (Arc::clone(&b), sha.clone());
        tokio::spawn(async move { b.lock_blob(&sha).await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "B took the blob's lock while A held it"
    );
    // Another blob is not held up.
    drop(b.lock_blob(&"cd".repeat(32)).await.unwrap());
    drop(held);
    let lease = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("B gets the lock once A's lease is dropped")
        .unwrap();
    assert!(lease.is_some());
}

/// Events one replica commits are announced to every replica (NOTIFY), so followers
/// elsewhere need not poll; SQLite gives no notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn committed_events_are_announced_to_the_other_replicas() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let a = PgStore::connect(&url).await.unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    let mut heard = b.run_notices().expect("PostgreSQL announces events");
    a.create_run(run("announced", "s", None)).await.unwrap();
    a.append_events(
        "announced",
        Some(start()),
        vec![NewEvent::new(1, "run.started", &json!({})).unwrap()],
    )
    .await
    .unwrap();
    let id = tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
        .await
        .expect("B hears of A's events")
        .unwrap();
    assert_eq!(&*id, "announced");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = ferry_store::Store::open(dir.path()).unwrap();
    assert!(sqlite.run_notices().is_none());
}

/// A sealed store with `refs`, as a file store seals it (a raw master key).
fn sealed_store(
    dir: &std::path::Path,
    key: &ferry_secrets::MasterKey,
    refs: &[&str],
) -> ferry_secrets::SealedDocument {
    let mut store = ferry_secrets::SecretStore::open(dir, key).unwrap();
    for r in refs {
        store
            .set(
                r,
                "openrouter",
                ferry_secrets::Zeroizing::new(format!("sk-or-v1-{r}")),
            )
            .unwrap();
    }
    ferry_secrets::SecretStore::read_document(dir)
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_secret_store_is_shared_and_written_compare_and_set() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let (a, b) = (
        PgStore::connect(&url).await.unwrap(),
        PgStore::connect(&url).await.unwrap(),
    );
    let (ra, rb) = (a.shared_secrets().unwrap(), b.shared_secrets().unwrap());
    assert!(ra.load_secrets().await.unwrap().is_none());
    assert_eq!(ra.secrets_generation().await.unwrap(), 0);
    let key = ferry_secrets::MasterKey::parse(&ferry_secrets::generate_master_key()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let one = sealed_store(dir.path(), &key, &["z.last", "a.first", "m.middle"]);

    // The document goes in and comes back exactly, slots in the store's order.
    assert_eq!(ra.save_secrets(&one, 0).await.unwrap(), Some(1));
    let (back, generation) = rb.load_secrets().await.unwrap().unwrap();
    assert_eq!((back.clone(), generation), (one.clone(), 1));
    let opened = ferry_secrets::SecretStore::open_document("db", back, &key).unwrap();
    assert_eq!(
        opened.get("m.middle").unwrap().as_str(),
        "sk-or-v1-m.middle"
    );

    // Two writers from generation 1: one wins, the other is told to reload.
    let two = sealed_store(dir.path(), &key, &["b.second"]);
    let three = sealed_store(dir.path(), &key, &["c.third"]);
    let (x, y) = tokio::join!(ra.save_secrets(&two, 1), rb.save_secrets(&three, 1));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert!(
        matches!((x, y), (Some(2), None) | (None, Some(2))),
        "{x:?} {y:?}"
    );
    let won = if x.is_some() { &two } else { &three };
    assert_eq!(&ra.load_secrets().await.unwrap().unwrap().0, won);
    // A creation when one exists is refused too.
    assert_eq!(rb.save_secrets(&one, 0).await.unwrap(), None);
    assert_eq!(rb.secrets_generation().await.unwrap(), 2);

    // A slot deleted behind ferry's back is caught by the store authenticator on open.
    let (raw, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    raw.execute("DELETE FROM secret_slots WHERE ref = 'a.first'", &[])
        .await
        .unwrap();
    let (tampered, _) = ra.load_secrets().await.unwrap().unwrap();
    let err = ferry_secrets::SecretStore::open_document("db", tampered, &key).unwrap_err();
    assert!(
        matches!(err, ferry_secrets::SecretsError::Corrupted { .. }),
        "{err}"
    );
}

/// Runs of one session are created one after another across replicas: a creation waits
/// while another replica's creation for the session is uncommitted (its session row is
/// locked), so a run's `ord` order is its commit order and "the oldest unfinished run"
/// (one run at a time per session) cannot be decided from a view that misses an older,
/// still-uncommitted run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_of_one_session_are_created_one_after_another_across_replicas() {
    let cluster = TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.new_database().await.unwrap();
    let a = PgStore::connect(&url).await.unwrap();
    a.create_run(run("run_first", "shared", None))
        .await
        .unwrap();
    // Another replica's creation for the session, in flight: it holds the session row as
    // a creation does (the upsert's update takes FOR NO KEY UPDATE).
    let (mut other, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let in_flight = other.transaction().await.unwrap();
    in_flight
        .execute(
            "SELECT 1 FROM sessions WHERE id = 'shared' FOR NO KEY UPDATE",
            &[],
        )
        .await
        .unwrap();
    let b = PgStore::connect(&url).await.unwrap();
    let creating =
        tokio::spawn(async move { b.create_run(run("run_second", "shared", None)).await });
    // The creation waits for the session's lock.
    let (watch, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = watch
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO runs%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the creation never waited for the session's lock"
        );
        assert!(
            !creating.is_finished(),
            "the run was created under another replica's in-flight creation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    in_flight.commit().await.unwrap();
    creating.await.unwrap().unwrap();
    let ords: Vec<(String, i64)> = watch
        .query(
            "SELECT id, ord FROM runs WHERE session_id = 'shared' ORDER BY ord",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ords.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["run_first", "run_second"]
    );
}
