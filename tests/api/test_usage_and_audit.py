"""Usage metering (/admin/usage) and the audit log (/admin/audit)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from atrium.app import build_app
from atrium.config import Settings
from atrium.engines.fake import FakeEngine
from atrium.gateway.clock import utc_now
from atrium.store.schema import UsageRow
from tests.api.conftest import FAKE_MODEL, client_for
from tests.api.helpers import (
    CHAT,
    create_deployment,
    create_key,
    eventually,
    metric_value,
    started,
    state_of,
    usage_rows,
    wait_for_usage,
)
from tests.api.sse import parse_sse
from tests.api.test_errors import assert_openai_error

TOTALS = ("requests", "errors", "filtered", "prompt_tokens", "completion_tokens", "cached_tokens")


def said(words: int) -> dict[str, Any]:
    return {"model": FAKE_MODEL, "messages": [{"role": "user", "content": "word " * words}]}


async def rows_for(app: FastAPI, request_ids: set[str]) -> dict[str, UsageRow]:
    """The usage records of these requests, once all of them are written."""

    async def written() -> dict[str, UsageRow] | None:
        rows = await state_of(app).db.run(
            lambda session: session.scalars(
                select(UsageRow).where(UsageRow.request_id.in_(request_ids))
            ).all()
        )
        return {row.request_id: row for row in rows} if len(rows) == len(request_ids) else None

    return await eventually(written)


async def test_concurrent_requests_are_each_metered(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_key(client, "user", name="metered")
    async with client_for(running_app, user["key"]) as caller:
        responses = await asyncio.gather(
            *(caller.post("/v1/chat/completions", json=said(n)) for n in range(1, 13))
        )
    assert [response.status_code for response in responses] == [200] * 12
    usage = {r.headers["x-request-id"]: r.json()["usage"] for r in responses}
    records = await rows_for(running_app, set(usage))
    for request_id, counted in usage.items():
        record = records[request_id]
        assert (record.key_id, record.deployment, record.model) == (
            user["id"],
            FAKE_MODEL,
            FAKE_MODEL,
        )
        assert record.route == "/v1/chat/completions" and record.status == 200
        assert record.prompt_tokens == counted["prompt_tokens"]
        assert record.completion_tokens == counted["completion_tokens"]
        assert record.ttft_ms is None and record.latency_ms >= 0
    [row] = await usage_rows(client, key_id=user["id"])
    assert row["period"] == utc_now().date().isoformat()
    assert (row["key_id"], row["key_name"], row["deployment"], row["model"]) == (
        user["id"], "metered", FAKE_MODEL, FAKE_MODEL,
    )  # fmt: skip
    prompt = sum(counted["prompt_tokens"] for counted in usage.values())
    completion = sum(counted["completion_tokens"] for counted in usage.values())
    assert (row["requests"], row["errors"]) == (12, 0)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (prompt, completion)
    assert row["total_tokens"] == prompt + completion and prompt > 12


async def test_streamed_requests_are_metered_with_time_to_first_token(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    body = {**said(3), "stream": True, "stream_options": {"include_usage": True}}
    responses = [await client.post("/v1/chat/completions", json=body) for _ in range(2)]
    records = await rows_for(running_app, {r.headers["x-request-id"] for r in responses})
    for response in responses:
        events, done = parse_sse(response.text)
        usage = events[-1]["usage"]
        assert done and usage["completion_tokens"] > 0
        record = records[response.headers["x-request-id"]]
        assert record.prompt_tokens == usage["prompt_tokens"]
        assert record.completion_tokens == usage["completion_tokens"]
        assert record.ttft_ms is not None and 0 <= record.ttft_ms <= record.latency_ms


async def test_refused_requests_are_not_metered_but_errors_are(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    reader = await create_key(client, "reader")
    user = await create_key(client, "user")
    async with client_for(running_app, reader["key"]) as caller:
        assert (await caller.post("/v1/chat/completions", json=CHAT)).status_code == 403
    async with client_for(running_app, user["key"]) as caller:
        assert (await caller.post("/v1/chat/completions", json=CHAT)).status_code == 200
        bad = await caller.post("/v1/chat/completions", json={**CHAT, "temperature": 3})
        assert bad.status_code == 400
    [row] = await wait_for_usage(client, 2, granularity="total", group_by="key")
    assert (row["key_id"], row["requests"], row["errors"]) == (user["id"], 2, 1)


async def test_usage_report_groups_filters_and_exports_csv(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    await create_deployment(client, "support")
    user = await create_key(client, "user")
    async with client_for(running_app, user["key"]) as caller:
        for model in (FAKE_MODEL, FAKE_MODEL, "support"):
            response = await caller.post("/v1/chat/completions", json={**CHAT, "model": model})
            assert response.status_code == 200
    assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    by_deployment = await wait_for_usage(client, 4, group_by="deployment", granularity="total")
    assert [(row["deployment"], row["requests"]) for row in by_deployment] == [
        (FAKE_MODEL, 3), ("support", 1),
    ]  # fmt: skip
    assert set(by_deployment[0]) == {"deployment", *TOTALS, "total_tokens"}
    by_key = await usage_rows(client, group_by="key", granularity="total")
    assert sorted((row["key_name"], row["requests"]) for row in by_key) == [
        ("bootstrap admin", 1), ("user key", 3),
    ]  # fmt: skip
    exported = await client.get(
        "/admin/usage", params={"group_by": "deployment", "granularity": "total", "format": "csv"}
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[0] == (
        "deployment,requests,errors,filtered,prompt_tokens,completion_tokens,cached_tokens,"
        "total_tokens"
    )
    parsed = list(csv.DictReader(io.StringIO(exported.text)))
    assert parsed == [{name: str(value) for name, value in row.items()} for row in by_deployment]
    [support] = await usage_rows(client, deployment="support", granularity="total")
    assert support["requests"] == 1 and support["key_id"] == user["id"]
    [hourly] = await usage_rows(client, group_by="model", granularity="hour")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00\+00:00", hourly["period"])
    assert hourly["requests"] == 4
    future, past = utc_now() + timedelta(hours=1), utc_now() - timedelta(hours=1)
    assert await usage_rows(client, since=future.isoformat()) == []
    assert await usage_rows(client, until=past.isoformat()) == []
    assert len(await usage_rows(client, since=past.isoformat())) == 3
    empty = await client.get("/admin/usage", params={"key_id": "key_none", "format": "csv"})
    assert empty.text.count("\n") == 1  # the header alone
    bad_group = await client.get("/admin/usage", params={"group_by": "key,colour"})
    assert_openai_error(bad_group, 400, "invalid_value", "group_by")
    bad_period = await client.get("/admin/usage", params={"granularity": "week"})
    assert_openai_error(bad_period, 400, "invalid_value", "granularity")


async def test_shutdown_writes_queued_usage_and_it_survives_a_restart(
    settings: Settings, fake_engine: FakeEngine
) -> None:
    slow = settings.model_copy(update={"usage_flush_interval_s": 60.0})
    first = build_app(slow, engine=fake_engine)
    async with asyncio.timeout(15), started(first, settings) as client:
        for _ in range(3):
            assert (await client.post("/v1/chat/completions", json=CHAT)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert metric_value(metrics, "atrium_usage_queue_depth") == 3
        assert metric_value(metrics, "atrium_usage_records_written_total") == 0
        assert await usage_rows(client) == []
        # A burst that ends just before the shutdown starts (this once made it hang).
        burst = await asyncio.gather(
            *(client.post("/v1/chat/completions", json=CHAT) for _ in range(12))
        )
        shutdown_began = time.monotonic()
    assert time.monotonic() - shutdown_began < 5, "the shutdown waited for the flush interval"
    assert [response.status_code for response in burst] == [200] * 12
    second = build_app(settings, engine=fake_engine)
    async with started(second, settings) as client:
        [row] = await usage_rows(client, granularity="total", group_by="model")
    assert (row["model"], row["requests"]) == (FAKE_MODEL, 15)


async def test_full_usage_queue_drops_records_not_requests(
    settings: Settings, fake_engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    tight = settings.model_copy(update={"usage_queue_size": 1, "usage_flush_interval_s": 60.0})
    app = build_app(tight, engine=fake_engine)
    sent, dropped = 0, 0.0
    async with started(app, settings) as client:
        # Records of requests that end together overflow the queue of one; retry a few
        # rounds in case the writer happened to keep up.
        for _ in range(5):
            responses = await asyncio.gather(
                *(client.post("/v1/chat/completions", json=CHAT) for _ in range(12))
            )
            assert [response.status_code for response in responses] == [200] * 12
            sent += 12
            metrics = (await client.get("/metrics")).text
            dropped = metric_value(metrics, "atrium_usage_records_dropped_total") or 0
            if dropped:
                break
    assert dropped > 0
    assert "usage queue full" in caplog.text
    again = build_app(settings, engine=fake_engine)
    async with started(again, settings) as client:
        [row] = await usage_rows(client, granularity="total", group_by="model")
    assert row["requests"] == sent - dropped  # each record is written or counted as dropped


async def test_admin_changes_are_audited(client: httpx.AsyncClient, admin_key: str) -> None:
    request_ids: dict[str, str] = {}

    async def act(action: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = await client.request(method, path, json=body)
        assert response.status_code < 300, response.text
        request_ids[action] = response.headers["x-request-id"]
        result: dict[str, Any] = response.json()
        return result

    deployment = {"name": "audited", "model": FAKE_MODEL, "description": "v1"}
    await act("deployment.create", "POST", "/admin/deployments", deployment)
    await act("deployment.update", "PATCH", "/admin/deployments/audited", {"description": "v2"})
    await act("deployment.delete", "DELETE", "/admin/deployments/audited")
    key = await act("key.create", "POST", "/admin/keys", {"name": "audited", "role": "user"})
    new = await act("key.regenerate", "POST", f"/admin/keys/{key['id']}/regenerate")
    await act("key.revoke", "DELETE", f"/admin/keys/{key['id']}")
    assert (await client.post("/admin/keys", json={"role": "user"})).status_code == 400
    response = await client.get("/admin/audit")
    events = response.json()["data"]
    mine = [event for event in events if event["actor_key_id"] is not None]
    assert [event["action"] for event in mine] == list(reversed(request_ids))  # newest first
    for event in mine:
        assert event["actor"] == f"bootstrap admin ({admin_key[:12]}…)"
        assert event["client_ip"] == "127.0.0.1"
        assert event["request_id"] == request_ids[event["action"]]
    by_action = {event["action"]: event for event in mine}
    create, update, delete = (by_action[f"deployment.{v}"] for v in ("create", "update", "delete"))
    assert (create["target_type"], create["target_id"]) == ("deployment", "audited")
    assert create["before"] is None and create["after"]["description"] == "v1"
    assert (update["before"]["description"], update["after"]["description"]) == ("v1", "v2")
    assert delete["before"]["description"] == "v2" and delete["after"] is None
    created, regenerated, revoked = (
        by_action[f"key.{v}"] for v in ("create", "regenerate", "revoke")
    )
    assert (created["target_type"], created["target_id"]) == ("key", key["id"])
    assert created["before"] is None and created["after"]["role"] == "user"
    assert regenerated["before"]["prefix"] == key["prefix"]
    assert regenerated["after"]["prefix"] == new["prefix"] != key["prefix"]
    assert (revoked["before"]["status"], revoked["after"]["status"]) == ("active", "revoked")
    for secret in (key["key"], new["key"], admin_key):
        assert secret[12:] not in response.text
    startup = events[-1]
    assert (startup["action"], startup["target_id"]) == ("deployment.create", FAKE_MODEL)
    assert startup["actor"] == "atrium (start-up)" and startup["client_ip"] is None


async def test_audit_log_filters_and_pages(client: httpx.AsyncClient) -> None:
    for name in ("a1", "a2", "a3"):
        await create_deployment(client, name)
    filtered = (await client.get("/admin/audit", params={"action": "deployment.create"})).json()
    assert [event["target_id"] for event in filtered["data"]] == ["a3", "a2", "a1", FAKE_MODEL]
    first = (await client.get("/admin/audit", params={"limit": 2})).json()["data"]
    before = first[-1]["id"]
    rest = (await client.get("/admin/audit", params={"before_id": before})).json()["data"]
    assert [event["target_id"] for event in first + rest] == ["a3", "a2", "a1", FAKE_MODEL]
    future = (utc_now() + timedelta(minutes=5)).isoformat()
    assert (await client.get("/admin/audit", params={"since": future})).json()["data"] == []
    too_many = await client.get("/admin/audit", params={"limit": 5000})
    assert_openai_error(too_many, 400, "invalid_value", "limit")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_audit_log_is_read_only(client: httpx.AsyncClient, method: str) -> None:
    before = (await client.get("/admin/audit")).json()["data"]
    response = await client.request(method, "/admin/audit", json={"action": "forged"})
    assert_openai_error(response, 405, None, None)
    assert (await client.get("/admin/audit")).json()["data"] == before
