from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from atrium.app import build_app
from atrium.config import Settings
from atrium.engines.fake import FakeEngine

FAKE_MODEL = "fake-model"
FAKE_CONTEXT = 256


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine(model_ids=(FAKE_MODEL,), context_size=FAKE_CONTEXT)


@pytest.fixture
def app(fake_engine: FakeEngine, tmp_path: Path) -> FastAPI:
    settings = Settings(engine="fake", model=FAKE_MODEL, data_dir=tmp_path)
    return build_app(settings, engine=fake_engine)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://atrium") as client:
            yield client
