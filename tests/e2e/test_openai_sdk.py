"""The official ``openai`` SDK against a real ``atrium serve`` with the default model."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.e2e.conftest import DEFAULT_MODEL, RunningServer

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def client(server: RunningServer) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key=server.api_key, max_retries=0)


def test_models(client: OpenAI) -> None:
    assert [model.id for model in client.models.list()] == [DEFAULT_MODEL]
    assert client.models.retrieve(DEFAULT_MODEL).id == DEFAULT_MODEL


def test_chat_completion(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=48, temperature=0
    )
    [choice] = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 5
    assert 0 < usage.completion_tokens <= 48
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    if choice.finish_reason == "length":
        assert usage.completion_tokens == 48


def test_greedy_answers_are_reproducible(client: OpenAI) -> None:
    def ask() -> str | None:
        return (
            client.chat.completions.create(
                model=DEFAULT_MODEL, messages=QUESTION, max_tokens=24, temperature=0
            )
            .choices[0]
            .message.content
        )

    assert ask() == ask()


def test_max_tokens_is_respected(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        max_completion_tokens=5,
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5


def test_stop_is_respected(client: OpenAI) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 20, separated by spaces."}]
    unstopped = (
        client.chat.completions.create(
            model=DEFAULT_MODEL, messages=messages, max_tokens=60, temperature=0
        )
        .choices[0]
        .message.content
    )
    assert unstopped and "5" in unstopped
    stop = unstopped[unstopped.index("5") :][:2]  # "5" and the character after it
    stopped = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=messages, max_tokens=60, temperature=0, stop=[stop]
    )
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == unstopped[: unstopped.index(stop)]


def test_streaming_chat(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=QUESTION,
        max_tokens=32,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert text.strip()
    assert finish in (["stop"], ["length"])
    usage = chunks[-1].usage
    assert usage is not None and 0 < usage.completion_tokens <= 32
    full = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=32, temperature=0
    )
    assert text == full.choices[0].message.content
    assert usage.completion_tokens == full.usage.completion_tokens  # type: ignore[union-attr]


async def test_async_client_streaming_and_not(server: RunningServer) -> None:
    client = AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=server.api_key, max_retries=0)
    completion = await client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=16, temperature=0
    )
    assert completion.choices[0].message.content
    stream = await client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=16, temperature=0, stream=True
    )
    pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    assert "".join(pieces) == completion.choices[0].message.content
    await client.close()


def test_legacy_completion(client: OpenAI) -> None:
    completion = client.completions.create(
        model=DEFAULT_MODEL, prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert completion.choices[0].text
    assert completion.usage is not None and completion.usage.completion_tokens <= 8


def test_seed_makes_sampling_reproducible(client: OpenAI) -> None:
    def sample() -> str | None:
        return (
            client.chat.completions.create(
                model=DEFAULT_MODEL, messages=QUESTION, max_tokens=24, temperature=1.0, seed=1234
            )
            .choices[0]
            .message.content
        )

    assert sample() == sample()


def test_sdk_errors(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-17", messages=QUESTION)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(
            model=DEFAULT_MODEL, messages=[{"role": "user", "content": "hello " * 9000}]
        )
    assert too_long.value.code == "context_length_exceeded"
    unenforceable = {"type": "string", "pattern": "^a+$"}  # no exact grammar: never loosened
    with pytest.raises(openai.BadRequestError) as unsupported:
        client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=QUESTION,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "letters", "schema": unenforceable},
            },
        )
    assert unsupported.value.param == "response_format.json_schema.schema"
    assert "pattern" in unsupported.value.message


def test_disconnect_mid_stream_frees_the_server(server: RunningServer, client: OpenAI) -> None:
    body = {
        "model": DEFAULT_MODEL,
        "messages": [{"role": "user", "content": "Tell me a very long story."}],
        "max_tokens": 1900,
        "stream": True,
    }
    headers = {"authorization": f"Bearer {server.api_key}"}
    url = f"{server.base_url}/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=headers) as response:
        lines = response.iter_lines()
        # the first frame with a choice (before it: the prompt's content-filter results)
        first = next(
            line for line in lines if line.startswith("data: ") and '"choices":[]' not in line
        )
        assert (
            json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["role"] == "assistant"
        )
    # The abandoned 1900-token generation must not hold up the next request (it would take ~20 s).
    quick = client.chat.completions.create(
        model=DEFAULT_MODEL, messages=QUESTION, max_tokens=4, timeout=10
    )
    assert quick.choices[0].finish_reason == "length"
    access = [
        json.loads(line.split(" atrium.access ", 1)[1])
        for line in server.log().splitlines()
        if " atrium.access " in line
    ]
    assert any(
        entry["client_disconnected"] and entry["completion_tokens"] < 1900 for entry in access
    )
