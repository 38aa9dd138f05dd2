"""Real-client proof of ferry's client protocols (spec §13): the official `openai` and
`anthropic` packages against a running ferry in front of the fake OpenRouter — Responses
(stream and not, tool calls), embeddings, images, speech, transcriptions, models.retrieve,
Anthropic Messages (create, stream, a tool-use round trip, count_tokens) and the retry
contract on an upstream 429 for each protocol.

Run by tests/e2e/protocols.rs, which starts the fake and the daemon, scripts the fake's
replies per model, and afterwards checks what reached the fake. Environment:

  FERRY_URL            the daemon, e.g. http://127.0.0.1:4000
  FERRY_TEST_API_KEY   what the SDKs send as their key

Prints one line per check and a closing "N passed, N failed" line.
"""

import base64
import io
import os
import struct
import sys
import traceback
import urllib.request

try:
    import anthropic
    import openai
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(
        f"missing Python package ({e}); run: python3 -m pip install -r tests/python/requirements.txt",
        file=sys.stderr,
    )
    sys.exit(3)

FERRY_URL = os.environ["FERRY_URL"].rstrip("/")
KEY = os.environ.get("FERRY_TEST_API_KEY", "not-needed-on-loopback")
oai = openai.OpenAI(base_url=f"{FERRY_URL}/openai/v1", api_key=KEY, max_retries=0, timeout=30)
# Default retries: the retry contract must keep them from multiplying ferry's own.
oai_retrying = openai.OpenAI(base_url=f"{FERRY_URL}/openai/v1", api_key=KEY, timeout=30)
claude = anthropic.Anthropic(base_url=f"{FERRY_URL}/anthropic", api_key=KEY, max_retries=0, timeout=30)
claude_retrying = anthropic.Anthropic(base_url=f"{FERRY_URL}/anthropic", api_key=KEY, timeout=30)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLAUDE_WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_responses_create():
    r = oai.responses.create(
        model="openrouter/openai/gpt-5.4-mini",
        input="hello responses",
        store=False,
        prompt_cache_key="cache-key-1",
        include=["reasoning.encrypted_content"],
    )
    assert r.status == "completed", r
    assert r.output_text == "echo: hello responses", r.output_text
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage


def test_responses_stream():
    kinds, text, final = [], "", None
    stream = oai.responses.create(model="openrouter/openai/gpt-5.4-mini", input="stream me", stream=True)
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    assert kinds[0] == "response.created", kinds
    assert kinds[-1] == "response.completed", kinds
    assert kinds.count("response.output_text.delta") >= 2, kinds
    assert text == "echo: stream me", text
    assert final.output_text == text


def test_responses_tool_call():
    r = oai.responses.create(model="test/resp-tools", input="weather in Paris?", tools=[WEATHER])
    calls = [o for o in r.output if o.type == "function_call"]
    assert calls and calls[0].name == "get_weather", r.output
    assert calls[0].arguments == '{"city":"Paris"}', calls[0].arguments
    args = ""
    with oai.responses.stream(model="test/resp-tools-stream", input="and Oslo?", tools=[WEATHER]) as s:
        for event in s:
            if event.type == "response.function_call_arguments.delta":
                args += event.delta
        final = s.get_final_response()
    assert args == '{"city":"Oslo"}', args
    assert final.output[0].type == "function_call", final.output


def test_embeddings():
    r = oai.embeddings.create(model="openrouter/openai/text-embedding-3-small", input=["alpha", "beta"])
    assert len(r.data) == 2 and r.data[1].index == 1, r
    assert len(r.data[0].embedding) == 8, len(r.data[0].embedding)
    assert r.usage.prompt_tokens > 0


def test_images_generate_b64_and_url():
    r = oai.images.generate(model="openrouter/google/gemini-3.1-flash-image-preview", prompt="a fox", response_format="b64_json")
    png = base64.b64decode(r.data[0].b64_json)
    assert png.startswith(b"\x89PNG"), png[:8]
    r = oai.images.generate(prompt="a fox at dusk", size="1536x1024", response_format="url")
    url = r.data[0].url
    assert url.startswith(FERRY_URL + "/v1/assets/") and url.endswith("/raw"), url
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read().startswith(b"\x89PNG")


