//! Two `ferry serve` replicas on one PostgreSQL database (spec §15): a session's runs and
//! events are readable, replayable and followable live from either replica, and when one replica is
//! killed mid-stream the other marks its runs `interrupted` within the lease and keeps
//! serving the same session with its history intact. Three replicas hold one key's budget
//! together: 200 concurrent calls spread over them never overshoot it, and a key created
//! or revoked on one replica takes effect on the others, and so does a secret stored or
//! deleted through one (they share one sealed secret store).

use std::time::Duration;

use ferry_fake_openrouter::{FakeOpenRouter, Reply};
use serde_json::{json, Value};

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

    // A run streaming on A is followed live from B, delta by delta, to its end.
    fake.push(Reply::text("one two three four five six").chunk_delay(Duration::from_millis(150)));
    let streamed = stdout(&a.cli(
        &env_a,
        &["sessions", "input", "shared", "--detach", "slowly"],
    ))
    .trim()
    .to_owned();
    let (status, followed) = http(
        b.port,
        "GET",
        &format!("/v1/runs/{streamed}/events"),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(
        followed.matches("event: output.delta").count() >= 2,
        "B follows A's deltas as they are stored: {followed}"
    );
    assert!(followed.contains("event: run.completed"), "{followed}");

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
    // B follows the run live through the database while A streams it.
    let follower = {
        let (port, path) = (b.port, format!("/v1/runs/{held}/events"));
        std::thread::spawn(move || http(port, "GET", &path, &[], None))
    };
    std::thread::sleep(Duration::from_millis(300));
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
    // The live follower on B saw what A had stored, then the end B recorded.
    let (status, followed) = follower.join().unwrap().unwrap();
    assert_eq!(status, 200);
    assert!(followed.contains("event: run.failed"), "{followed}");

    // B keeps serving the session; the completed run's history is intact.
    fake.clear_requests();
    let out = b.cli(&env_b, &["sessions", "input", "shared", "after"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = json(&stdout(
        &b.cli(&env_b, &["--json", "sessions", "show", "shared"]),
    ));
    assert_eq!(show["message_count"], 6, "{show}");
}

#[test]
fn replicas_on_postgresql_share_sessions_and_recover_a_dead_replicas_runs() {
    on_postgresql(two_replicas_share_sessions_and_a_dead_ones_runs_are_interrupted);
}

const OPERATOR: &str = "operator-token-for-replica-tests";

/// A replica with the operator token (for key management).
fn operator_replica(fake: &FakeOpenRouter) -> (Env, Daemon) {
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    env.store_key_offline();
    let d = env.serve_with(&[], |c| {
        c.env("FERRY_TOKEN", OPERATOR);
    });
    (env, d)
}

fn operator(env: &Env, d: &Daemon, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let mut cmd = d.command(env, &full);
    cmd.env("FERRY_TOKEN", OPERATOR);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    json(&stdout(&out))
}

/// Waits until every replica admits the key `secret` (each re-reads the keys every
/// second).
fn known_everywhere(replicas: &[(Env, Daemon)], secret: &str) {
    let auth = format!("Bearer {secret}");
    for (_, d) in replicas {
        eventually(Duration::from_secs(10), || {
            let (status, _) = http(
                d.port,
                "GET",
                "/openai/v1/models",
                &[("Authorization", &auth)],
                None,
            )
            .ok()?;
            (status == 200).then_some(())
        });
    }
}

fn chat(port: u16, secret: &str) -> RawResponse {
    let auth = format!("Bearer {secret}");
    let body = json!({"model": "team/priced", "stream": true, "max_tokens": 1000,
                      "messages": [{"role": "user", "content": "hi"}]});
    http_bytes(
        port,
        "POST",
        "/openai/v1/chat/completions",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
}

fn key_spend(port: u16, id: &str) -> f64 {
    let auth = format!("Bearer {OPERATOR}");
    let (status, text) = http(
        port,
        "GET",
        "/v1/spend?by=key",
        &[("Authorization", &auth)],
        None,
    )
    .expect("spend");
    assert_eq!(status, 200, "{text}");
    json(&text)["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == id)
        .map_or(0.0, |g| g["cost_usd"].as_f64().unwrap())
}

fn a_budget_holds_across_three_replicas() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    fake.set_models(json!([{
        "id": "team/priced", "name": "priced", "context_length": 100_000,
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "pricing": {"prompt": "0", "completion": "0.00001", "request": "0"},
        "top_provider": {"max_completion_tokens": 4000},
        "supported_parameters": ["max_tokens"]
    }]));
    let replicas: Vec<(Env, Daemon)> = (0..3).map(|_| operator_replica(&fake)).collect();
    // A key made on the first replica is known to the others within their key refresh.
    let (env0, d0) = &replicas[0];
    let created = operator(
        env0,
        d0,
        &[
            "keys", "create", "team", "--budget", "1.00", "--period", "month",
        ],
    );
    let id = created["key"]["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    known_everywhere(&replicas, &secret);
    // 200 concurrent streams, round-robin over the replicas, each costing up to $0.01
    // (1000 tokens at $0.00001) and charged $0.008.
    for _ in 0..200 {
        fake.push_for_model(
            "team/priced",
            Reply::text("fine")
                .with_usage(3, 2, 0.008)
                .chunk_delay(Duration::from_millis(5)),
        );
    }
    let ports: Vec<u16> = replicas.iter().map(|(_, d)| d.port).collect();
    let results: Vec<RawResponse> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let (port, secret) = (ports[i % 3], secret.as_str());
                s.spawn(move || chat(port, secret))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.status == 200).count();
    for refused in results.iter().filter(|r| r.status != 200) {
        assert_eq!(
            refused.status,
            402,
            "{}",
            String::from_utf8_lossy(&refused.body)
        );
        assert_eq!(refused.json()["error"]["code"], "budget_exceeded");
    }
    assert!(
        ok >= 100,
        "at least $1.00 / $0.01 worst case were admitted: {ok}"
    );
    assert!(
        ok <= 125,
        "never more than $1.00 / $0.008 were admitted across the replicas: {ok}"
    );
    let billed: f64 = fake.generation_costs().iter().map(|(_, c)| c).sum();
    assert!(
        billed <= 1.0 + 1e-9,
        "upstream billed {billed} against a $1.00 budget"
    );
    // Every replica's ledger rows reach the shared ledger.
    let expected = 0.008 * ok as f64;
    let ledger = eventually(Duration::from_secs(10), || {
        let l = key_spend(ports[1], &id);
        ((l - expected).abs() < 1e-9).then_some(l)
    });
    assert!(ledger <= 1.0 + 1e-9, "ledger {ledger}");

    // A rate limit holds across the replicas too: 6 requests a minute in all.
    let limited = operator(
        &replicas[1].0,
        &replicas[1].1,
        &["keys", "create", "paced", "--rpm", "6"],
    );
    let paced = limited["secret"].as_str().unwrap().to_owned();
    known_everywhere(&replicas, &paced);
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = (0..9)
        .map(|i| {
            let auth = format!("Bearer {paced}");
            let body = json!({"model": "openai/gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]});
            http_bytes(ports[i % 3], "POST", "/openai/v1/chat/completions",
                       &[("Authorization", &auth), ("Content-Type", "application/json")],
                       body.to_string().as_bytes()).status
        })
        .collect();
    let passed = statuses.iter().filter(|s| **s == 200).count();
    // GCRA: a minute's worth at once, then one more per 10 s elapsed.
    let grace = started.elapsed().as_secs() as usize / 10;
    assert!(
        (6..=6 + grace).contains(&passed),
        "6 requests a minute across three replicas, not 6 each: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );

    // Revoked on the third replica, refused on the first.
    operator(&replicas[2].0, &replicas[2].1, &["keys", "revoke", &id]);
    eventually(Duration::from_secs(10), || {
        (chat(ports[0], &secret).status == 401).then_some(())
    });
}

#[test]
fn a_budget_holds_across_three_replicas_on_postgresql() {
    on_postgresql(a_budget_holds_across_three_replicas);
}

/// A replica whose route polls video jobs every 200 ms at first.
fn video_replica(fake: &FakeOpenRouter) -> (Env, Daemon) {
    let env = Env::new();
    env.write_routes(&default_routes(
        &fake.base_url(),
        "[routes.openrouter.media]\nvideo_poll_ms = 200\n",
    ));
    env.store_key_offline();
    let d = env.serve();
    (env, d)
}

fn session_input(replica: &(Env, Daemon), session: &str, text: &str) -> std::process::Output {
    let (env, d) = replica;
    run_with_timeout(
        d.command(env, &["sessions", "input", session, text]),
        Duration::from_secs(120),
    )
}

fn three_replicas_serve_fifty_sessions_and_take_over_a_dead_ones_work() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let replicas: Vec<(Env, Daemon)> = (0..3).map(|_| video_replica(&fake)).collect();

    // 50 concurrent streaming sessions round-robin over the replicas, then each session's
    // next input on the next replica: every replica serves every session's history.
    for (round, shift) in [("hello", 0), ("again", 1)] {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..50)
                .map(|i| {
                    let replica = &replicas[(i + shift) % 3];
                    s.spawn(move || {
                        session_input(replica, &format!("p{i}"), &format!("{round} {i}"))
                    })
                })
                .collect();
            for (i, h) in handles.into_iter().enumerate() {
                let out = h.join().unwrap();
                assert!(out.status.success(), "{}", stderr(&out));
                assert_eq!(stdout(&out), format!("echo: {round} {i}\n"));
            }
        });
    }
    let again: Vec<Value> = fake
        .chat_requests()
        .into_iter()
        .filter_map(|q| q.body)
        .filter(|b| b.to_string().contains("again "))
        .collect();
    assert_eq!(again.len(), 50);
    for body in &again {
        let messages = body["messages"].as_array().unwrap();
        let last = messages.last().unwrap()["content"].to_string();
        let n = last
            .trim_matches('"')
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned();
        let texts: Vec<String> = messages
            .iter()
            .filter(|m| m["role"] != "system")
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            texts,
            vec![
                format!("hello {n}"),
                format!("echo: hello {n}"),
                format!("again {n}")
            ],
            "history of p{n} as the next replica sent it"
        );
    }

    // One run at a time per session across replicas: an input on replica 1 while replica
    // 0's run of the same session streams waits for it, and carries its answer.
    fake.push(Reply::text("slow answer from zero").chunk_delay(Duration::from_millis(150)));
    let (env0, d0) = &replicas[0];
    let out = d0
        .command(env0, &["sessions", "input", "serial", "--detach", "first"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(Duration::from_secs(10), || {
        fake.chat_requests()
            .iter()
            .any(|q| {
                q.body
                    .as_ref()
                    .is_some_and(|b| b.to_string().contains("first"))
            })
            .then_some(())
    });
    let out = session_input(&replicas[1], "serial", "second");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "echo: second\n");
    let second = fake.chat_requests().pop().unwrap().body.unwrap();
    let texts: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(
        texts,
        vec!["first", "slow answer from zero", "second"],
        "the second replica's run started after the first one's ended"
    );

    // Replica 0 starts a video job and a run, then dies mid-job and mid-stream.
    fake.push_video(ferry_fake_openrouter::VideoScript::new().polls(6, 1));
    let (status, job) = http(
        replicas[0].1.port,
        "POST",
        "/v1/tools/generate_video",
        &[("Content-Type", "application/json")],
        Some(&json!({"prompt": "a fox that outlives its replica", "duration": 4}).to_string()),
    )
    .unwrap();
    assert_eq!(status, 202, "{job}");
    let job_id = json(&job)["id"].as_str().unwrap().to_owned();
    fake.push(Reply::stall_after(2, Duration::from_secs(120)));
    let (env0, d0) = &replicas[0];
    let run_id = stdout(
        &d0.command(env0, &["sessions", "input", "doomed", "--detach", "hi"])
            .output()
            .unwrap(),
    )
    .trim()
    .to_owned();
    let polls = || {
        fake.requests()
            .iter()
            .filter(|q| q.method == "GET" && q.path.contains("/videos/job-"))
            .count()
    };
    eventually(Duration::from_secs(20), || (polls() >= 2).then_some(()));
    let mut replicas = replicas;
    let (_env0, mut d0) = replicas.remove(0);
    d0.kill9();

    // Its run is interrupted by the survivors, its job completes on one of them.
    let run = eventually(Duration::from_secs(30), || {
        let (_, body) = http(
            replicas[0].1.port,
            "GET",
            &format!("/v1/runs/{run_id}"),
            &[],
            None,
        )
        .ok()?;
        let run = json(&body);
        (run["status"] == "interrupted").then_some(run)
    });
    assert_eq!(run["error"]["code"], "interrupted", "{run}");
    let done = eventually(Duration::from_secs(60), || {
        let (_, body) = http(
            replicas[1].1.port,
            "GET",
            &format!("/v1/videos/{job_id}"),
            &[],
            None,
        )
        .ok()?;
        let job = json(&body);
        (job["status"] == "completed").then_some(job)
    });
    let asset = done["asset"]["asset_id"].as_str().unwrap().to_owned();
    // The asset's row is in the database; its bytes are under the state root of the
    // replica that completed the job (either survivor may claim it), since these replicas
    // have no shared asset store (docs/operations.md). That one serves the video; the other
    // says the bytes are missing there.
    let answers: Vec<RawResponse> = replicas
        .iter()
        .map(|(_, d)| http_bytes(d.port, "GET", &format!("/v1/assets/{asset}/raw"), &[], b""))
        .collect();
    let served: Vec<&RawResponse> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(served.len(), 1, "one survivor holds the video's bytes");
    assert_eq!(&served[0].body[4..8], b"ftyp", "the video is stored");
    for other in answers.iter().filter(|r| r.status != 200) {
        assert_eq!(other.status, 500);
        let problem = json(&String::from_utf8_lossy(&other.body));
        assert_eq!(problem["code"], "asset_blob_missing", "{problem}");
        assert!(
            problem.to_string().contains("--asset-store"),
            "the answer says how to share the bytes: {problem}"
        );
    }
    let creates = fake
        .requests()
        .iter()
        .filter(|q| q.method == "POST" && q.path.ends_with("/videos"))
        .count();
    assert_eq!(creates, 1, "the job was taken over, not submitted again");

    // The survivors keep serving the sessions, history intact.
    let out = session_input(&replicas[1], "p7", "third 7");
    assert!(out.status.success(), "{}", stderr(&out));
    let last = fake.chat_requests().pop().unwrap().body.unwrap();
    assert_eq!(last["messages"].as_array().unwrap().len(), 5, "{last}");
}

#[test]
fn three_replicas_serve_fifty_sessions_and_take_over_a_dead_ones_work_on_postgresql() {
    on_postgresql(three_replicas_serve_fifty_sessions_and_take_over_a_dead_ones_work);
}

/// What the table of sealed slots holds, as text (to look for plaintext).
fn sealed_slots_text(url: &str) -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            let rows = client
                .query(
                    "SELECT ref || ' ' || provider || ' ' || nonce || ' ' || ciphertext FROM secret_slots
                     UNION ALL SELECT header FROM secret_store",
                    &[],
                )
                .await
                .expect("read the secret tables");
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join("\n")
        })
}

