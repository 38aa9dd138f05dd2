#!/usr/bin/env python3
"""Instructions per facade request, without and with a virtual key (budget + rpm + tpm).

CPU time on a shared machine moves with the load; instruction counts do not. This runs the
release `ferry serve` under valgrind's callgrind in front of the release fake OpenRouter,
warms both paths up, then alternates measured phases (plain, keyed, plain, keyed): each
phase zeroes callgrind's counters, sends N non-streaming chat requests one after another
on one keep-alive connection, waits for the queued ledger writes, and dumps. Every thread
of the daemon counts (the SQLite writer too). See docs/benchmarks.md.

Usage: python3 crates/bench/callgrind_keys.py [--requests N] [--target-dir target/release]
       [--ferry PATH (another build of ferry, e.g. main's, against the same fake)]
"""

import argparse
import glob
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

BODY = json.dumps(
    {
        "model": "openai/gpt-5.4-mini",
        "stream": False,
        "messages": [{"role": "user", "content": "hello there, how are you today"}],
    }
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, limit=120):
    start = time.time()
    while time.time() - start < limit:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit(f"127.0.0.1:{port}{path} did not answer within {limit} s")


def start_fake(target_dir, tmp):
    """Starts the release fake OpenRouter; writes TMP/routes.toml pointing at it and makes
    TMP/ws. Returns (the fake's process, the routes file, the daemon's environment)."""
    fake_port = free_port()
    fake = subprocess.Popen(
        [os.path.join(target_dir, "fake-openrouter"), "--port", str(fake_port)],
        stdout=subprocess.DEVNULL,
    )
    routes = os.path.join(tmp, "routes.toml")
    with open(routes, "w") as f:
        f.write(
            "version = 1\n[routes.openrouter]\ndefault_model = \"openai/gpt-5.4-mini\"\n"
            "api_key_env = \"BENCH_OPENROUTER_KEY\"\n"
            f"base_url = \"http://127.0.0.1:{fake_port}/api/v1\"\n"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_")}
    env.update(BENCH_OPENROUTER_KEY="sk-or-v1-bench", RUST_LOG="warn")
    os.makedirs(os.path.join(tmp, "ws"))
    return fake, routes, env


def stop(*procs):
    """Terminates each process and waits for it."""
    for proc in procs:
        proc.terminate()
        proc.wait()


def send(conn, n, key):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    for _ in range(n):
        conn.request("POST", "/openai/v1/chat/completions", BODY, headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"facade answered {r.status}")


def total_ir(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    sys.exit(f"no totals in {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--ferry", help="the ferry binary (default: TARGET_DIR/ferry)")
    args = ap.parse_args()
    ferry = args.ferry or os.path.join(args.target_dir, "ferry")
    tmp = tempfile.mkdtemp(prefix="ferry-callgrind-")
    port = free_port()
    fake, routes, env = start_fake(args.target_dir, tmp)
    out = os.path.join(tmp, "callgrind.out")
    daemon = subprocess.Popen(
        [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
            ferry, "serve",
            "--bind", f"127.0.0.1:{port}",
            "--state-root", os.path.join(tmp, "state"),
            "--workspace-root", os.path.join(tmp, "ws"),
            "--routes-file", routes,
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "daemon.log"), "w"),
    )
    try:
        wait_http(port, "/healthz")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request(
            "POST", "/v1/keys",
            json.dumps({"name": "bench", "budget_usd": 1e9, "period": "month",
                        "rpm": 1_000_000_000, "tpm": 4_000_000_000}),
            {"Content-Type": "application/json"},
        )
        key = json.loads(c.getresponse().read())["secret"]
        send(c, args.warmup, None)
        send(c, args.warmup, key)
        results = {"plain": [], "keyed": []}
        for phase in ["plain", "keyed", "plain", "keyed"]:
            subprocess.run(["callgrind_control", "-z", str(daemon.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            send(c, args.requests, key if phase == "keyed" else None)
            time.sleep(1.0)  # the queued ledger rows are written
            before = set(glob.glob(f"{out}.{daemon.pid}*"))
            subprocess.run(["callgrind_control", "-d", str(daemon.pid)], check=True,
                           stdout=subprocess.DEVNULL)
            dump = sorted(set(glob.glob(f"{out}.{daemon.pid}*")) - before)[-1]
            results[phase].append(total_ir(dump) / args.requests)
        plain = min(results["plain"])
        keyed = min(results["keyed"])
        print(f"instructions per facade request (callgrind, {args.requests} requests a phase)")
        print(f"  plain:  {' / '.join(f'{x:,.0f}' for x in results['plain'])}")
        print(f"  keyed:  {' / '.join(f'{x:,.0f}' for x in results['keyed'])}")
        print(f"  key + budget + rate limit: {(keyed / plain - 1) * 100:+.1f}%")
    finally:
        stop(daemon, fake)


if __name__ == "__main__":
    main()
