"""Batching, prefix cache, n choices and logprobs on the real model, through the SDK."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI, OpenAI

from tests.e2e.conftest import DEFAULT_MODEL, RunningServer

pytestmark = pytest.mark.e2e

SYSTEM = (
    "You are the support assistant of a bicycle shop. Answer in one short sentence. "
    "The shop opens at nine, closes at six, repairs brakes, gears and wheels, and sells "
    "helmets, lights and locks. Never promise a repair date. "
) * 3


@pytest.fixture
def client(server: RunningServer) -> OpenAI:
    return OpenAI(base_url=f"{server.base_url}/v1", api_key=server.api_key, max_retries=0)


def test_n_greedy_choices_are_identical(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Name a colour."}],
        n=3,
        temperature=0,
        max_tokens=12,
    )
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    texts = {choice.message.content for choice in completion.choices}
    assert len(texts) == 1 and texts.pop()
    usage = completion.usage
    assert usage is not None
    per_choice = usage.completion_tokens / 3
    assert per_choice == int(per_choice) and 0 < per_choice <= 12


def test_chat_logprobs(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        temperature=0,
        max_tokens=8,
        logprobs=True,
        top_logprobs=3,
    )
    choice = completion.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    entries = choice.logprobs.content
    assert "".join(entry.token for entry in entries) == choice.message.content
    for entry in entries:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        # Greedy decoding picks the most likely token.
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-4)


def test_legacy_logprobs(client: OpenAI) -> None:
    completion = client.completions.create(
        model=DEFAULT_MODEL, prompt="The sky is", max_tokens=5, temperature=0, logprobs=2
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens and logprobs.top_logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs or []) == len(logprobs.top_logprobs)
    assert all(len(top) == 2 for top in logprobs.top_logprobs)


def test_repeated_system_prompt_is_served_from_the_prefix_cache(client: OpenAI) -> None:
    def ask(question: str) -> tuple[int, int]:
        completion = client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
            max_tokens=4,
            temperature=0,
        )
        usage = completion.usage
        assert usage is not None and usage.prompt_tokens_details is not None
        return usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens or 0

    ask("When do you open?")
    prompt_tokens, cached = ask("Do you sell locks?")
    assert prompt_tokens > 100
    assert cached >= 100  # the shared system prompt


async def test_concurrent_streams_all_complete(server: RunningServer) -> None:
    client = AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key=server.api_key, max_retries=0)

    async def stream(question: str) -> tuple[str, str | None]:
        response = await client.chat.completions.create(
            model=DEFAULT_MODEL,
            messages=[{"role": "user", "content": question}],
            max_tokens=24,
            temperature=0,
            stream=True,
        )
        text, finish = "", None
        async for chunk in response:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
        return text, finish

    questions = [f"Give me a fact about the number {n}." for n in range(6)]
    results = await asyncio.gather(*(stream(q) for q in questions))
    alone = [await stream(q) for q in questions[:2]]
    await client.close()
    assert all(text and finish in ("stop", "length") for text, finish in results)
    # Greedy output batched vs alone: with the unified KV cache, attention sums run over
    # cells in different places, so long answers may drift apart; their starts must agree.
    for (batched, _), (solo, _) in zip(results[:2], alone, strict=True):
        assert batched[:12] == solo[:12]
