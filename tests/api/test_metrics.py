"""GET /metrics: Prometheus text with request, latency, token, engine and usage metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from atrium.engines.fake import FakeEngine
from tests.api.conftest import FAKE_CONTEXT, FAKE_MODEL, client_for
from tests.api.helpers import CHAT, eventually, metric_value
from tests.api.sse import parse_sse

CHAT_ROUTE = "/v1/chat/completions"


@dataclass
class MeteredFakeEngine(FakeEngine):
    """The fake engine, reporting gauges the way a real engine does."""

    def metrics(self) -> Mapping[str, float]:
        return {"kv_cache.usage_ratio": 0.25, "requests_running": float(len(self.active))}


@pytest.fixture
def fake_engine() -> FakeEngine:
    return MeteredFakeEngine(model_ids=(FAKE_MODEL,), context_size=FAKE_CONTEXT)


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_deployment_and_status(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert metric_value(await scrape(client), "atrium_requests_total", route=CHAT_ROUTE) is None
    for _ in range(2):
        assert (await client.post(CHAT_ROUTE, json=CHAT)).status_code == 200
    missing = await client.post(CHAT_ROUTE, json={**CHAT, "model": "nowhere"})
    assert missing.status_code == 404
    async with client_for(running_app) as anonymous:
        assert (await anonymous.get("/v1/models")).status_code == 401
    assert (await client.get("/no/such/path")).status_code == 404
    text = await scrape(client)
    ok = {"route": CHAT_ROUTE, "deployment": FAKE_MODEL, "status": "200"}
    assert metric_value(text, "atrium_requests_total", **ok) == 2
    assert metric_value(text, "atrium_requests_total", route=CHAT_ROUTE, status="404") == 1
    assert metric_value(text, "atrium_requests_total", route="/v1/models", status="401") == 1
    # Unknown paths share one label value: a scanner cannot blow up the series count.
    assert metric_value(text, "atrium_requests_total", route="unmatched", status="404") == 1
    assert "/no/such/path" not in text
    count = metric_value(text, "atrium_request_duration_seconds_count", route=CHAT_ROUTE)
    assert count == 3


async def test_tokens_are_counted_per_deployment(client: httpx.AsyncClient) -> None:
    usages = [(await client.post(CHAT_ROUTE, json=CHAT)).json()["usage"] for _ in range(2)]
    text = await scrape(client)
    for kind, field in (("prompt", "prompt_tokens"), ("completion", "completion_tokens")):
        counted = metric_value(text, "atrium_tokens_total", deployment=FAKE_MODEL, kind=kind)
        assert counted == sum(usage[field] for usage in usages) > 0
    cached = sum(usage["prompt_tokens_details"]["cached_tokens"] for usage in usages)
    assert cached > 0  # the fake engine's prefix cache matched the repeated prompt
    assert metric_value(text, "atrium_tokens_total", kind="cached") == cached


async def test_time_to_first_token_is_observed_for_streams_only(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post(CHAT_ROUTE, json=CHAT)).status_code == 200
    text = await scrape(client)
    ttft = "atrium_time_to_first_token_seconds_count"
    assert metric_value(text, ttft, deployment=FAKE_MODEL) is None
    streamed = await client.post(CHAT_ROUTE, json={**CHAT, "stream": True})
    events, done = parse_sse(streamed.text)
    assert done and events
    text = await scrape(client)
    assert metric_value(text, ttft, deployment=FAKE_MODEL) == 1
    assert metric_value(text, "atrium_time_to_first_token_seconds_sum", deployment=FAKE_MODEL)
    assert metric_value(text, "atrium_time_to_first_token_seconds_bucket", le="+Inf") == 1


async def test_engine_gauges_and_usage_queue(client: httpx.AsyncClient) -> None:
    text = await scrape(client)
    gauge = "atrium_engine_kv_cache_usage_ratio"
    assert metric_value(text, gauge, engine="default") == 0.25
    assert metric_value(text, "atrium_engine_requests_running", engine="default") == 0
    assert f"# TYPE {gauge} gauge" in text
    assert metric_value(text, "atrium_usage_queue_depth") == 0
    assert metric_value(text, "atrium_usage_records_dropped_total") == 0
    assert (await client.post(CHAT_ROUTE, json=CHAT)).status_code == 200

    async def written() -> str | None:
        text = await scrape(client)
        done = metric_value(text, "atrium_usage_records_written_total") == 1
        return text if done else None

    text = await eventually(written)
    assert metric_value(text, "atrium_usage_queue_depth") == 0
    assert metric_value(text, "atrium_usage_records_write_failures_total") == 0
