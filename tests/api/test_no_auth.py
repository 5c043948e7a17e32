"""``--no-auth``: local development only, and it says so."""

from __future__ import annotations

import logging

import httpx
import pytest

from atrium.app import build_app
from atrium.config import Settings
from atrium.engines.fake import FakeEngine
from tests.api.conftest import FAKE_MODEL


async def test_no_auth_serves_everyone_as_admin_and_warns(
    settings: Settings, fake_engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="atrium")
    app = build_app(settings.model_copy(update={"auth": False}), engine=fake_engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://atrium") as client:
            chat = await client.post(
                "/v1/chat/completions",
                json={"model": FAKE_MODEL, "messages": [{"role": "user", "content": "hi"}]},
            )
            keys = await client.get("/admin/keys")
    assert chat.status_code == 200
    assert keys.status_code == 200
    assert keys.json()["data"] == []  # no admin key is created without auth
    assert not settings.admin_key_path.exists()
    assert any("AUTHENTICATION IS OFF" in record.getMessage() for record in caplog.records)
