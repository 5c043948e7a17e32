"""``n`` choices, logprobs, cached prompt tokens and backpressure, through the whole app."""

from __future__ import annotations

import httpx
import pytest

from atrium.config import Settings
from atrium.engines.fake import FakeBehaviour, FakeEngine, fake_tokenize
from tests.api.conftest import FAKE_MODEL
from tests.api.sse import parse_sse
from tests.api.test_errors import assert_openai_error


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Generation mechanics, token by token: the quick-start deployment is not filtered here
    (content filtering is tested in test_content_filter.py)."""
    return settings.model_copy(update={"default_content_policy": None})


HELLO = [{"role": "user", "content": "Hello there"}]


async def test_n_choices(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO, "n": 3}
    )
    body = response.json()
    contents = [choice["message"]["content"] for choice in body["choices"]]
    assert [choice["index"] for choice in body["choices"]] == [0, 1, 2]
    assert contents == [
        "You said: Hello there",
        "You said: Hello there [1]",
        "You said: Hello there [2]",
    ]
    assert all(choice["finish_reason"] == "stop" for choice in body["choices"])
    assert body["usage"]["completion_tokens"] == sum(len(fake_tokenize(c)) for c in contents)
    assert fake_engine.requests[0].sampling.n == 3


async def test_n_choices_streamed_with_a_stop_per_choice(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO, "n": 2, "stream": True, "stop": " there"},
    )
    events, done = parse_sse(response.text)
    assert done
    texts: dict[int, str] = {0: "", 1: ""}
    finishes: dict[int, list[str]] = {0: [], 1: []}
    openings = 0
    for event in events:
        [choice] = event["choices"]
        delta = choice["delta"]
        openings += delta.get("role") == "assistant"
        texts[choice["index"]] += delta.get("content", "")
        if choice["finish_reason"]:
            finishes[choice["index"]].append(choice["finish_reason"])
    assert openings == 2
    assert texts == {0: "You said: Hello", 1: "You said: Hello"}
    assert finishes == {0: ["stop"], 1: ["stop"]}


async def test_chat_logprobs_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO, "logprobs": True, "top_logprobs": 2},
    )
    choice = response.json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert choice["logprobs"]["refusal"] is None
    assert "".join(entry["token"] for entry in content) == choice["message"]["content"]
    for entry in content:
        assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"}
        assert entry["logprob"] <= 0
        assert bytes(entry["bytes"]).decode() == entry["token"]
        assert len(entry["top_logprobs"]) == 2
        assert set(entry["top_logprobs"][0]) == {"token", "logprob", "bytes"}
        assert entry["top_logprobs"][0]["logprob"] >= entry["top_logprobs"][1]["logprob"]


async def test_chat_logprobs_streamed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO, "logprobs": True, "stream": True},
    )
    events, _ = parse_sse(response.text)
    content_events = [e for e in events if e["choices"][0]["delta"].get("content")]
    assert content_events
    for event in content_events:
        [entry] = event["choices"][0]["logprobs"]["content"]
        assert entry["token"] == event["choices"][0]["delta"]["content"]
        assert entry["top_logprobs"] == []


async def test_no_logprobs_unless_asked(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO}
    )
    assert response.json()["choices"][0]["logprobs"] is None


async def test_legacy_logprobs_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/completions",
        json={"model": FAKE_MODEL, "prompt": "one two", "logprobs": 3, "max_tokens": 4},
    )
    choice = response.json()["choices"][0]
    logprobs = choice["logprobs"]
    assert set(logprobs) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}
    assert "".join(logprobs["tokens"]) == choice["text"]
    assert len(logprobs["token_logprobs"]) == len(logprobs["tokens"]) == 4
    assert all(len(top) == 3 for top in logprobs["top_logprobs"])
    offsets = logprobs["text_offset"]
    assert offsets[0] == 0
    assert offsets == [sum(len(t) for t in logprobs["tokens"][:i]) for i in range(4)]


async def test_cached_prompt_tokens_are_reported(client: httpx.AsyncClient) -> None:
    system = {"role": "system", "content": "You are a careful assistant. " * 5}
    first = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": [system, {"role": "user", "content": "a"}]},
    )
    second = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": [system, {"role": "user", "content": "b"}]},
    )
    assert first.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    cached = second.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert 25 < cached < second.json()["usage"]["prompt_tokens"]


async def test_full_engine_answers_429_with_retry_after(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.max_active = 0
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO, "stream": True}
    )
    error = assert_openai_error(response, 429, "engine_overloaded", None)
    assert error["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == "2"


async def test_engine_down_answers_503_with_retry_after(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.ready = False
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO}
    )
    assert_openai_error(response, 503, "engine_unavailable", None)
    assert int(response.headers["retry-after"]) > 0


async def test_sampling_extensions_reach_the_engine(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.behaviour = FakeBehaviour()
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL,
            "messages": HELLO,
            "top_k": 40,
            "min_p": 0.05,
            "repetition_penalty": 1.1,
            "logit_bias": {"42": -100, "7": 5.5},
        },
    )
    assert response.status_code == 200, response.text
    sampling = fake_engine.requests[0].sampling
    assert (sampling.top_k, sampling.min_p, sampling.repetition_penalty) == (40, 0.05, 1.1)
    assert sampling.logit_bias == ((42, -100.0), (7, 5.5))
