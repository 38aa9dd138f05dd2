//! `ferry db copy`: a single-node SQLite install with sessions, runs, an asset, a key and
//! secrets moves to PostgreSQL and an S3-compatible store; every row, sealed secret and blob
//! is there afterwards (blobs verified by hash), a second copy into the now non-empty
//! database is refused, and a daemon on the copied backends — with nothing stored in its
//! own state root, only the install's master key — serves what the old one stored, with
//! the old one's upstream key. A daemon with another master key refuses the copied store.

use ferry_assets::testdata;

use crate::support::*;

#[test]
fn db_copy_moves_an_install_to_postgresql_and_s3_and_the_copy_serves_it() {
    let mut r = Rig::start();
    let out = r.cli(&["sessions", "input", "moving", "hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let wav = testdata::wav();
    let asset = r.upload(&wav, None, Some("a.wav")).json();
    let asset_id = asset["id"].as_str().unwrap().to_owned();
    let key = r.cli_json(&["keys", "create", "ci"]);
    let key_id = key["key"]["id"].as_str().unwrap().to_owned();
    let out = r.cli(&[
        "secrets",
        "set",
        "search.brave",
        "--provider",
        "brave",
        "--value",
        "brave-key-123",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let secrets_before = r.cli_json(&["secrets", "list"]);
    assert_eq!(
        secrets_before.as_array().unwrap().len(),
        2,
        "{secrets_before}"
    );
    assert_eq!(r.d.terminate(), Some(0));

    let cluster =
        ferry_store_pg::test_cluster::TestCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(cluster.new_database())
        .unwrap();
    let s3 = S3Assets::start();
    let (assets_url, aws) = s3.daemon_vars();
    let from = format!("sqlite://{}", r.env.state().display());
    let copy = |extra: &[&str]| {
        let mut args = vec!["--json", "db", "copy", "--from", &from, "--to", &url];
        args.extend_from_slice(extra);
        let mut cmd = r.env.cli(&args);
        cmd.envs(aws.iter().map(|(k, v)| (*k, v.as_str())));
        cmd.output().expect("run ferry db copy")
    };
    let out = copy(&["--assets-to", &assets_url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&stdout(&out));
    let rows = |table: &str| {
        let t = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .unwrap_or_else(|| panic!("no {table} in {report}"));
        assert_eq!(t["source_rows"], t["target_rows"], "{t}");
        t["target_rows"].as_u64().unwrap()
    };
    assert_eq!(rows("sessions"), 1);
    assert_eq!(rows("messages"), 2);
    assert_eq!(rows("runs"), 1);
    assert!(rows("run_events") >= 2);
    assert_eq!(rows("assets"), 1);
    assert_eq!(rows("access_keys"), 1);
    assert_eq!(rows("secret_slots"), 2);
    assert_eq!(report["blobs"]["copied"], 1, "{report}");
    assert_eq!(report["blobs"]["bytes"], wav.len() as u64, "{report}");

    // A second copy into the now non-empty database is refused, and says how to go on.
    let out = copy(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not empty") && stderr(&out).contains("--merge"),
        "{}",
        stderr(&out)
    );
    // With --merge it adds nothing twice.
    let out = copy(&["--merge"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out))["tables"][1]["target_rows"], 1);

    // A daemon with another master key refuses the copied secret store, and says why.
    let mut env = Env::new();
    env.database_url = Some(url.clone());
    env.write_routes(&std::fs::read_to_string(r.env.routes_path()).unwrap());
    let (code, log) = env.serve_expect_exit(|_| {});
    assert_ne!(code, 0);
    assert!(log.contains("wrong master key"), "{log}");

    // A daemon on the copied backends: a new state root with no secret of its own, the
    // install's master key.
    env.master_key = r.env.master_key.clone();
    let d = env.serve_with(&["--asset-store", &assets_url], |c| {
        c.envs(aws.iter().map(|(k, v)| (*k, v.as_str())));
    });
    assert!(!env.state().join("secrets.json").exists());
    let secrets_after = json(&stdout(&d.cli(&env, &["--json", "secrets", "list"])));
    assert_eq!(
        secrets_after, secrets_before,
        "the same secrets, fingerprints and times"
    );
    let show = json(&stdout(
        &d.cli(&env, &["--json", "sessions", "show", "moving"]),
    ));
    assert_eq!(show["message_count"], 2, "{show}");
    let (status, body) = http_bytes_get(d.port, &format!("/v1/assets/{asset_id}/raw"));
    assert_eq!(status, 200);
    assert_eq!(body, wav, "the copied blob comes back byte for byte");
    let keys = json(&stdout(&d.cli(&env, &["--json", "keys", "list"])));
    assert!(keys.to_string().contains(&key_id), "{keys}");
    // New runs on the copied database continue the session.
    let out = d.cli(&env, &["sessions", "input", "moving", "again"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let show = json(&stdout(
        &d.cli(&env, &["--json", "sessions", "show", "moving"]),
    ));
    assert_eq!(show["message_count"], 4, "{show}");

    // The master key of the shared store is rotated with every replica stopped; the
    // replicas then start with the new key only.
    let mut d = d;
    assert_eq!(d.terminate(), Some(0));
    let new_key = generate_master_key();
    let key_file = env.root().join("new-master.key");
    std::fs::write(&key_file, &new_key).unwrap();
    let state = env.state();
    let out = env
        .cli(&[
            "--json",
            "secrets",
            "rotate-master-key",
            "--state-root",
            state.to_str().unwrap(),
            "--new-key-file",
            key_file.to_str().unwrap(),
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out))["rotated"], 2);
    let (code, log) = env.serve_expect_exit(|_| {});
    assert_ne!(code, 0, "the old key no longer opens the store");
    assert!(log.contains("wrong master key"), "{log}");
    env.master_key = new_key;
    let d = env.serve_with(&["--asset-store", &assets_url], |c| {
        c.envs(aws.iter().map(|(k, v)| (*k, v.as_str())));
    });
    let rotated = json(&stdout(&d.cli(&env, &["--json", "secrets", "list"])));
    let refs = |list: &serde_json::Value| {
        list.as_array()
            .unwrap()
            .iter()
            .map(|m| (m["ref"].clone(), m["fingerprint"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        refs(&rotated),
        refs(&secrets_before),
        "the same values under the new key"
    );
    let out = d.cli(&env, &["sessions", "input", "moving", "after rotation"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// GET `path` on loopback `port`: the status and the body's bytes.
fn http_bytes_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let r = http_bytes(port, "GET", path, &[], b"");
    (r.status, r.body)
}
