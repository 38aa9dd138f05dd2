#!/usr/bin/env python3
"""Instructions per facade chat request and per durable session input, under callgrind.

The figures behind spec §12's "session input CPU ≤ 3× a facade request's", read the way
that does not move with the machine's load: one release `ferry serve` under valgrind's
callgrind per path, in front of the release fake OpenRouter; 300 warm-up requests, then
callgrind's counters are zeroed, N requests are sent one after another on one keep-alive
connection (facade: the small non-streaming chat body of `callgrind_keys.py`; session:
`POST /v1/sessions/{new id}/input`, a new session each, as the bench sends them), and the
counters are dumped after a second for the queued writes. Every thread counts (the SQLite
writer too). The dump files are left in the printed directories for
`callgrind_annotate`. See docs/benchmarks.md.

Usage: python3 crates/bench/callgrind_paths.py [--requests N] [--target-dir target/release]
       [--ferry PATH] [--only facade|session]
"""

import argparse
import glob
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind_keys import free_port, send, start_fake, stop, total_ir, wait_http  # noqa: E402

INPUT = json.dumps({"content": "hello there, how are you today"})


def session_inputs(conn, n, first):
    for i in range(first, first + n):
        conn.request(
            "POST",
            f"/v1/sessions/cg-{i}/input",
            INPUT,
            {"Content-Type": "application/json"},
        )
        r = conn.getresponse()
        r.read()
        if r.status >= 300:
            sys.exit(f"a session input answered {r.status}")


def measure(ferry, target_dir, path, n):
    """Instructions per request of `path` ("facade" or "session"); returns (Ir, dump)."""
    tmp = tempfile.mkdtemp(prefix=f"ferry-callgrind-{path}-")
    fake, routes, env = start_fake(target_dir, tmp)
    port = free_port()
    out = os.path.join(tmp, "callgrind.out")
    daemon = subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}.%p",
            ferry,
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--state-root",
            os.path.join(tmp, "state"),
            "--workspace-root",
            os.path.join(tmp, "ws"),
            "--routes-file",
            routes,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(tmp, "daemon.log"), "w"),
    )
    try:
        wait_http(port, "/healthz")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        if path == "facade":
            run = lambda k, first: send(conn, k, None)  # noqa: E731
        else:
            run = lambda k, first: session_inputs(conn, k, first)  # noqa: E731
        run(300, 0)
        time.sleep(1.0)
        subprocess.run(["callgrind_control", "-z", str(daemon.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        run(n, 300)
        time.sleep(1.0)
        before = set(glob.glob(f"{out}.{daemon.pid}*"))
        subprocess.run(["callgrind_control", "-d", str(daemon.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        dump = sorted(set(glob.glob(f"{out}.{daemon.pid}*")) - before)[-1]
        return total_ir(dump) / n, dump
    finally:
        stop(daemon, fake)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--ferry", help="the ferry binary (default: TARGET_DIR/ferry)")
    ap.add_argument("--only", choices=["facade", "session"])
    args = ap.parse_args()
    ferry = args.ferry or os.path.join(args.target_dir, "ferry")
    results = {}
    for path in ("facade", "session"):
        if args.only and args.only != path:
            continue
        results[path], dump = measure(ferry, args.target_dir, path, args.requests)
        print(f"{path}: {results[path]:,.0f} instructions per request ({dump})")
    if len(results) == 2:
        print(f"session input ÷ facade request: {results['session'] / results['facade']:.2f}×")


if __name__ == "__main__":
    main()
