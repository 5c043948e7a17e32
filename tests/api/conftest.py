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
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        engine="fake",
        model=FAKE_MODEL,
        data_dir=tmp_path,
        database_url=database_url,
        usage_flush_interval_s=0.05,
        content_classifier="fake",
    )


@pytest.fixture
def app(fake_engine: FakeEngine, settings: Settings) -> FastAPI:
    return build_app(settings, engine=fake_engine)


@pytest.fixture
async def running_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan started (database migrated, engine up, admin key made)."""
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, api_key: str | None = None) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://atrium", headers=headers)


@pytest.fixture
def admin_key(running_app: FastAPI, settings: Settings) -> str:
    """The admin key Atrium created at its first start (from the 0600 key file)."""
    return settings.admin_key_path.read_text().strip()


@pytest.fixture
async def anonymous(running_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app that sends no API key."""
    async with client_for(running_app) as client:
        yield client


@pytest.fixture
async def client(running_app: FastAPI, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app authenticated with the first admin key."""
    async with client_for(running_app, admin_key) as client:
        yield client
