//! Two `ferry serve` replicas on one PostgreSQL database (spec §15): a session's runs and
//! events are readable and replayable from either replica, and when one replica is
//! killed mid-stream the other marks its runs `interrupted` within the lease and keeps
//! serving the same session with its history intact.

use std::time::Duration;

use ferry_fake_openrouter::{FakeOpenRouter, Reply};

use crate::support::*;

/// A replica: its own state root (secrets, lock) on the shared database.
fn replica(fake: &FakeOpenRouter) -> (Env, Daemon) {
    let env = Env::new();
    assert!(
        env.database_url.is_some(),
        "replicas need the shared database"
    );
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let d = env.serve();
    (env, d)
}

fn two_replicas_share_sessions_and_a_dead_ones_runs_are_interrupted() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let (env_a, mut a) = replica(&fake);
    let (env_b, b) = replica(&fake);

    // A run on A is read and replayed from B.
    let out = a.cli(&env_a, &["sessions", "input", "shared", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = json(&stdout(
        &b.cli(&env_b, &["--json", "sessions", "show", "shared"]),
    ));
    assert_eq!(show["message_count"], 2, "{show}");
    let (_, runs) = http(b.port, "GET", "/v1/sessions/shared/runs", &[], None).unwrap();
    let run_id = json(&runs)["runs"][0]["id"].as_str().unwrap().to_owned();
    let (status, events) = http(
        b.port,
        "GET",
        &format!("/v1/runs/{run_id}/events?follow=false"),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(events.contains("event: run.completed"), "{events}");

    // A dies mid-stream: B interrupts its run within the lease, without a restart.
    fake.push(Reply::stall_after(2, Duration::from_secs(120)));
    let held = stdout(&a.cli(
        &env_a,
        &["sessions", "input", "shared", "--detach", "during"],
    ))
    .trim()
    .to_owned();
    eventually(Duration::from_secs(10), || {
        let (_, body) = http(
            a.port,
            "GET",
            &format!("/v1/runs/{held}/events?follow=false"),
            &[],
            None,
        )
        .ok()?;
        body.contains("output.delta").then_some(())
    });
    a.kill9();
    let run = eventually(Duration::from_secs(30), || {
        let (_, body) = http(b.port, "GET", &format!("/v1/runs/{held}"), &[], None).ok()?;
        let run = json(&body);
        (run["status"] == "interrupted").then_some(run)
    });
    assert_eq!(run["error"]["code"], "interrupted", "{run}");
    let (_, events) = http(
        b.port,
        "GET",
        &format!("/v1/runs/{held}/events?follow=false"),
        &[],
        None,
    )
    .unwrap();
    assert!(events.contains("event: run.failed"), "{events}");

    // B keeps serving the session; the completed run's history is intact.
    fake.clear_requests();
    let out = b.cli(&env_b, &["sessions", "input", "shared", "after"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = json(&stdout(
        &b.cli(&env_b, &["--json", "sessions", "show", "shared"]),
    ));
    assert_eq!(show["message_count"], 4, "{show}");
}

#[test]
fn replicas_on_postgresql_share_sessions_and_recover_a_dead_replicas_runs() {
    on_postgresql(two_replicas_share_sessions_and_a_dead_ones_runs_are_interrupted);
}
