#!/usr/bin/env bash
# A self-contained demo: the bundled fake OpenRouter on loopback, a fresh state root, and the
# seed flow from the README. Nothing leaves this machine and no real key is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p ferry -p ferry-fake-openrouter
bin=target/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

fake_port=18089
ferry_port=14000
"$bin/fake-openrouter" --port "$fake_port" > "$work/fake.log" 2>&1 &
cat > "$work/routes.toml" <<TOML
version = 1
default_route = "openrouter"

[routes.openrouter]
driver = "openrouter"
default_model = "openai/gpt-5.4-mini"
auth_ref = "openrouter.primary"
base_url = "http://127.0.0.1:$fake_port/api/v1"
TOML
mkdir -p "$work/ws"
export FERRY_MASTER_KEY="$("$bin/ferry" secrets generate)"
export OPENROUTER_API_KEY="sk-or-v1-demo-key-not-real"
export FERRY_URL="http://127.0.0.1:$ferry_port"
"$bin/ferry" secrets set openrouter.primary --offline --state-root "$work/state" \
  --provider openrouter --from-env OPENROUTER_API_KEY
"$bin/ferry" serve --bind "127.0.0.1:$ferry_port" --state-root "$work/state" \
  --workspace-root "$work/ws" --routes-file "$work/routes.toml" > "$work/ferry.log" 2>&1 &
for _ in $(seq 1 100); do "$bin/ferry" status >/dev/null 2>&1 && break; sleep 0.1; done
set -x
"$bin/ferry" runtime get
"$bin/ferry" runtime set-model openrouter/openai/gpt-5.4-mini
"$bin/ferry" sessions input demo "Summarize the attached files and be concise."
"$bin/ferry" sessions input demo "And once more."
"$bin/ferry" sessions show demo
"$bin/ferry" status
