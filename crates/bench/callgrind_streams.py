#!/usr/bin/env python3
"""Instructions per facade call of each protocol, streamed and not, under callgrind.

Like `callgrind_paths.py` (which measures the facade's non-streaming chat call and the
durable session input): one release `ferry serve` under valgrind's callgrind in front of
the release fake OpenRouter; 100 warm-up calls of each kind, then for each kind
callgrind's counters are zeroed, N calls are sent one after another on one keep-alive
connection, and the counters are dumped after a second (for the queued ledger writes).
Every thread counts. The dumps are copied to OUT/<kind> for `callgrind_annotate`. See
docs/benchmarks.md.

Usage: python3 crates/bench/callgrind_streams.py [--requests N] [--out DIR]
       [--target-dir target/release] [--ferry PATH]
"""

import argparse
import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind_keys import free_port, start_fake, stop, total_ir, wait_http  # noqa: E402
from ttft_builds import PROTOCOLS, TEXT  # noqa: E402

KINDS = {f"{name}-stream": (path, body) for name, (path, _, body, _) in PROTOCOLS.items()}
KINDS["chat"] = (
    "/openai/v1/chat/completions",
    {"model": "openai/gpt-5.4-mini", "stream": False,
     "messages": [{"role": "user", "content": TEXT}]},
)
KINDS["messages"] = (
    "/anthropic/v1/messages",
    {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64, "stream": False,
     "messages": [{"role": "user", "content": TEXT}]},
)


def send(conn, kind, n):
    path, body = KINDS[kind]
    payload = json.dumps(body)
    for _ in range(n):
        conn.request("POST", path, payload, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"{kind}: the facade answered {r.status}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", default=None, help="where the dumps are copied")
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--ferry", help="the ferry binary (default: TARGET_DIR/ferry)")
    args = ap.parse_args()
    ferry = args.ferry or os.path.join(args.target_dir, "ferry")
    tmp = tempfile.mkdtemp(prefix="ferry-callgrind-streams-")
    out_dir = args.out or os.path.join(tmp, "dumps")
    os.makedirs(out_dir, exist_ok=True)
    fake, routes, env = start_fake(args.target_dir, tmp)
    port = free_port()
    out = os.path.join(tmp, "callgrind.out")
    daemon = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", ferry, "serve",
         "--bind", f"127.0.0.1:{port}", "--state-root", os.path.join(tmp, "state"),
         "--workspace-root", os.path.join(tmp, "ws"), "--routes-file", routes],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(port, "/healthz")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for kind in KINDS:
            send(conn, kind, 100)
        print(f"instructions per call (callgrind, {args.requests} calls each); dumps in {out_dir}")
        for kind in KINDS:
            subprocess.run(["callgrind_control", "-z", str(daemon.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            send(conn, kind, args.requests)
            time.sleep(1.0)
            before = set(glob.glob(f"{out}.{daemon.pid}*"))
            subprocess.run(["callgrind_control", "-d", str(daemon.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            dump = sorted(set(glob.glob(f"{out}.{daemon.pid}*")) - before)[-1]
            shutil.copy(dump, os.path.join(out_dir, kind))
            print(f"  {kind}: {total_ir(dump) / args.requests:,.0f}", flush=True)
    finally:
        stop(daemon, fake)


if __name__ == "__main__":
    main()
