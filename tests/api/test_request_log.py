from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from atrium.config import Settings
from atrium.engines.base import GenerationRequest
from atrium.engines.fake import FakeBehaviour, FakeEngine
from tests.api.conftest import FAKE_MODEL

SECRET_PROMPT = "my password is hunter2"


async def test_one_structured_line_per_request_without_the_prompt(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atrium.access")
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": [{"role": "user", "content": SECRET_PROMPT}]},
        headers={"x-request-id": "req-1"},
    )
    usage = response.json()["usage"]
    lines = [record.getMessage() for record in caplog.records if record.name == "atrium.access"]
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["request_id"] == "req-1"
    assert entry["path"] == "/v1/chat/completions"
    assert entry["model"] == FAKE_MODEL
    assert entry["status"] == 200
    assert entry["prompt_tokens"] == usage["prompt_tokens"]
    assert entry["completion_tokens"] == usage["completion_tokens"]
    assert entry["finish_reason"] == "stop"
    assert entry["latency_ms"] >= 0
    assert "hunter2" not in caplog.text


async def test_streamed_request_is_logged_with_its_tokens(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atrium.access")
    await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL,
            "messages": [{"role": "user", "content": "a b c"}],
            "stream": True,
        },
    )
    [line] = [r.getMessage() for r in caplog.records if r.name == "atrium.access"]
    entry = json.loads(line)
    assert entry["completion_tokens"] == 5
    assert entry["client_disconnected"] is False


async def test_unexpected_failure_is_logged_as_500(
    app: FastAPI, fake_engine: FakeEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="atrium.access")

    def broken_reply(request: GenerationRequest) -> str:
        raise RuntimeError("bug in the engine")

    fake_engine.behaviour = FakeBehaviour(reply=broken_reply)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"authorization": f"Bearer {settings.admin_key_path.read_text().strip()}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://atrium", headers=headers
        ) as client:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": FAKE_MODEL, "messages": [{"role": "user", "content": "x"}]},
            )
    assert response.status_code == 500
    assert response.json()["error"] == {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    [line] = [r.getMessage() for r in caplog.records if r.name == "atrium.access"]
    assert json.loads(line)["status"] == 500
