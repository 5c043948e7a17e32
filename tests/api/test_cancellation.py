"""A client that goes away cancels its generation at once.

httpx's ASGI transport cannot disconnect mid-response, so these tests drive the ASGI app
directly with a ``receive`` that reports the disconnect when the test says so.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI

from atrium.config import Settings
from atrium.engines.fake import FakeBehaviour, FakeEngine
from tests.api.conftest import FAKE_MODEL


async def call_then_disconnect(
    app: FastAPI, body: dict[str, Any], disconnect: asyncio.Event, api_key: str
) -> list[dict[str, Any]]:
    payload = json.dumps(body).encode()
    sent: list[dict[str, Any]] = []
    body_delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal body_delivered
        if not body_delivered:
            body_delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"host", b"atrium"),
            (b"authorization", f"Bearer {api_key}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("atrium", 80),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return sent


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_disconnect_mid_stream_aborts_the_generation(
    app: FastAPI, fake_engine: FakeEngine, settings: Settings
) -> None:
    # 200 tokens at 50 ms each would take 10 s; the disconnect must end it within ~1 token.
    fake_engine.behaviour = FakeBehaviour(reply=lambda _: "tok " * 200, token_delay_s=0.05)
    disconnect = asyncio.Event()
    async with app.router.lifespan_context(app):
        api_key = settings.admin_key_path.read_text().strip()
        call = asyncio.create_task(
            call_then_disconnect(
                app,
                {
                    "model": FAKE_MODEL,
                    "messages": [{"role": "user", "content": "go"}],
                    "stream": True,
                },
                disconnect,
                api_key,
            )
        )
        await wait_until(lambda: len(fake_engine.requests) == 1)
        await asyncio.sleep(0.2)
        loop = asyncio.get_running_loop()
        disconnected_at = loop.time()
        disconnect.set()
        sent = await call
        assert loop.time() - disconnected_at < 0.5
    request_id = fake_engine.requests[0].request_id
    assert fake_engine.aborted == [request_id]
    assert fake_engine.finished == []
    bodies = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"[DONE]" not in bodies
    assert bodies.count(b"data: ") < 20


async def test_disconnect_while_waiting_for_a_full_answer_aborts_it(
    app: FastAPI, fake_engine: FakeEngine, settings: Settings
) -> None:
    fake_engine.behaviour = FakeBehaviour(reply=lambda _: "tok " * 200, token_delay_s=0.05)
    disconnect = asyncio.Event()
    async with app.router.lifespan_context(app):
        api_key = settings.admin_key_path.read_text().strip()
        call = asyncio.create_task(
            call_then_disconnect(
                app,
                {"model": FAKE_MODEL, "messages": [{"role": "user", "content": "go"}]},
                disconnect,
                api_key,
            )
        )
        await wait_until(lambda: len(fake_engine.requests) == 1)
        await asyncio.sleep(0.2)
        disconnect.set()
        await call
    assert fake_engine.aborted == [fake_engine.requests[0].request_id]
