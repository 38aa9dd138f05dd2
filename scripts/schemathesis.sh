#!/usr/bin/env bash
# Runs schemathesis (`--checks all`, bounded examples) against the OpenAPI document of a
# real `ferry serve` whose route points at the fake OpenRouter; exits with schemathesis's
# status, so any failure fails CI. Needs the debug binaries (`cargo build` or `cargo test`
# builds them) and `st` on PATH or in $SCHEMATHESIS (tests/schemathesis/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

ST="${SCHEMATHESIS:-st}"
FERRY="${FERRY_BIN:-target/debug/ferry}"
FAKE="${FAKE_BIN:-target/debug/fake-openrouter}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
for bin in "$FERRY" "$FAKE"; do
    [ -x "$bin" ] || { echo "schemathesis.sh: $bin is missing: run cargo build first" >&2; exit 2; }
done
command -v "$ST" >/dev/null || { echo "schemathesis.sh: $ST not found: pip install -r tests/schemathesis/requirements.txt" >&2; exit 2; }

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$FAKE" --port 0 > "$work/fake.out" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/fake.out" && break; sleep 0.1; done
base="$(sed -n 's/^listening on //p' "$work/fake.out")"
[ -n "$base" ] || { echo "schemathesis.sh: the fake OpenRouter did not start" >&2; exit 2; }

cat > "$work/routes.toml" <<TOML
version = 1
default_route = "openrouter"

[routes.openrouter]
driver = "openrouter"
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
base_url = "$base"
timeout_ms = 5000
TOML
mkdir -p "$work/ws"
export FERRY_MASTER_KEY="$("$FERRY" secrets generate)"
OPENROUTER_API_KEY="sk-or-v1-0123456789abcdef0123456789abcdef-test" \
    "$FERRY" secrets set openrouter.primary --offline --state-root "$work/state" \
    --provider openrouter --from-env OPENROUTER_API_KEY > /dev/null
# With a token, so the document's bearer security is what the daemon enforces.
token="$("$FERRY" secrets generate)"
printf '%s\n' "$token" > "$work/token"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$FERRY" serve --bind "127.0.0.1:$port" --state-root "$work/state" --workspace-root "$work/ws" \
    --routes-file "$work/routes.toml" --token-file "$work/token" --log-format json 2> "$work/ferry.log" &
pids+=($!)
healthy() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "http://127.0.0.1:$port/healthz" > /dev/null 2>&1
}
for _ in $(seq 200); do healthy && break; sleep 0.1; done
healthy || { echo "schemathesis.sh: ferry did not start:" >&2; cat "$work/ferry.log" >&2; exit 2; }

status=0
"$ST" --config-file tests/schemathesis/schemathesis.toml run "http://127.0.0.1:$port/v1/openapi.json" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 \
    --request-timeout 30 \
    --header "X-Ferry-Client: schemathesis" \
    --header "Authorization: Bearer $token" \
    --suppress-health-check all \
    --generation-deterministic \
    --no-color \
    "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "== ferry log (last 40 lines)"; tail -n 40 "$work/ferry.log"
fi
exit "$status"
