#!/usr/bin/env python3
"""Time to first token of streamed facade calls, several builds of ferry interleaved.

The bench pairs each of its latency rows with a reference inside one run of one build;
comparing two builds that way takes two runs, and the machine moves between them by more
than a change of 0.01–0.03 ms. This starts the release fake OpenRouter on core 1 and two
daemons of each build given on core 0 (each on one CPU: the current-thread runtime, as
the bench runs it), then, for each protocol (chat, Responses, Messages), sends ROUNDS
rounds; a round is one streamed call straight to the fake and one to each daemon, in a
shuffled order, each on a new connection, timed to the protocol's first token (the
bench's markers). It prints each daemon's p50 added over the direct call. Two daemons per
build show how far two daemons of one build differ. `--protocols session` times durable
session streams instead (`POST /v1/sessions/{new id}/input`, `Accept: text/event-stream`,
to the first `output.delta`), against the direct chat call with the facade's small body
(the bench's session row sends the direct call the session turn's own body). See
docs/benchmarks.md.

Usage: python3 crates/bench/ttft_builds.py [--rounds N] [--target-dir target/release]
       [--protocols chat,responses,messages,session] NAME=PATH [NAME=PATH ...]
"""

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind_keys import free_port, start_fake, stop, wait_http  # noqa: E402

TEXT = "hello there, how are you today"
PROTOCOLS = {
    "chat": (
        "/openai/v1/chat/completions",
        "/api/v1/chat/completions",
        {"model": "openai/gpt-5.4-mini", "stream": True,
         "messages": [{"role": "user", "content": TEXT}]},
        b'"content":"echo:',
    ),
    "responses": (
        "/openai/v1/responses",
        "/api/v1/responses",
        {"model": "openai/gpt-5.4-mini", "stream": True, "input": TEXT},
        b'"delta":"echo:',
    ),
    "messages": (
        "/anthropic/v1/messages",
        "/api/v1/messages",
        {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64, "stream": True,
         "messages": [{"role": "user", "content": TEXT}]},
        b'"text":"echo:',
    ),
    # `{n}` is a new session each call; its direct reference is chat's.
    "session": (
        "/v1/sessions/ttft-{n}/input",
        "/api/v1/chat/completions",
        {"content": TEXT},
        b"event: output.delta",
    ),
}
SESSION_IDS = iter(range(10**9))


def first_token(port, path, body, marker):
    """Seconds until `marker` arrives on a streamed POST (then reads to the end)."""
    accept = ""
    if "{n}" in path:
        path = path.format(n=next(SESSION_IDS))
        accept = "Accept: text/event-stream\r\n"
    payload = json.dumps(body).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nAuthorization: Bearer sk-or-v1-bench\r\n"
        f"{accept}"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = time.perf_counter()
    s.sendall(request)
    seen, first = b"", None
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        seen += chunk
        if first is None and marker in seen:
            first = time.perf_counter() - start
        if first is not None and b"0\r\n\r\n" in seen[-16:]:
            break
    s.close()
    if first is None:
        sys.exit(f"127.0.0.1:{port}{path}: the stream ended without its first token")
    return first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1500)
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--protocols", default="chat,responses,messages")
    ap.add_argument("builds", nargs="+", help="NAME=PATH of a ferry binary")
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.builds]
    tmp = tempfile.mkdtemp(prefix="ferry-ttft-builds-")
    fake, routes, env = start_fake(args.target_dir, tmp)
    with open(routes) as f:
        fake_port = int(f.read().split("127.0.0.1:")[1].split("/")[0])
    daemons = []
    try:
        for name, path in builds:
            for n in range(2):
                port = free_port()
                root = os.path.join(tmp, f"{name}-{n}")
                proc = subprocess.Popen(
                    ["taskset", "-c", "0", path, "serve", "--bind", f"127.0.0.1:{port}",
                     "--state-root", os.path.join(root, "state"),
                     "--workspace-root", os.path.join(tmp, "ws"), "--routes-file", routes],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                daemons.append((name, port, proc))
        for _, port, _ in daemons:
            wait_http(port, "/healthz")
        rng = random.Random(7)
        for protocol in args.protocols.split(","):
            path, upstream, body, marker = PROTOCOLS[protocol]
            targets = [("direct", fake_port, upstream)] + [(n, p, path) for n, p, _ in daemons]

            def call(target):
                # A session's direct reference is chat's call with chat's body.
                if target[0] == "direct" and protocol == "session":
                    return first_token(target[1], target[2], *PROTOCOLS["chat"][2:])
                return first_token(target[1], target[2], body, marker)

            for target in targets:  # warm-up: connections, caches, the catalog
                for _ in range(20):
                    call(target)
            times = {t: [] for t in targets}
            for _ in range(args.rounds):
                rng.shuffle(targets)
                for target in targets:
                    times[target].append(call(target))
            direct = statistics.median(times[("direct", fake_port, upstream)]) * 1000
            added = {}
            for (name, port, _), xs in times.items():
                if name != "direct":
                    added.setdefault(name, []).append(statistics.median(xs) * 1000 - direct)
            row = ", ".join(
                f"{name} " + " / ".join(f"+{a:.3f}" for a in added[name]) for name, _ in builds
            )
            print(f"{protocol}: direct {direct:.3f} ms; TTFT added p50 (two daemons each): {row}",
                  flush=True)
    finally:
        stop(*(proc for _, _, proc in daemons), fake)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
