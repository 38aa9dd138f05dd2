#!/usr/bin/env python3
"""Instructions per facade call of each protocol, streamed and not, under callgrind, and
of a chat and a Messages call with a coding agent's ~50 KB body, and of a durable session
input streamed over SSE (`session-stream`, a new session each).

Like `callgrind_paths.py` (which measures the facade's non-streaming chat call and the
durable session input): one release `ferry serve` under valgrind's callgrind in front of
the release fake OpenRouter; 100 warm-up calls of each kind, then for each kind
callgrind's counters are zeroed, N calls are sent one after another on one keep-alive
connection, and the counters are dumped after a second (for the queued ledger writes).
Every thread counts. The dumps are copied to OUT/<kind> for `callgrind_annotate`. See
docs/benchmarks.md.

Usage: python3 crates/bench/callgrind_streams.py [--requests N] [--out DIR]
       [--target-dir target/release] [--ferry PATH] [--only KIND ...]
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


def agent_body(dialect):
    """A coding agent's request (~50 KB), the shape of the bench's `agent_body`: a long
    system prompt, 15 tool definitions, 20 rounds of text, a tool call and its result."""
    words = ("the file contains a function that reads configuration and returns an error "
             "when path is missing so we should check it first before running tests again").split()
    seed = [7]

    def text(n):
        out = []
        for _ in range(n):
            seed[0] = (seed[0] * 6364136223846793005 + 1442695040888963407) % 2**64
            out.append(words[(seed[0] >> 33) % len(words)])
        return " ".join(out)

    def schema():
        props = {f"arg{j}": {"type": "string", "description": text(12)} for j in range(5)}
        return {"type": "object", "properties": props, "required": ["arg0"]}

    system = text(400)
    tools = [(f"Tool{i}", text(60), schema()) for i in range(15)]
    messages = []
    if dialect == "messages":
        for i in range(20):
            messages.append({"role": "user", "content": [{"type": "text", "text": text(80)}]})
            messages.append({"role": "assistant", "content": [
                {"type": "text", "text": text(60)},
                {"type": "tool_use", "id": f"toolu_{i}", "name": "Tool1", "input": {"arg0": text(5)}}]})
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": text(120)}]})
        messages.append({"role": "user", "content": [{"type": "text", "text": TEXT,
                                                      "cache_control": {"type": "ephemeral"}}]})
        return {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 64,
                "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                "tools": [{"name": n, "description": d, "input_schema": s} for n, d, s in tools],
                "messages": messages}
    messages.append({"role": "system", "content": system})
    for i in range(20):
        messages.append({"role": "user", "content": text(80)})
        arguments = json.dumps({"arg0": text(5)})
        messages.append({"role": "assistant", "content": text(60), "tool_calls": [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": "Tool1", "arguments": arguments}}]})
        messages.append({"role": "tool", "tool_call_id": f"call_{i}", "content": text(120)})
    messages.append({"role": "user", "content": TEXT})
    return {"model": "openai/gpt-5.4-mini",
            "tools": [{"type": "function", "function": {"name": n, "description": d, "parameters": s}}
                      for n, d, s in tools],
            "messages": messages}


KINDS["chat-agent"] = ("/openai/v1/chat/completions", agent_body("chat"))
KINDS["messages-agent"] = ("/anthropic/v1/messages", agent_body("messages"))
# A durable session input streamed over SSE, to a new session each time (what the bench's
# session-stream TTFT row sends), against `chat-stream` for spec §12's session-stream gap.
KINDS["session-stream"] = ("/v1/sessions/cg-{i}/input", {"content": TEXT})
SENT = {}


def send(conn, kind, n):
    path, body = KINDS[kind]
    payload = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    if kind == "session-stream":
        headers["Accept"] = "text/event-stream"
    for _ in range(n):
        i = SENT[kind] = SENT.get(kind, 0) + 1
        conn.request("POST", path.format(i=i), payload, headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"{kind}: ferry answered {r.status}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", default=None, help="where the dumps are copied")
    ap.add_argument("--target-dir", default="target/release")
    ap.add_argument("--ferry", help="the ferry binary (default: TARGET_DIR/ferry)")
    ap.add_argument("--only", nargs="+", choices=sorted(KINDS), help="measure these kinds only")
    args = ap.parse_args()
    kinds = args.only or list(KINDS)
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
        for kind in kinds:
            send(conn, kind, 100)
        print(f"instructions per call (callgrind, {args.requests} calls each); dumps in {out_dir}")
        for kind in kinds:
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