fn secret_refs(env: &Env, d: &Daemon) -> Vec<String> {
    let list = json(&stdout(&d.cli(env, &["--json", "secrets", "list"])));
    list.as_array()
        .expect("a list")
        .iter()
        .map(|m| m["ref"].as_str().unwrap().to_owned())
        .collect()
}

/// Two replicas keep one secret store in the database (spec §15): the upstream key stored
/// through one is what the other sends within the refresh; secrets stored concurrently
/// through both are all kept (no replica's write drops another's); a deletion on one is
/// seen by the other; the tables hold only sealed values.
fn two_replicas_share_one_secret_store() {
    let fake = FakeOpenRouter::start();
    fake.set_api_key(API_KEY);
    let (env_a, a) = replica(&fake);
    let (env_b, b) = replica(&fake);
    let url = env_a.database_url.clone().unwrap();
    let out = b.cli(&env_b, &["sessions", "input", "s1", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The upstream key is replaced through A; B sends the new one.
    const NEW_KEY: &str = "sk-or-v1-replaced-through-replica-a-0123456789";
    fake.set_api_key(NEW_KEY);
    let out = a.cli(
        &env_a,
        &[
            "secrets",
            "set",
            "openrouter.primary",
            "--provider",
            "openrouter",
            "--value",
            NEW_KEY,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(Duration::from_secs(10), || {
        b.cli(&env_b, &["sessions", "input", "s1", "again"])
            .status
            .success()
            .then_some(())
    });
    let last = fake.chat_requests().pop().expect("a chat request");
    let bearer = format!("Bearer {NEW_KEY}");
    assert_eq!(last.header("authorization"), Some(bearer.as_str()));

    // Concurrent writes through both replicas: every one is kept.
    std::thread::scope(|scope| {
        for (env, d, side) in [(&env_a, &a, "a"), (&env_b, &b, "b")] {
            scope.spawn(move || {
                for i in 0..8 {
                    let name = format!("tool.{side}{i}");
                    let value = format!("plain-value-{side}-{i}");
                    let out = d.cli(
                        env,
                        &[
                            "secrets",
                            "set",
                            &name,
                            "--provider",
                            "tool",
                            "--value",
                            &value,
                        ],
                    );
                    assert!(out.status.success(), "{name}: {}", stderr(&out));
                }
            });
        }
    });
    for (env, d) in [(&env_a, &a), (&env_b, &b)] {
        let refs = eventually(Duration::from_secs(10), || {
            let refs = secret_refs(env, d);
            (refs.len() == 17).then_some(refs)
        });
        for side in ["a", "b"] {
            for i in 0..8 {
                assert!(refs.contains(&format!("tool.{side}{i}")), "{refs:?}");
            }
        }
    }

    // A deletion through B is seen by A.
    let out = b.cli(&env_b, &["secrets", "delete", "tool.a3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    eventually(Duration::from_secs(10), || {
        (!secret_refs(&env_a, &a).contains(&"tool.a3".to_owned())).then_some(())
    });

    // `ferry doctor --database-url` checks the shared store (read only) with the replicas'
    // key: it opens, and the route's key is found there, not in any state root's file.
    let fresh = Env::new();
    fresh.write_default_routes(&fake.base_url());
    let doctor = |env: &Env| {
        let out = env
            .cli(&["--json", "doctor", "--offline", "--database-url", &url])
            .env("FERRY_URL", format!("http://127.0.0.1:{}", a.port))
            .output()
            .expect("run ferry doctor");
        json(&stdout(&out))
    };
    let report = doctor(&fresh);
    let check = |report: &Value, name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} check in {report}"))
    };
    let key = check(&report, "master key");
    assert_eq!(key["level"], "ok", "{report}");
    assert!(
        key["detail"].as_str().unwrap().contains("16 secret(s)"),
        "{report}"
    );
    let route = check(&report, "route openrouter");
    assert_eq!(route["level"], "ok", "{report}");
    let mut stranger = Env::new();
    stranger.master_key = generate_master_key();
    stranger.write_default_routes(&fake.base_url());
    let report = doctor(&stranger);
    let key = check(&report, "master key");
    assert_eq!(key["level"], "fail", "{report}");
    assert!(
        key["detail"].as_str().unwrap().contains("wrong master key"),
        "{report}"
    );

    // Only sealed values in the database.
    let stored = sealed_slots_text(&url);
    assert!(stored.contains("tool.b7"), "{stored}");
    for plain in [NEW_KEY, API_KEY, "plain-value-a-1", "plain-value-b-7"] {
        assert!(!stored.contains(plain), "{plain} stored in the clear");
    }
}

#[test]
fn two_replicas_share_one_secret_store_on_postgresql() {
    on_postgresql(two_replicas_share_one_secret_store);
}
