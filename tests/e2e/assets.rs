//! Issue 5, asset store: uploads of every accepted type (real bytes generated here), type
//! sniffing and refusals, size limit, dedupe, verified downloads with ETag and ranges,
//! corruption detection, delete, multipart, and the `ferry assets` commands.

use ferry_assets::{sha256_hex, testdata};
use serde_json::Value;

use crate::support::*;

/// A rig whose route has `route_keys`, served with `serve_args`.
pub fn rig_with(route_keys: &str, serve_args: &[&str]) -> Rig {
    rig_on(AssetBackend::StateRoot, route_keys, serve_args)
}

/// [`rig_with`] keeping asset bytes in `store`.
pub fn rig_on(store: AssetBackend, route_keys: &str, serve_args: &[&str]) -> Rig {
    Rig::with(RigOptions {
        route_keys,
        serve_args,
        asset_store: store,
        ..RigOptions::default()
    })
}

on_every_asset_store!(
    every_accepted_type_uploads_and_downloads_verbatim,
    duplicates_dedupe_and_downloads_verify,
    delete_and_multipart_and_cli_round_trip,
);

impl Rig {
    pub fn upload(
        &self,
        bytes: &[u8],
        content_type: Option<&str>,
        name: Option<&str>,
    ) -> RawResponse {
        let mut headers = Vec::new();
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        let path = match name {
            Some(n) => format!("/v1/assets?file_name={n}"),
            None => "/v1/assets".to_string(),
        };
        http_bytes(self.d.port, "POST", &path, &headers, bytes)
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        http_bytes(self.d.port, "GET", path, headers, b"")
    }
}

/// (expected type, bytes, declared type, file name).
type Sample = (
    &'static str,
    Vec<u8>,
    Option<&'static str>,
    Option<&'static str>,
);

