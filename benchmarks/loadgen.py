"""Load generator: concurrent streaming chat requests against an OpenAI-compatible server.

Speaks the wire protocol with httpx directly (no SDK), parses the SSE stream itself and
times every content chunk.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from prompts import Message, chat_messages

REQUEST_TIMEOUT_S = 600.0


@dataclass
class RequestResult:
    """What one streamed request measured."""

    ok: bool
    error: str = ""
    ttft_s: float | None = None
    # Gaps between consecutive content chunks.
    itl_s: list[float] = field(default_factory=list)
    content_chunks: int = 0
    usage_tokens: int | None = None
    prompt_tokens: int | None = None

    @property
    def completion_tokens(self) -> int:
        """Tokens the server says it generated, else the count of content chunks."""
        return self.usage_tokens if self.usage_tokens is not None else self.content_chunks


@dataclass
class LevelResult:
    """Aggregate of one concurrency level."""

    concurrency: int
    requests: int
    ok: int
    errors: int
    wall_s: float
    completion_tokens: int
    tok_s: float
    ttft_p50: float
    ttft_p99: float
    itl_p50: float
    itl_p99: float
    usage_reported: bool
    error_samples: list[str]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def chat_body(
    model: str, messages: list[Message], max_tokens: int, temperature: float
) -> dict[str, Any]:
    return {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "seed": 1234,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def _apply_event(result: RequestResult, data: str, start: float, last: list[float]) -> None:
    """Account for one SSE ``data:`` payload (a chat.completion.chunk)."""
    chunk = json.loads(data)
    if "error" in chunk:
        raise RuntimeError(f"error event: {str(chunk['error'])[:200]}")
    usage = chunk.get("usage")
    if usage:
        result.usage_tokens = usage.get("completion_tokens")
        result.prompt_tokens = usage.get("prompt_tokens")
    for choice in chunk.get("choices") or []:
        content = (choice.get("delta") or {}).get("content")
        if not content:
            continue
        now = time.perf_counter()
        if result.ttft_s is None:
            result.ttft_s = now - start
        else:
            result.itl_s.append(now - last[0])
        last[0] = now
        result.content_chunks += 1


async def stream_chat(client: httpx.AsyncClient, body: dict[str, Any]) -> RequestResult:
    """Send one streaming chat request and time its content chunks."""
    result = RequestResult(ok=False)
    start = time.perf_counter()
    last = [start]
    done = False
    try:
        async with client.stream("POST", "/chat/completions", json=body) as response:
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")
                result.error = f"HTTP {response.status_code}: {text[:200]}"
                return result
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                _apply_event(result, data, start, last)
    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
        result.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return result
    if not done:
        result.error = "stream ended without [DONE]"
    elif result.ttft_s is None:
        result.error = "no content received"
    result.ok = not result.error
    return result


def make_client(base_url: str, concurrency: int, api_key: str | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=10.0)
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"), limits=limits, timeout=timeout, headers=headers
    )


async def served_model(base_url: str, api_key: str | None = None) -> str:
    """The first model id the server lists under /v1/models."""
    async with make_client(base_url, 1, api_key) as client:
        response = await client.get("/models")
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])


def summarize(concurrency: int, results: list[RequestResult], wall_s: float) -> LevelResult:
    good = [r for r in results if r.ok]
    tokens = sum(r.completion_tokens for r in good)
    ttfts = [r.ttft_s for r in good if r.ttft_s is not None]
    itls = [gap for r in good for gap in r.itl_s]
    return LevelResult(
        concurrency=concurrency,
        requests=len(results),
        ok=len(good),
        errors=len(results) - len(good),
        wall_s=wall_s,
        completion_tokens=tokens,
        tok_s=tokens / wall_s if wall_s > 0 else math.nan,
        ttft_p50=percentile(ttfts, 50),
        ttft_p99=percentile(ttfts, 99),
        itl_p50=percentile(itls, 50),
        itl_p99=percentile(itls, 99),
        usage_reported=bool(good) and all(r.usage_tokens is not None for r in good),
        error_samples=sorted({r.error for r in results if not r.ok})[:3],
    )


async def run_level(
    base_url: str,
    model: str,
    *,
    concurrency: int,
    requests: int,
    max_tokens: int,
    temperature: float,
    offset: int = 0,
    api_key: str | None = None,
) -> LevelResult:
    """``requests`` streamed chats, ``concurrency`` in flight at a time."""
    results: list[RequestResult] = []
    next_index = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for index in next_index:
            messages = chat_messages(offset + index)
            body = chat_body(model, messages, max_tokens, temperature)
            results.append(await stream_chat(client, body))

    async with make_client(base_url, concurrency, api_key) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return summarize(concurrency, results, wall)


async def warm_up(
    base_url: str, model: str, max_tokens: int, api_key: str | None = None
) -> RequestResult:
    """One request whose numbers are thrown away (loads weights, fills caches)."""
    async with make_client(base_url, 1, api_key) as client:
        body = chat_body(model, chat_messages(1), max_tokens, 0.0)
        return await stream_chat(client, body)
