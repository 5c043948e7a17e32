"""Who may call what: the role x route matrix (generated from the app's own routes), key
headers, revoked / expired / scoped keys, and the slow-down of bursts of bad keys."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from atrium.api.auth import PUBLIC_PATHS, Authorize, check_route_rules, route_permission
from atrium.api.auth import served_routes as served_routes_of
from atrium.app import build_app
from atrium.config import Settings
from atrium.gateway.clock import utc_now
from atrium.gateway.roles import ROLE_PERMISSIONS, Permission, Role
from atrium.store.schema import ApiKeyRow
from tests.api.conftest import FAKE_MODEL, client_for
from tests.api.helpers import (
    CHAT,
    HELLO,
    client_at,
    create_deployment,
    create_key,
    create_policy,
    state_of,
)
from tests.api.test_errors import assert_openai_error

# The admin goes first, so that each sample is shown to succeed (2xx) for a role allowed it.
ROLES = (Role.ADMIN, Role.CONTRIBUTOR, Role.USER, Role.READER)


P = Permission


@dataclass(frozen=True)
class Sample:
    """The permission a route must require, and a request valid enough to get past
    validation; the path may name ``{key}`` (a key to read and regenerate) and
    ``{doomed_key}`` (a key to revoke)."""

    permission: Permission
    path: str
    body: dict[str, Any] | None = None


# One line per (method, route template), reviewed by a person: a new route fails the
# tests below until it has an authorization rule *and* a line here that agrees with it.
GA = "api-version=2024-10-21"
SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/v1/models"): Sample(P.INFERENCE, "/v1/models"),
    ("GET", "/v1/models/{model_id:path}"): Sample(P.INFERENCE, f"/v1/models/{FAKE_MODEL}"),
    ("POST", "/v1/chat/completions"): Sample(P.INFERENCE, "/v1/chat/completions", CHAT),
    ("POST", "/v1/completions"): Sample(
        P.INFERENCE, "/v1/completions", {"model": FAKE_MODEL, "prompt": "Once", "max_tokens": 4}
    ),
    ("GET", "/admin/deployments"): Sample(P.DEPLOYMENTS_READ, "/admin/deployments"),
    ("POST", "/admin/deployments"): Sample(
        P.DEPLOYMENTS_WRITE, "/admin/deployments", {"name": "matrix-new", "model": FAKE_MODEL}
    ),
    ("GET", "/admin/deployments/{name}"): Sample(P.DEPLOYMENTS_READ, "/admin/deployments/matrix"),
    ("PATCH", "/admin/deployments/{name}"): Sample(
        P.DEPLOYMENTS_WRITE, "/admin/deployments/matrix", {"description": "patched"}
    ),
    ("DELETE", "/admin/deployments/{name}"): Sample(
        P.DEPLOYMENTS_WRITE, "/admin/deployments/matrix-doomed"
    ),
    ("GET", "/admin/policies"): Sample(P.DEPLOYMENTS_READ, "/admin/policies"),
    ("POST", "/admin/policies"): Sample(
        P.POLICIES_WRITE, "/admin/policies", {"name": "matrix-new"}
    ),
    ("GET", "/admin/policies/{name}"): Sample(P.DEPLOYMENTS_READ, "/admin/policies/matrix"),
    ("PATCH", "/admin/policies/{name}"): Sample(
        P.POLICIES_WRITE, "/admin/policies/matrix", {"description": "patched"}
    ),
    ("DELETE", "/admin/policies/{name}"): Sample(P.POLICIES_WRITE, "/admin/policies/matrix-doomed"),
    ("GET", "/admin/keys"): Sample(P.KEYS_MANAGE, "/admin/keys"),
    ("POST", "/admin/keys"): Sample(P.KEYS_MANAGE, "/admin/keys", {"name": "x", "role": "reader"}),
    ("GET", "/admin/keys/{key_id}"): Sample(P.KEYS_MANAGE, "/admin/keys/{key}"),
    ("DELETE", "/admin/keys/{key_id}"): Sample(P.KEYS_MANAGE, "/admin/keys/{doomed_key}"),
    ("POST", "/admin/keys/{key_id}/regenerate"): Sample(
        P.KEYS_MANAGE, "/admin/keys/{key}/regenerate"
    ),
    ("GET", "/admin/usage"): Sample(P.USAGE_READ, "/admin/usage"),
    ("GET", "/admin/audit"): Sample(P.AUDIT_READ, "/admin/audit"),
    ("GET", "/metrics"): Sample(P.METRICS_READ, "/metrics"),
    ("POST", "/openai/deployments/{deployment}/chat/completions"): Sample(
        P.INFERENCE, f"/openai/deployments/{FAKE_MODEL}/chat/completions?{GA}", CHAT
    ),
    ("POST", "/openai/deployments/{deployment}/completions"): Sample(
        P.INFERENCE, f"/openai/deployments/{FAKE_MODEL}/completions?{GA}", {"prompt": "Once"}
    ),
    ("GET", "/openai/models"): Sample(P.INFERENCE, f"/openai/models?{GA}"),
    ("GET", "/openai/deployments"): Sample(
        P.INFERENCE, "/openai/deployments?api-version=2023-03-15-preview"
    ),
    ("POST", "/openai/v1/chat/completions"): Sample(
        P.INFERENCE, "/openai/v1/chat/completions", CHAT
    ),
    ("POST", "/openai/v1/completions"): Sample(
        P.INFERENCE, "/openai/v1/completions", {"model": FAKE_MODEL, "prompt": "Once"}
    ),
    ("GET", "/openai/v1/models"): Sample(P.INFERENCE, "/openai/v1/models"),
}


def guarded_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, served.path)
        for served in served_routes_of(app)
        if served.path not in PUBLIC_PATHS
        for method in served.methods
    }


def test_every_route_has_a_sample_and_a_rule(tmp_path: Path) -> None:
    app = build_app(Settings(engine="fake", model=FAKE_MODEL, data_dir=tmp_path))
    routes = guarded_routes(app)
    assert not routes - set(SAMPLES), "routes without a sample request in SAMPLES"
    assert not set(SAMPLES) - routes, "SAMPLES names routes the app does not have"
    for served in served_routes_of(app):
        declared = route_permission(served.route)
        if served.path in PUBLIC_PATHS:
            assert declared is None, served.path
            continue
        for method in served.methods:
            assert declared == SAMPLES[method, served.path].permission, (method, served.path)


async def test_role_route_matrix(running_app: FastAPI, client: httpx.AsyncClient) -> None:
    await create_deployment(client, "matrix")
    await create_deployment(client, "matrix-doomed")
    await create_policy(client, "matrix")
    await create_policy(client, "matrix-doomed")
    ids = {
        "key": (await create_key(client, "user", name="target"))["id"],
        "doomed_key": (await create_key(client, "user", name="doomed"))["id"],
    }
    secrets = {role: (await create_key(client, role))["key"] for role in ROLES}
    problems: list[str] = []
    served = served_routes_of(running_app)
    assert len(served) >= len(SAMPLES)
    for number, route in enumerate(served):
        if route.path in PUBLIC_PATHS:
            continue
        for method in sorted(route.methods):
            sample = SAMPLES.get((method, route.path))
            assert sample is not None, f"add a line to SAMPLES for {method} {route.path}"
            permission = sample.permission
            assert route_permission(route.route) == permission, (method, route.path)
            path = sample.path.format(**ids)
            # Each anonymous request from its own address, so that the throttle stays out.
            async with client_at(running_app, f"10.0.0.{number}") as anonymous:
                response = await anonymous.request(method, path, json=sample.body)
            azure = path.startswith("/openai/")  # Azure's envelope: codes "401", "PermissionDenied"
            if response.status_code != 401 or response.json()["error"]["code"] != (
                "401" if azure else None
            ):
                problems.append(f"no key: {method} {path} -> {response.status_code}")
            for role in ROLES:
                async with client_for(running_app, secrets[role]) as caller:
                    response = await caller.request(method, path, json=sample.body)
                status = response.status_code
                if permission not in ROLE_PERMISSIONS[role]:
                    denied = status == 403 and response.json()["error"]["code"] == (
                        "PermissionDenied" if azure else "permission_denied"
                    )
                    if not denied:
                        problems.append(f"{role}: {method} {path} -> {status}, expected 403")
                elif status in (401, 403) or status >= 500:
                    problems.append(f"{role}: {method} {path} -> {status} {response.text}")
                elif role is Role.ADMIN and status >= 300:
                    problems.append(f"bad sample? admin: {method} {path} -> {status}")
    assert not problems, "\n".join(problems)


async def test_public_routes_need_no_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).status_code == 200
    assert (await anonymous.get("/readyz")).status_code == 200


async def test_missing_and_unknown_keys_are_401(running_app: FastAPI) -> None:
    async with client_for(running_app) as anonymous:
        missing = await anonymous.get("/v1/models")
    error = assert_openai_error(missing, 401, None, None)
    assert "API key" in error["message"]
    guess = "atr-" + "x" * 43
    async with client_for(running_app, guess) as guesser:
        unknown = await guesser.post("/v1/chat/completions", json=CHAT)
    error = assert_openai_error(unknown, 401, "invalid_api_key", None)
    assert unknown.headers["www-authenticate"].startswith("Bearer")
    assert guess not in error["message"]


async def test_api_key_header_works_like_bearer(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_key(client, "user")
    async with client_for(running_app) as bare:
        models = await bare.get("/v1/models", headers={"api-key": user["key"]})
        chat = await bare.post("/v1/chat/completions", json=CHAT, headers={"api-key": user["key"]})
        wrong = await bare.get("/v1/models", headers={"api-key": user["key"] + "x"})
        denied = await bare.get("/admin/keys", headers={"api-key": user["key"]})
    assert models.status_code == 200 and chat.status_code == 200
    assert_openai_error(wrong, 401, "invalid_api_key", None)
    assert_openai_error(denied, 403, "permission_denied", None)


async def test_revoked_key_is_refused_at_once(
    running_app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_key(client, "user")
    async with client_for(running_app, user["key"]) as caller:
        assert (await caller.post("/v1/chat/completions", json=CHAT)).status_code == 200
        revoked = await client.delete(f"/admin/keys/{user['id']}")
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        refused = await caller.post("/v1/chat/completions", json=CHAT)
    error = assert_openai_error(refused, 401, "invalid_api_key", None)
    assert "revoked" in error["message"]


async def test_expired_key_is_refused(running_app: FastAPI, client: httpx.AsyncClient) -> None:
    expires = (utc_now() + timedelta(hours=1)).isoformat()
    user = await create_key(client, "user", expires_at=expires)
    async with client_for(running_app, user["key"]) as caller:
        assert (await caller.get("/v1/models")).status_code == 200

        def expire(session: Any) -> None:
            session.get(ApiKeyRow, user["id"]).expires_at = utc_now() - timedelta(seconds=1)

        state_of(running_app).db.run_sync(expire)
        refused = await caller.get("/v1/models")
    error = assert_openai_error(refused, 401, "invalid_api_key", None)
    assert "expired" in error["message"]
    assert (await client.get(f"/admin/keys/{user['id']}")).json()["status"] == "expired"


async def test_key_scoped_to_a_deployment(running_app: FastAPI, client: httpx.AsyncClient) -> None:
    await create_deployment(client, "alpha")
    await create_deployment(client, "beta")
    scoped = await create_key(client, "user", deployments=["alpha"])
    async with client_for(running_app, scoped["key"]) as caller:
        allowed = await caller.post(
            "/v1/chat/completions", json={"model": "alpha", "messages": HELLO}
        )
        refused = await caller.post(
            "/v1/chat/completions", json={"model": "beta", "messages": HELLO}
        )
        retrieve = await caller.get("/v1/models/beta")
        models = await caller.get("/v1/models")
    assert allowed.status_code == 200
    assert_openai_error(refused, 403, "permission_denied", "model")
    assert_openai_error(retrieve, 403, "permission_denied", "model")
    assert [card["id"] for card in models.json()["data"]] == ["alpha"]
    reader = await create_key(client, "reader", deployments=["alpha"])
    async with client_for(running_app, reader["key"]) as caller:
        listed = await caller.get("/admin/deployments")
        hidden = await caller.get("/admin/deployments/beta")
    assert [item["name"] for item in listed.json()["data"]] == ["alpha"]
    assert hidden.status_code == 403
    assert hidden.json()["error"]["code"] == "permission_denied"


async def _open() -> dict[str, str]:
    return {}


def test_check_route_rules_refuses_unguarded_routes() -> None:
    included = APIRouter(prefix="/extra")
    included.get("/open")(_open)
    app = FastAPI()
    app.include_router(included)
    with pytest.raises(RuntimeError, match="/extra/open"):
        check_route_rules(app)
    direct = FastAPI()
    direct.get("/direct")(_open)
    with pytest.raises(RuntimeError, match="/direct"):
        check_route_rules(direct)
    fine = FastAPI()
    guarded = APIRouter(prefix="/extra")
    guarded.get("/guarded", dependencies=[Depends(Authorize(Permission.USAGE_READ))])(_open)
    fine.include_router(guarded)
    fine.get("/healthz")(_open)
    check_route_rules(fine)
    assert {served.path for served in served_routes_of(fine)} == {"/extra/guarded", "/healthz"}


async def test_burst_of_bad_keys_slows_down_only_failures(
    running_app: FastAPI, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, result: Any = None) -> Any:
        if delay > 0:
            delays.append(delay)
        await real_sleep(0)
        return result

    monkeypatch.setattr("atrium.api.auth.asyncio.sleep", recording_sleep)

    async def bad_key_from(address: str) -> None:
        async with client_at(running_app, address, "atr-wrong") as guesser:
            assert (await guesser.get("/v1/models")).status_code == 401

    for _ in range(5):  # the first failures are free
        await bad_key_from("192.0.2.1")
    assert delays == []
    for _ in range(3):
        await bad_key_from("192.0.2.1")
    assert len(delays) == 3 and 0 < delays[0] < delays[1] < delays[2]
    async with client_at(running_app, "192.0.2.1", admin_key) as admin:
        assert (await admin.post("/v1/chat/completions", json=CHAT)).status_code == 200
        metrics = (await admin.get("/metrics")).text
    assert len(delays) == 3, "a valid key must be answered without delay"
    assert "atrium_auth_failures_delayed_total 3.0" in metrics
    await bad_key_from("198.51.100.7")  # another client is not slowed down
    assert len(delays) == 3
    await bad_key_from("192.0.2.1")
    assert len(delays) == 4 and delays[3] > delays[2]
