#!/usr/bin/env python3
"""Which b-trees a durable session input writes, counted in WAL frames.

Each page a SQLite commit changes is one WAL frame: its checksum, a write, and later a
second write at checkpoint. This runs the release `ferry serve` in front of the release
fake OpenRouter, warms it up, truncates the WAL from a second connection (a checkpoint
that WAL mode allows beside the daemon), sends N session inputs one after another, each to
a new session (or all to one with --same-session), reads the frame headers the WAL then
holds, and names each frame's page with SQLite's `dbstat` on a copy of the database. Run
one at a time: with concurrent inputs group commit shares pages. See docs/benchmarks.md.

Usage: python3 crates/bench/wal_frames.py [--runs N] [--target-dir target/release]
       [--ferry PATH] [--same-session]
"""

import argparse
import collections
import http.client
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import callgrind_keys as ck  # noqa: E402  (free_port, start_fake, wait_http)

INPUT = json.dumps({"content": "hello there, how are you today"})


def wal_frames(path):
    """The (page, commit-size) of every valid frame: stops at the first frame whose salt
    is not the header's (left over from before the WAL last restarted)."""
    data = open(path, "rb").read()
    if len(data) < 32:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    salt = data[16:24]
    frames, off = [], 32
    while off + 24 + page_size <= len(data):
        page, commit = struct.unpack(">II", data[off : off + 8])
        if data[off + 8 : off + 16] != salt:
            break
        frames.append((page, commit))
        off += 24 + page_size
    return frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--ferry")
    ap.add_argument("--same-session", action="store_true")
    args = ap.parse_args()
    ferry = args.ferry or os.path.join(args.target_dir, "ferry")
    tmp = tempfile.mkdtemp(prefix="ferry-wal-")
    port = ck.free_port()
    fake, routes, env = ck.start_fake(args.target_dir, tmp)
    state = os.path.join(tmp, "state")
    daemon = subprocess.Popen(
        [ferry, "serve", "--bind", f"127.0.0.1:{port}", "--state-root", state,
         "--workspace-root", os.path.join(tmp, "ws"), "--routes-file", routes],
        env=env, stdout=subprocess.DEVNULL,
    )
    db = os.path.join(state, "ferry.db")
    try:
        ck.wait_http(port, "/healthz")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def send(tag, n):
            for i in range(n):
                session = tag if args.same_session else f"{tag}-{i}"
                conn.request("POST", f"/v1/sessions/{session}/input", INPUT,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    sys.exit(f"a session input answered {r.status}")

        send("warm", 50)
        time.sleep(0.3)
        side = sqlite3.connect(db)
        busy, _, _ = side.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        side.close()
        if busy:
            sys.exit("the WAL could not be truncated (a reader was busy); run again")
        send("m", args.runs)
        time.sleep(0.3)
        frames = wal_frames(db + "-wal")
        # The daemon's clean shutdown would checkpoint the WAL away: kill it instead.
        daemon.kill()
        daemon.wait()
        copy = os.path.join(tmp, "copy.db")
        shutil.copy(db, copy)
        shutil.copy(db + "-wal", copy + "-wal")
        named = sqlite3.connect(copy)
        owner = {page: name for name, page in named.execute("SELECT name, pageno FROM dbstat")}
        named.close()
        commits = sum(1 for _, size in frames if size)
        n = args.runs
        print(f"{len(frames)} frames in {commits} commits over {n} inputs: "
              f"{len(frames) / n:.1f} frames and {commits / n:.1f} commits per input")
        counts = collections.Counter(owner.get(page, "(new or free page)") for page, _ in frames)
        for name, k in counts.most_common():
            print(f"  {name:40s} {k / n:5.2f}")
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        fake.terminate()
        fake.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
