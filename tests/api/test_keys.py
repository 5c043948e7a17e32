"""API keys: the secret is shown once and kept nowhere; regeneration, validation, key file."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from atrium.app import build_app
from atrium.config import Settings
from atrium.engines.fake import FakeEngine
from atrium.gateway.keys import PREFIX_LENGTH, hash_secret
from tests.api.conftest import client_for
from tests.api.helpers import CHAT, create_deployment, create_key, dump_database
from tests.api.test_errors import assert_openai_error


async def admin_key_id(client: httpx.AsyncClient) -> str:
    keys = (await client.get("/admin/keys")).json()["data"]
    [admin] = [key for key in keys if key["role"] == "admin"]
    return str(admin["id"])


async def test_secret_is_returned_once_at_creation(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await create_key(client, "user", name="ci bot", expires_in_days=30)
    secret = created["key"]
    assert secret.startswith("atr-") and len(secret) > 40
    assert created["prefix"] == secret[:PREFIX_LENGTH]
    assert created["name"] == "ci bot" and created["role"] == "user"
    assert created["status"] == "active" and created["revoked_at"] is None
    assert created["expires_at"] is not None and created["deployments"] is None
    assert created["created_by"] == await admin_key_id(client)
    shown = await client.get(f"/admin/keys/{created['id']}")
    listed = await client.get("/admin/keys")
    for response in (shown, listed):
        assert response.status_code == 200
        assert secret not in response.text
        assert secret[PREFIX_LENGTH:] not in response.text
        assert hash_secret(secret) not in response.text
    assert "key" not in shown.json()
    assert shown.json()["prefix"] == created["prefix"]
    [listed_key] = [key for key in listed.json()["data"] if key["id"] == created["id"]]
    assert "key" not in listed_key
    assert listed_key["last_used_at"] is None
    async with client_for(running_app, secret) as user:
        assert (await user.post("/v1/chat/completions", json=CHAT)).status_code == 200
    used = (await client.get(f"/admin/keys/{created['id']}")).json()
    assert used["last_used_at"] is not None


async def test_secrets_are_in_neither_database_nor_logs(
    app: FastAPI, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with app.router.lifespan_context(app):
        admin_secret = settings.admin_key_path.read_text().strip()
        async with client_for(app, admin_secret) as admin:
            created = await create_key(admin, "user")
            async with client_for(app, created["key"]) as user:
                assert (await user.post("/v1/chat/completions", json=CHAT)).status_code == 200
            async with client_for(app, created["key"] + "0") as wrong:
                assert (await wrong.get("/v1/models")).status_code == 401
            regenerated = await admin.post(f"/admin/keys/{created['id']}/regenerate")
            async with client_for(app, regenerated.json()["key"]) as user:
                assert (await user.get("/v1/models")).status_code == 200
            await admin.delete(f"/admin/keys/{created['id']}")
        dump = dump_database(app)
    secrets = [admin_secret, created["key"], regenerated.json()["key"]]
    assert hash_secret(secrets[-1]) in dump  # the dump holds the keys (as hashes)
    assert created["prefix"] in dump
    assert caplog.records, "nothing was logged: the log check would prove nothing"
    for secret in secrets:
        random_part = secret[PREFIX_LENGTH:]
        assert random_part not in dump
        assert random_part not in caplog.text


async def test_regenerate_replaces_the_secret_at_once(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = await create_key(client, "user")
    async with client_for(running_app, created["key"]) as old:
        assert (await old.get("/v1/models")).status_code == 200
        regenerated = await client.post(f"/admin/keys/{created['id']}/regenerate")
        assert regenerated.status_code == 200
        refused = await old.get("/v1/models")
    assert_openai_error(refused, 401, "invalid_api_key", None)
    body = regenerated.json()
    assert body["id"] == created["id"] and body["role"] == "user"
    assert body["key"] != created["key"] and body["prefix"] == body["key"][:PREFIX_LENGTH]
    assert body["prefix"] != created["prefix"]
    async with client_for(running_app, body["key"]) as new:
        assert (await new.post("/v1/chat/completions", json=CHAT)).status_code == 200
    shown = (await client.get(f"/admin/keys/{created['id']}")).json()
    assert shown["prefix"] == body["prefix"] and "key" not in shown
    await client.delete(f"/admin/keys/{created['id']}")
    again = await client.post(f"/admin/keys/{created['id']}/regenerate")
    assert_openai_error(again, 400, "invalid_value", None)


async def test_revoke_is_idempotent_and_unknown_keys_are_404(client: httpx.AsyncClient) -> None:
    created = await create_key(client, "reader")
    first = (await client.delete(f"/admin/keys/{created['id']}")).json()
    second = await client.delete(f"/admin/keys/{created['id']}")
    assert second.status_code == 200
    assert second.json()["revoked_at"] == first["revoked_at"]
    for response in (
        await client.get("/admin/keys/key_missing"),
        await client.delete("/admin/keys/key_missing"),
        await client.post("/admin/keys/key_missing/regenerate"),
    ):
        assert_openai_error(response, 404, "not_found", None)


INVALID_KEYS: list[tuple[dict[str, Any], str | None, str]] = [
    ({"name": "x", "role": "superuser"}, "invalid_value", "role"),
    (
        {"name": "x", "role": "user", "expires_at": "2001-01-01T00:00:00Z"},
        "invalid_value",
        "expires_at",
    ),
    (
        {"name": "x", "role": "user", "expires_at": "2999-01-01T00:00:00"},
        "invalid_value",
        "expires_at",
    ),
    ({"name": "x", "role": "user", "deployments": ["nope"]}, "invalid_value", "deployments"),
    ({"name": "x", "role": "user", "expires_in_days": 0}, "invalid_value", "expires_in_days"),
    ({"role": "user"}, "missing_required_parameter", "name"),
    ({"name": "x", "role": "user", "secret": "mine"}, "unknown_parameter", "secret"),
]


async def test_invalid_key_requests_are_400(client: httpx.AsyncClient) -> None:
    before = len((await client.get("/admin/keys")).json()["data"])
    await create_deployment(client, "known")
    for body, code, param in INVALID_KEYS:
        response = await client.post("/admin/keys", json=body)
        error = assert_openai_error(response, 400, code, param)
        assert error["type"] == "invalid_request_error"
    both = {"name": "x", "role": "user", "expires_in_days": 1, "expires_at": "2999-01-01T00:00:00Z"}
    error = assert_openai_error(
        await client.post("/admin/keys", json=both), 400, "invalid_value", None
    )
    assert "not both" in error["message"] and "Invalid value for ''" not in error["message"]
    assert len((await client.get("/admin/keys")).json()["data"]) == before
    scoped = await create_key(client, "user", deployments=["known"])
    assert scoped["deployments"] == ["known"]


async def test_admin_key_file_is_private_and_made_once(
    settings: Settings, fake_engine: FakeEngine
) -> None:
    first = build_app(settings, engine=fake_engine)
    async with first.router.lifespan_context(first):
        path = settings.admin_key_path
        assert path.stat().st_mode & 0o777 == 0o600
        secret = path.read_text().strip()
        async with client_for(first, secret) as admin:
            assert (await admin.get("/admin/keys")).status_code == 200
    second = build_app(settings, engine=fake_engine)
    async with second.router.lifespan_context(second):
        assert path.read_text().strip() == secret
        async with client_for(second, secret) as admin:
            keys = (await admin.get("/admin/keys")).json()["data"]
    assert [key["role"] for key in keys] == ["admin"]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".admin-key")]
