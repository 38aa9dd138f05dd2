"""Real-client proof of ferry's OpenAI-compatible facade: the official `openai` package
against a running ferry in front of the fake OpenRouter.

Run by the Rust e2e suite (tests/e2e/openai.rs), which starts the fake upstream and the
daemon, scripts the fake's replies per model, and passes:

  FERRY_URL            the daemon, e.g. http://127.0.0.1:4000
  FERRY_TEST_API_KEY   what the SDK sends as its api_key (ferry's token, or any text on
                       an open loopback daemon)

Needs `python3 -m pip install -r tests/python/requirements.txt` (done by .ci/run).
Prints one line per check and a closing "N passed, N failed" line.
"""

import json
import os
import sys
import traceback
import urllib.request

try:
    import openai
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(
        f"missing Python package ({e}); run: python3 -m pip install -r tests/python/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)

FERRY_URL = os.environ["FERRY_URL"].rstrip("/")
client = openai.OpenAI(
    base_url=f"{FERRY_URL}/openai/v1",
    api_key=os.environ.get("FERRY_TEST_API_KEY", "not-needed-on-loopback"),
    max_retries=0,
    timeout=30,
)
USER = [{"role": "user", "content": "hello from python"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_plain_completion():
    r = client.chat.completions.create(model="openrouter/openai/gpt-5.4-mini", messages=USER)
    assert r.object == "chat.completion", r
    assert r.model == "openai/gpt-5.4-mini", r.model
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == "echo: hello from python", r.choices[0].message
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0, r.usage


def test_streaming():
    stream = client.chat.completions.create(
        model="openai/gpt-5.4-mini", messages=USER, stream=True
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk", chunk
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    assert "".join(pieces) == "echo: hello from python", pieces
    assert len(pieces) > 1, f"expected several content chunks, got {pieces}"
    assert finish == "stop"
    assert usage is not None and usage.total_tokens > 0


def test_tool_calls():
    r = client.chat.completions.create(
        model="test/tools", messages=USER, tools=[WEATHER_TOOL], tool_choice="auto"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.id == "call_1" and call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_streamed_tool_calls():
    stream = client.chat.completions.create(
        model="test/tools-stream", messages=USER, tools=[WEATHER_TOOL], stream=True
    )
    calls = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for d in choice.delta.tool_calls or []:
                c = calls.setdefault(d.index, {"id": None, "name": None, "arguments": ""})
                if d.id:
                    c["id"] = d.id
                if d.function and d.function.name:
                    c["name"] = d.function.name
                if d.function and d.function.arguments:
                    c["arguments"] += d.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather" and calls[0]["id"] == "call_2", calls
    assert json.loads(calls[0]["arguments"]) == {"city": "Oslo"}, calls


def test_models_list():
    ids = [m.id for m in client.models.list()]
    assert "openrouter/openai/gpt-5.4-mini" in ids, ids
    assert all(i.startswith("openrouter/") for i in ids), ids


def test_errors():
    try:
        client.chat.completions.create(model="test/missing", messages=USER)
        raise AssertionError("expected NotFoundError")
    except openai.NotFoundError as e:
        assert e.status_code == 404
        assert e.code == "model_not_found", e.body
        assert "test/missing" in e.message, e.message
    try:
        client.chat.completions.create(model="test/unauthorized", messages=USER)
        raise AssertionError("expected InternalServerError")
    except openai.InternalServerError as e:
        assert e.status_code == 502
        assert e.code == "upstream_unauthorized", e.body
        assert "ferry secrets set" in e.message, e.message
    try:
        client.chat.completions.create(
            model="openai/gpt-5.4-mini", messages=USER, extra_body={"temprature": 1}
        )
        raise AssertionError("expected BadRequestError")
    except openai.BadRequestError as e:
        assert e.code == "unknown_parameter", e.body
        assert "temprature" in e.message
    try:
        client.chat.completions.create(model="nowhere/vendor/model", messages=USER)
        raise AssertionError("expected BadRequestError")
    except openai.BadRequestError as e:
        assert e.code == "invalid_selector", e.body


def test_metrics_parse_and_count():
    req = urllib.request.Request(f"{FERRY_URL}/metrics")
    token = os.environ.get("FERRY_TEST_API_KEY")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["ferry_requests"]
    assert requests.type == "counter"
    ok = sum(
        s.value
        for s in requests.samples
        if s.name == "ferry_requests_total"
        and s.labels.get("api") == "openai"
        and s.labels.get("status") == "200"
    )
    assert ok >= 4, f"expected the four successful calls above to be counted, got {ok}"
    assert families["ferry_added_latency_seconds"].type == "histogram"
    assert "ferry_tokens" in families and "ferry_active_runs" in families


def main():
    tests = [
        test_plain_completion,
        test_streaming,
        test_tool_calls,
        test_streamed_tool_calls,
        test_models_list,
        test_errors,
        test_metrics_parse_and_count,
    ]
    passed = failed = 0
    for t in tests:
        try:
            t()
            passed += 1
            print(f"ok {t.__name__}")
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAILED {t.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
