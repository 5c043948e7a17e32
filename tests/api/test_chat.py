"""Chat completions through the whole app, in-process, with the fake engine."""

from __future__ import annotations

import httpx
import pytest

from atrium.config import Settings
from atrium.engines.fake import FakeBehaviour, FakeEngine, fake_tokenize, render_fake_prompt
from tests.api.conftest import FAKE_MODEL
from tests.api.sse import parse_sse


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Generation mechanics, token by token: the quick-start deployment is not filtered here
    (content filtering is tested in test_content_filter.py)."""
    return settings.model_copy(update={"default_content_policy": None})


HELLO = [{"role": "user", "content": "Say hello to the whole wide world"}]


async def test_chat_completion_shape_and_usage(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == FAKE_MODEL
    assert isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["message"] == {
        "role": "assistant",
        "content": "You said: Say hello to the whole wide world",
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    prompt_tokens = len(fake_tokenize(render_fake_prompt(fake_engine.requests[0])))
    completion_tokens = len(fake_tokenize(choice["message"]["content"]))
    assert body["usage"] == {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert response.headers["x-request-id"]


async def test_client_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO},
        headers={"x-request-id": "my-trace-42"},
    )
    assert response.headers["x-request-id"] == "my-trace-42"


async def test_sampling_parameters_reach_the_engine(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL,
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
                },
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Again", "name": "bob"},
            ],
            "temperature": 0.5,
            "top_p": 0.9,
            "seed": 7,
            "presence_penalty": 0.25,
            "frequency_penalty": -0.5,
            "max_completion_tokens": 3,
            "max_tokens": 99,
            "stop": "zzz",
            "user": "user-1234",
            "n": 1,
            "logprobs": False,
        },
    )
    assert response.status_code == 200, response.text
    [request] = fake_engine.requests
    assert [(m.role, m.content) for m in request.messages or ()] == [
        ("system", "Be brief."),
        ("user", "Hi there"),
        ("assistant", "Hello."),
        ("user", "Again"),
    ]
    assert request.messages is not None and request.messages[3].name == "bob"
    sampling = request.sampling
    assert (sampling.temperature, sampling.top_p, sampling.seed) == (0.5, 0.9, 7)
    assert (sampling.presence_penalty, sampling.frequency_penalty) == (0.25, -0.5)
    assert sampling.max_tokens == 3  # max_completion_tokens wins over max_tokens
    assert sampling.stop == ("zzz",)


async def test_max_tokens_truncates_with_length(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO, "max_tokens": 3}
    )
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == "You said: Say"
    assert body["usage"]["completion_tokens"] == 3


async def test_stop_sequence_split_across_tokens_is_never_emitted(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    # Tokens are " hello", " to", " the"...: the stop "o t" spans " hello"/" to".
    fake_engine.behaviour = FakeBehaviour(token_delay_s=0.01)
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO, "stop": ["nope", "lo t"]},
    )
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "You said: Say hel"
    assert body["choices"][0]["finish_reason"] == "stop"
    # 'You', ' said:', ' Say', ' hello', ' to' were generated before the stop matched.
    assert body["usage"]["completion_tokens"] == 5
    assert fake_engine.aborted == [fake_engine.requests[0].request_id]


async def test_stream_framing_matches_openai(client: httpx.AsyncClient) -> None:
    full = await client.post("/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO})
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO, "stream": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events, done = parse_sse(response.text)
    assert done
    assert {event["object"] for event in events} == {"chat.completion.chunk"}
    assert len({event["id"] for event in events}) == 1
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1]["choices"][0]["delta"] == {}
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(event["choices"][0]["finish_reason"] is None for event in events[:-1])
    assert all("usage" not in event for event in events)
    text = "".join(event["choices"][0]["delta"].get("content", "") for event in events)
    assert text == full.json()["choices"][0]["message"]["content"]


async def test_stream_include_usage_adds_a_final_usage_chunk(client: httpx.AsyncClient) -> None:
    full = await client.post("/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO})
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL,
            "messages": HELLO,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    events, done = parse_sse(response.text)
    assert done
    assert events[-1]["choices"] == []
    usage = events[-1]["usage"]
    expected = full.json()["usage"]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert usage[key] == expected[key]
    assert all(event["usage"] is None for event in events[:-1])


async def test_streamed_stop_sequence_is_never_emitted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO, "stream": True, "stop": "whole"},
    )
    events, done = parse_sse(response.text)
    assert done
    text = "".join(event["choices"][0]["delta"].get("content", "") for event in events)
    assert text == "You said: Say hello to the "
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


async def test_engine_failure_mid_stream_sends_an_error_event(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.behaviour = FakeBehaviour(fail_after_tokens=2)
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO, "stream": True}
    )
    events, done = parse_sse(response.text)
    assert not done
    assert events[-1]["error"]["type"] == "server_error"
    assert events[-1]["error"]["code"] == "engine_error"
    text = "".join(event["choices"][0]["delta"].get("content", "") for event in events[:-1])
    assert text == "You said:"


async def test_engine_failure_without_stream_is_a_500(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.behaviour = FakeBehaviour(fail_after_tokens=2)
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO}
    )
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
