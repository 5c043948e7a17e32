"""Deployments: the names requests address, managed through /admin/deployments."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from atrium.engines.fake import FakeEngine
from tests.api.conftest import FAKE_CONTEXT, FAKE_MODEL, client_for
from tests.api.helpers import HELLO, create_deployment, create_key
from tests.api.sse import parse_sse
from tests.api.test_errors import assert_openai_error

OTHER_MODEL = "other-model"


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine(model_ids=(FAKE_MODEL, OTHER_MODEL), context_size=FAKE_CONTEXT)


async def chat(client: httpx.AsyncClient, model: str, **extra: object) -> httpx.Response:
    return await client.post(
        "/v1/chat/completions", json={"model": model, "messages": HELLO, **extra}
    )


async def test_default_deployments_are_made_at_start(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/admin/deployments")).json()["data"]
    assert [(item["name"], item["model"]) for item in listed] == [
        (FAKE_MODEL, FAKE_MODEL),
        (OTHER_MODEL, OTHER_MODEL),
    ]


async def test_created_deployment_serves_its_model(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await create_deployment(client, "support", capacity_tpm=1000, description="help desk")
    assert created["name"] == "support" and created["model"] == FAKE_MODEL
    assert created["engine"] == "default" and created["capacity_tpm"] == 1000
    assert created["created_at"] == created["updated_at"]
    assert (await client.get("/admin/deployments/support")).json() == created
    user = await create_key(client, "user")
    async with client_for(running_app, user["key"]) as caller:
        answered = await chat(caller, "support")
        streamed = await chat(caller, "support", stream=True)
        models = await caller.get("/v1/models")
        card = await caller.get("/v1/models/support")
    assert answered.status_code == 200, answered.text
    assert answered.json()["model"] == FAKE_MODEL
    assert answered.json()["choices"][0]["message"]["content"] == "You said: Hello there"
    events, done = parse_sse(streamed.text)
    # the first frame is Azure's prompt annotation (no id, no model); the rest name the model
    assert done and events[0]["prompt_filter_results"] and events[0]["model"] == ""
    assert {event["model"] for event in events[1:]} == {FAKE_MODEL}
    assert "support" in [item["id"] for item in models.json()["data"]]
    assert card.status_code == 200 and card.json()["id"] == "support"


async def test_duplicate_name_is_409(client: httpx.AsyncClient) -> None:
    await create_deployment(client, "support")
    again = await client.post("/admin/deployments", json={"name": "support", "model": OTHER_MODEL})
    assert_openai_error(again, 409, "conflict", "name")
    shown = (await client.get("/admin/deployments/support")).json()
    assert shown["model"] == FAKE_MODEL


async def test_concurrent_creations_of_one_name_give_one_201(client: httpx.AsyncClient) -> None:
    body = {"name": "race", "model": FAKE_MODEL}
    responses = await asyncio.gather(
        *(client.post("/admin/deployments", json=body) for _ in range(6))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409]
    for response in responses:
        if response.status_code == 409:
            assert_openai_error(response, 409, "conflict", "name")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"name": "bad name!", "model": FAKE_MODEL}, "invalid_value", "name"),
        ({"name": "-dash-first", "model": FAKE_MODEL}, "invalid_value", "name"),
        ({"name": "x" * 65, "model": FAKE_MODEL}, "invalid_value", "name"),
        ({"name": "ghost", "model": "not-served"}, "invalid_value", "model"),
        ({"name": "ghost", "model": FAKE_MODEL, "engine": "gpu9"}, "invalid_value", "engine"),
        (
            {"name": "ghost", "model": FAKE_MODEL, "capacity_tpm": 0},
            "invalid_value",
            "capacity_tpm",
        ),
        ({"name": "ghost"}, "missing_required_parameter", "model"),
        ({"name": "ghost", "model": FAKE_MODEL, "owner": "me"}, "unknown_parameter", "owner"),
    ],
)
async def test_invalid_deployment_is_400(
    client: httpx.AsyncClient, body: dict[str, object], code: str, param: str
) -> None:
    response = await client.post("/admin/deployments", json=body)
    assert_openai_error(response, 400, code, param)
    names = [item["name"] for item in (await client.get("/admin/deployments")).json()["data"]]
    assert names == [FAKE_MODEL, OTHER_MODEL]


async def test_patch_changes_the_deployment(client: httpx.AsyncClient) -> None:
    created = await create_deployment(client, "support", capacity_tpm=10)
    patched = await client.patch(
        "/admin/deployments/support",
        json={"model": OTHER_MODEL, "description": "moved", "capacity_tpm": None},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["model"] == OTHER_MODEL and body["description"] == "moved"
    assert body["capacity_tpm"] is None and body["created_at"] == created["created_at"]
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(
        created["updated_at"]
    )
    assert (await client.get("/admin/deployments/support")).json() == body
    answered = await chat(client, "support")
    assert answered.json()["model"] == OTHER_MODEL


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({}, "invalid_value", None),
        ({"model": "not-served"}, "invalid_value", "model"),
        ({"name": "renamed"}, "unknown_parameter", "name"),
        ({"description": None}, "invalid_value", None),
    ],
)
async def test_invalid_patch_is_400_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, object], code: str, param: str | None
) -> None:
    created = await create_deployment(client, "support", description="as made")
    response = await client.patch("/admin/deployments/support", json=body)
    assert_openai_error(response, 400, code, param)
    assert (await client.get("/admin/deployments/support")).json() == created


async def test_unknown_deployment_is_404(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/admin/deployments/nowhere"),
        await client.patch("/admin/deployments/nowhere", json={"description": "x"}),
        await client.delete("/admin/deployments/nowhere"),
    ):
        assert_openai_error(response, 404, "not_found", None)


async def test_deleted_deployment_cannot_be_called(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    await create_deployment(client, "support")
    user = await create_key(client, "user")
    async with client_for(running_app, user["key"]) as caller:
        assert (await chat(caller, "support")).status_code == 200
        deleted = await client.delete("/admin/deployments/support")
        assert deleted.status_code == 200
        assert deleted.json() == {"name": "support", "deleted": True}
        refused = await chat(caller, "support")
        card = await caller.get("/v1/models/support")
        models = await caller.get("/v1/models")
        assert (await chat(caller, FAKE_MODEL)).status_code == 200
    assert_openai_error(refused, 404, "model_not_found", "model")
    assert_openai_error(card, 404, "model_not_found", "model")
    assert "support" not in [item["id"] for item in models.json()["data"]]
    assert_openai_error(await client.get("/admin/deployments/support"), 404, "not_found", None)
    # The name is free again.
    assert (await create_deployment(client, "support", OTHER_MODEL))["model"] == OTHER_MODEL