def test_audio_speech():
    mp3 = oai.audio.speech.create(model="openrouter/hexgrad/kokoro-82m", voice="af_alloy", input="A fox at dusk.", response_format="mp3")
    data = mp3.read()
    assert data[:3] == b"ID3" or data[:1] == b"\xff", data[:8]
    wav = oai.audio.speech.create(model="openrouter/hexgrad/kokoro-82m", voice="af_alloy", input="A fox.", response_format="wav").read()
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE", wav[:12]
    try:
        oai.audio.speech.create(model="openrouter/hexgrad/kokoro-82m", voice="af_alloy", input="x", response_format="opus")
        raise AssertionError("opus was accepted")
    except openai.BadRequestError as e:
        assert "mp3" in str(e), e


def wav_bytes():
    samples = b"\x00\x00" * 1600
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    return header + b"data" + struct.pack("<I", len(samples)) + samples


def test_audio_transcriptions():
    r = oai.audio.transcriptions.create(model="openrouter/openai/gpt-4o-mini-transcribe", file=("memo.wav", io.BytesIO(wav_bytes()), "audio/wav"))
    assert "transcript" in r.text, r.text
    text = oai.audio.transcriptions.create(model="openrouter/openai/gpt-4o-mini-transcribe", file=("memo.wav", io.BytesIO(wav_bytes()), "audio/wav"), response_format="text")
    assert text.strip() == r.text, (text, r.text)


def test_models_retrieve_with_slashes():
    m = oai.models.retrieve("openrouter/openai/gpt-5.4-mini")
    assert m.id == "openrouter/openai/gpt-5.4-mini", m
    assert m.owned_by == "openrouter"
    try:
        oai.models.retrieve("nosuchroute-and-model/that/does-not-exist")
        raise AssertionError("an unknown model was found")
    except openai.NotFoundError:
        pass


def test_openai_429_is_not_retried_by_the_sdk():
    for call in (
        lambda: oai_retrying.responses.create(model="test/limited-responses", input="x"),
        lambda: oai_retrying.embeddings.create(model="test/limited-embeddings", input="x"),
        lambda: oai_retrying.chat.completions.create(model="test/limited-chat", messages=[{"role": "user", "content": "x"}]),
    ):
        try:
            call()
            raise AssertionError("no rate limit")
        except openai.RateLimitError as e:
            assert e.response.headers.get("x-should-retry") == "false", dict(e.response.headers)
            assert int(e.response.headers.get("retry-after")) >= 1, dict(e.response.headers)


def test_anthropic_create():
    m = claude.messages.create(
        model="openrouter/anthropic/claude-sonnet-4-5",
        max_tokens=200,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello claude", "cache_control": {"type": "ephemeral"}}]}],
        extra_headers={"anthropic-beta": "extended-cache-ttl-2025-04-11"},
    )
    assert m.type == "message" and m.role == "assistant", m
    assert m.content[0].text == "echo: hello claude", m.content
    assert m.stop_reason == "end_turn"
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


def test_anthropic_stream_text():
    with claude.messages.stream(model="openrouter/anthropic/claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "stream claude"}]) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    assert len(pieces) >= 2, pieces
    assert "".join(pieces) == "echo: stream claude", pieces
    assert final.stop_reason == "end_turn"


def test_anthropic_tool_use_round_trip():
    messages = [{"role": "user", "content": "weather in Paris?"}]
    with claude.messages.stream(model="test/claude-tools", max_tokens=100, tools=[CLAUDE_WEATHER], messages=messages) as s:
        final = s.get_final_message()
    assert final.stop_reason == "tool_use", final
    use = [b for b in final.content if b.type == "tool_use"][0]
    assert use.name == "get_weather" and use.input == {"city": "Paris"}, use
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"}]},
    ]
    m = claude.messages.create(model="test/claude-tools", max_tokens=100, tools=[CLAUDE_WEATHER], messages=messages)
    assert m.content[0].type == "text", m.content


def test_anthropic_count_tokens():
    r = claude.messages.count_tokens(model="openrouter/anthropic/claude-sonnet-4-5", messages=[{"role": "user", "content": "How many tokens is this?"}], tools=[CLAUDE_WEATHER])
    assert r.input_tokens > 10, r


def test_anthropic_429_is_rate_limit_error_and_not_retried():
    try:
        claude_retrying.messages.create(model="test/limited-messages", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        raise AssertionError("no rate limit")
    except anthropic.RateLimitError as e:
        assert e.response.headers.get("x-should-retry") == "false", dict(e.response.headers)
        assert e.body["error"]["type"] == "rate_limit_error", e.body


def main():
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok {name}")
            passed += 1
        except Exception:  # noqa: BLE001 - every failure is reported
            print(f"FAIL {name}")
            traceback.print_exc()
            failed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