fn accepted_samples() -> Vec<Sample> {
    vec![
        ("image/png", testdata::png(), None, Some("pic.png")),
        ("image/jpeg", testdata::jpeg(), Some("image/jpeg"), None),
        ("image/gif", testdata::gif(), None, None),
        ("image/webp", testdata::webp(), None, None),
        (
            "audio/wav",
            testdata::wav(),
            Some("audio/x-wav"),
            Some("memo.wav"),
        ),
        ("audio/mpeg", testdata::mp3(), None, None),
        ("audio/mp4", testdata::m4a(), None, Some("voice.m4a")),
        ("audio/ogg", testdata::ogg(), None, None),
        ("audio/flac", testdata::flac(), None, None),
        (
            "audio/webm",
            testdata::webm_with(1),
            Some("audio/webm"),
            None,
        ),
        (
            "audio/pcm",
            vec![0, 1, 2, 3, 4, 5, 6, 7],
            Some("audio/L16"),
            None,
        ),
        (
            "video/webm",
            testdata::webm_with(2),
            None,
            Some("clip.webm"),
        ),
        ("application/pdf", testdata::pdf(), None, Some("doc.pdf")),
        ("text/plain", b"plain words\n".to_vec(), None, None),
        (
            "text/markdown",
            b"# Notes\n- one\n".to_vec(),
            None,
            Some("notes.md"),
        ),
        ("text/csv", b"a,b\n1,2\n".to_vec(), Some("text/csv"), None),
        ("application/json", br#"{"k": [1, 2]}"#.to_vec(), None, None),
    ]
}

fn every_accepted_type_uploads_and_downloads_verbatim(store: AssetBackend) {
    let r = rig_on(store, "", &[]);
    for (want, bytes, declared, name) in accepted_samples() {
        let resp = r.upload(&bytes, declared, name);
        assert_eq!(
            resp.status,
            201,
            "{want}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let v = resp.json();
        assert_eq!(v["media_type"], want, "{want}");
        assert_eq!(v["size"], bytes.len() as u64);
        assert_eq!(v["sha256"], sha256_hex(&bytes));
        assert_eq!(v["created"], true);
        let id = v["id"].as_str().unwrap();
        assert_eq!(
            resp.header("location"),
            Some(format!("/v1/assets/{id}").as_str())
        );

        let raw = r.get(&format!("/v1/assets/{id}/raw"), &[]);
        assert_eq!(raw.status, 200, "{want}");
        assert_eq!(raw.body, bytes, "{want}");
        assert!(
            raw.header("content-type").unwrap().starts_with(want),
            "{want}"
        );
        assert_eq!(
            raw.header("content-length"),
            Some(bytes.len().to_string().as_str())
        );
        assert_eq!(
            raw.header("etag"),
            Some(format!("\"{}\"", sha256_hex(&bytes)).as_str())
        );
        assert_eq!(raw.header("accept-ranges"), Some("bytes"));
    }
    // Blobs are content-addressed: state/assets/<2 hex>/<sha256>, or PREFIX/<2 hex>/<sha256>.
    let png_sha = sha256_hex(&testdata::png());
    assert!(r.blob_exists(&png_sha));
    let list = r.get("/v1/assets?kind=audio", &[]).json();
    assert_eq!(list["assets"].as_array().unwrap().len(), 7, "{list}");
    let list = r.get("/v1/assets?kind=text&limit=2", &[]).json();
    assert_eq!(list["assets"].as_array().unwrap().len(), 2);
    let cursor = list["next_cursor"].as_str().expect("a cursor").to_string();
    let rest = r
        .get(
            &format!("/v1/assets?kind=text&limit=2&cursor={cursor}"),
            &[],
        )
        .json();
    assert_eq!(rest["assets"].as_array().unwrap().len(), 2);
    assert_ne!(rest["assets"][0]["id"], list["assets"][0]["id"]);
    let bad = r.get("/v1/assets?kind=spreadsheet", &[]);
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "invalid_filter");
}

#[test]
fn refusals_explain_and_leave_nothing_behind() {
    let r = rig_with("", &["--max-asset-bytes", "4096"]);
    // A declared type that contradicts the bytes: 415 naming both.
    let resp = r.upload(&testdata::png(), Some("audio/wav"), None);
    assert_eq!(resp.status, 415);
    let p = resp.json();
    assert_eq!(p["code"], "media_type_mismatch");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("audio/wav") && detail.contains("image/png"),
        "{detail}"
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    // Declared JSON that is not JSON.
    let resp = r.upload(b"{oops", Some("application/json"), None);
    assert_eq!(resp.status, 415);
    assert!(resp.json()["detail"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    // A type outside the allow-list.
    let resp = r.upload(b"x", Some("application/zip"), None);
    assert_eq!(resp.status, 415);
    assert_eq!(resp.json()["code"], "unsupported_media_type");
    assert!(resp.json()["detail"]
        .as_str()
        .unwrap()
        .contains("image/png, image/jpeg"));
    // Unrecognisable binary.
    let resp = r.upload(&[0x00, 0xFF, 0x10, 0x80, 0x00], None, None);
    assert_eq!(resp.status, 415);
    // Empty.
    let resp = r.upload(b"", None, None);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["code"], "empty_asset");
    // Oversize: refused from Content-Length, and while streaming (chunked, no length).
    let big = testdata::wav_with(4000, 1);
    let resp = r.upload(&big, None, None);
    assert_eq!(resp.status, 413);
    let p = resp.json();
    assert_eq!(p["code"], "asset_too_large");
    assert!(p["detail"].as_str().unwrap().contains("--max-asset-bytes"));
    let chunked = chunked_upload(r.d.port, &big);
    assert_eq!(chunked, 413);
    assert_eq!(r.blob_count(), 0);
    let listed = r.get("/v1/assets", &[]).json();
    assert_eq!(listed["assets"].as_array().unwrap().len(), 0);

    // The CLI maps 413/415 to exit 2.
    std::fs::write(r.env.root().join("big.wav"), &big).unwrap();
    let out = r.cli(&["assets", "import", "big.wav"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("asset_too_large"), "{}", stderr(&out));
    std::fs::write(r.env.root().join("pic.png"), testdata::png()).unwrap();
    let out = r.cli(&["assets", "import", "pic.png", "--type", "text/plain"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("image/png"), "{}", stderr(&out));
}

/// Sends `body` with `Transfer-Encoding: chunked` (no Content-Length); returns the status.
fn chunked_upload(port: u16, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = b"POST /v1/assets HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Ferry-Client: e2e\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in body.chunks(1000) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let _ = s.write_all(&req);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn duplicates_dedupe_and_downloads_verify(store: AssetBackend) {
    let r = rig_on(store, "", &[]);
    let wav = testdata::wav();
    let first = r.upload(&wav, None, Some("a.wav")).json();
    let second = r.upload(&wav, Some("audio/wav"), Some("b.wav"));
    assert_eq!(second.status, 200, "an existing asset is 200, not 201");
    let second = second.json();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["created"], false);
    assert_eq!(second["file_name"], "a.wav", "the first name is kept");
    // Same bytes with another (compatible) type are another asset sharing the blob.
    let text1 = r.upload(b"same words", Some("text/plain"), None).json();
    let text2 = r.upload(b"same words", Some("text/markdown"), None).json();
    assert_ne!(text1["id"], text2["id"]);
    assert_eq!(
        r.get("/v1/assets", &[]).json()["assets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(r.blob_count(), 2);

    let id = first["id"].as_str().unwrap();
    let etag = format!("\"{}\"", sha256_hex(&wav));
    // Conditional and ranged downloads.
    let nm = r.get(&format!("/v1/assets/{id}/raw"), &[("If-None-Match", &etag)]);
    assert_eq!(nm.status, 304);
    assert!(nm.body.is_empty());
    let part = r.get(&format!("/v1/assets/{id}/raw"), &[("Range", "bytes=0-3")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, b"RIFF");
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-3/{}", wav.len()).as_str())
    );
    let tail = r.get(&format!("/v1/assets/{id}/raw"), &[("Range", "bytes=-4")]);
    assert_eq!(tail.body, &wav[wav.len() - 4..]);
    let out = r.get(
        &format!("/v1/assets/{id}/raw"),
        &[("Range", "bytes=99999-")],
    );
    assert_eq!(out.status, 416);
    assert_eq!(
        out.header("content-range"),
        Some(format!("bytes */{}", wav.len()).as_str())
    );
    assert_eq!(out.json()["code"], "range_not_satisfiable");
    assert!(
        !out.json()["detail"].as_str().unwrap().contains("99999"),
        "the detail does not echo the Range header"
    );
    // Overlapping ranges are not "unsatisfiable": the whole body, like multi-ranges.
    let overlap = r.get(
        &format!("/v1/assets/{id}/raw"),
        &[("Range", "bytes=0-0,0-0,0-0")],
    );
    assert_eq!(overlap.status, 200);
    assert_eq!(overlap.body, wav);
    let stale = r.get(
        &format!("/v1/assets/{id}/raw"),
        &[("Range", "bytes=0-3"), ("If-Range", "\"other\"")],
    );
    assert_eq!(
        stale.status, 200,
        "If-Range with another validator sends it all"
    );

    // Corrupt the blob behind the daemon's back: /raw refuses, the CLI fails, nothing is
    // served.
    let mut damaged = wav.clone();
    damaged[60] ^= 0xFF;
    r.corrupt_blob(&sha256_hex(&wav), &damaged);
    let bad = r.get(&format!("/v1/assets/{id}/raw"), &[]);
    assert_eq!(bad.status, 500);
    let p = bad.json();
    assert_eq!(p["code"], "asset_corrupted");
    assert!(
        p["detail"].as_str().unwrap().contains(&sha256_hex(&wav)),
        "{p}"
    );
    let out = r.cli(&["assets", "get", id, "--out", "copy.wav"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("corrupted"), "{}", stderr(&out));
    assert!(!r.env.root().join("copy.wav").exists());
    // Uploading the original again repairs the blob.
    assert_eq!(r.upload(&wav, None, None).status, 200);
    assert_eq!(r.get(&format!("/v1/assets/{id}/raw"), &[]).body, wav);
    // A missing blob is reported as such.
    r.remove_blob(&sha256_hex(&wav));
    let gone = r.get(&format!("/v1/assets/{id}/raw"), &[]);
    assert_eq!(gone.json()["code"], "asset_blob_missing");
    // One daemon: the bytes were removed, not kept by another replica.
    let detail = gone.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("Upload the original again") && !detail.contains("--asset-store"),
        "{detail}"
    );
}

pub(crate) fn delete_and_multipart_and_cli_round_trip(store: AssetBackend) {
    let r = rig_on(store, "", &[]);
    // Multipart upload with a `file` part.
    let png = testdata::png_with(3, 3, 9);
    let boundary = "XferryBoundary";
    let (ct, body) = multipart(("note", "ignored"), "shot.png", "image/png", &png);
    let resp = http_bytes(
        r.d.port,
        "POST",
        "/v1/assets",
        &[("Content-Type", &ct)],
        &body,
    );
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let v = resp.json();
    assert_eq!(v["file_name"], "shot.png");
    assert_eq!(v["media_type"], "image/png");
    let no_file = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--{boundary}--\r\n"
    );
    let resp = http_bytes(
        r.d.port,
        "POST",
        "/v1/assets",
        &[("Content-Type", &ct)],
        no_file.as_bytes(),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["code"], "invalid_multipart");

    // CLI: import, list, show, get, delete.
    std::fs::write(r.env.root().join("notes.md"), b"# Plan\n").unwrap();
    let out = r.cli(&["--json", "assets", "import", "notes.md"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let imported: Value = json(&stdout(&out));
    assert_eq!(imported["media_type"], "text/markdown");
    let id = imported["id"].as_str().unwrap().to_string();
    let out = r.cli(&["assets", "list"]);
    assert!(
        stdout(&out).contains(&id) && stdout(&out).contains("notes.md"),
        "{}",
        stdout(&out)
    );
    let out = r.cli(&["assets", "show", &id]);
    assert!(stdout(&out).contains("text/markdown"), "{}", stdout(&out));
    let out = r.cli(&["assets", "get", &id, "--out", "back.md"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(r.env.root().join("back.md")).unwrap(),
        b"# Plan\n"
    );

    let out = r.cli(&["assets", "delete", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(r.get(&format!("/v1/assets/{id}"), &[]).status, 404);
    assert_eq!(r.get(&format!("/v1/assets/{id}/raw"), &[]).status, 404);
    let out = r.cli(&["assets", "show", &id]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("asset_not_found"), "{}", stderr(&out));
    // Only the multipart PNG's blob is left.
    assert_eq!(r.blob_count(), 1);
    let del = http_bytes(
        r.d.port,
        "DELETE",
        &format!("/v1/assets/{}", v["id"].as_str().unwrap()),
        &[],
        b"",
    );
    assert_eq!(del.status, 200);
    assert_eq!(r.blob_count(), 0);
    // Status reports asset storage.
    let status = r.get("/v1/status", &[]).json();
    assert_eq!(status["storage"]["assets"], 0);
}

#[test]
fn a_missing_bucket_or_bad_asset_store_url_stops_the_start_with_the_fix() {
    let fake = FakeOpenRouter::start();
    let env = Env::new();
    env.write_default_routes(&fake.base_url());
    let moto = ferry_assets::moto::MotoServer::start();
    let vars = moto.aws_vars();
    let (code, err) = env.serve_expect_exit(|c| {
        c.args(["--asset-store", "s3://no-such-bucket/assets"]);
        c.envs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    });
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no-such-bucket")
            && err.contains("does not exist")
            && err.contains("create it"),
        "{err}"
    );
    assert!(
        !err.contains("moto-test-secret"),
        "the secret key is never printed: {err}"
    );
    // A value that is not an s3:// URL is a usage error naming the fix; credentials in it
    // are not echoed.
    let (code, err) = env.serve_expect_exit(|c| {
        c.env("FERRY_ASSET_STORE", "s3://AKIA:hunter2@bucket/x");
    });
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("AWS_SECRET_ACCESS_KEY") && !err.contains("hunter2"),
        "{err}"
    );
}
