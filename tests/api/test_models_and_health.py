from __future__ import annotations

import httpx

from atrium.engines.fake import FakeEngine
from tests.api.conftest import FAKE_MODEL
from tests.api.test_errors import assert_openai_error


async def test_list_models(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    [card] = body["data"]
    assert card["id"] == FAKE_MODEL
    assert card["object"] == "model"
    assert card["owned_by"] == "atrium"
    assert isinstance(card["created"], int) and card["created"] > 0


async def test_retrieve_model(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/models/{FAKE_MODEL}")
    assert response.status_code == 200
    assert response.json()["id"] == FAKE_MODEL
    missing = await client.get("/v1/models/org/not-here")
    assert_openai_error(missing, 404, "model_not_found", "model")


async def test_health_and_readiness(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "models": [FAKE_MODEL]}
    fake_engine.ready = False
    not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["status"] == "not_ready"
    assert (await client.get("/healthz")).status_code == 200
