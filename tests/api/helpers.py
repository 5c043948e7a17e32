"""Helpers shared by the control-plane API tests (keys, deployments, usage, audit)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, select

from atrium.api.state import AppState
from atrium.config import Settings
from tests.api.conftest import FAKE_MODEL

T = TypeVar("T")
HELLO = [{"role": "user", "content": "Hello there"}]
CHAT = {"model": FAKE_MODEL, "messages": HELLO}


def state_of(app: FastAPI) -> AppState:
    state = app.state.atrium
    assert isinstance(state, AppState)
    return state


def client_at(app: FastAPI, address: str, api_key: str | None = None) -> httpx.AsyncClient:
    """A client of ``app`` connecting from ``address`` (the throttle keys on it)."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://atrium", headers=headers)


@asynccontextmanager
async def started(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and give a client with the admin key of ``settings``."""
    async with app.router.lifespan_context(app):
        admin_key = settings.admin_key_path.read_text().strip()
        headers = {"authorization": f"Bearer {admin_key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://atrium", headers=headers
        ) as client:
            yield client


async def create_key(client: httpx.AsyncClient, role: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"{role} key", "role": role, **fields}
    response = await client.post("/admin/keys", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_deployment(
    client: httpx.AsyncClient, name: str, model: str = FAKE_MODEL, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/admin/deployments", json={"name": name, "model": model, **fields}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_policy(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/admin/policies", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def eventually(check: Callable[[], Awaitable[T | None]], timeout_s: float = 5.0) -> T:
    """Poll ``check`` until it returns something other than None."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result is not None:
            return result
        assert time.monotonic() < deadline, f"gave up waiting after {timeout_s}s"
        await asyncio.sleep(0.02)


async def usage_rows(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/admin/usage", params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


async def wait_for_usage(
    client: httpx.AsyncClient, requests: int, **params: str
) -> list[dict[str, Any]]:
    """The usage report once it counts ``requests`` requests (the recorder writes late)."""

    async def counted() -> list[dict[str, Any]] | None:
        rows = await usage_rows(client, **params)
        total = sum(row["requests"] for row in rows)
        assert total <= requests, rows
        return rows if total == requests else None

    return await eventually(counted)


def dump_database(app: FastAPI) -> str:
    """Every row of every table of the app's database, as text."""
    engine = state_of(app).db.engine
    metadata = MetaData()
    metadata.reflect(engine)
    assert {"api_keys", "deployments", "usage_records", "audit_events"} <= set(metadata.tables)
    with engine.connect() as connection:
        return "\n".join(
            f"{table.name}: {row!r}"
            for table in metadata.sorted_tables
            for row in connection.execute(select(table))
        )


def metric_value(text: str, sample: str, **labels: str) -> float | None:
    """The value of the first sample named ``sample`` with these labels (others ignored)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None
