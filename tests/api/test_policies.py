"""Content policies, managed through /admin/policies and named by deployments.

Stored only: no request is filtered by them yet (the content-filtering pipeline comes next).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.conftest import FAKE_MODEL
from tests.api.helpers import create_deployment, create_policy
from tests.api.test_errors import assert_openai_error

PII_TYPES = ("email", "phone", "payment_card", "iban", "national_id", "ip_address", "secret")
DEFAULTS: dict[str, Any] = {
    "hate": {"prompt": "medium", "completion": "medium"},
    "sexual": {"prompt": "medium", "completion": "medium"},
    "violence": {"prompt": "medium", "completion": "medium"},
    "self_harm": {"prompt": "medium", "completion": "medium"},
    "mode": "block",
    "jailbreak": True,
    "indirect_attack": False,
    "profanity": "annotate",
    "pii": dict.fromkeys(PII_TYPES, "off"),
    "blocklists": [],
    "on_classifier_error": "fail_open",
    "stream_window_chars": 100,
}
STRICT: dict[str, Any] = {
    "hate": {"prompt": "low", "completion": "low"},
    "jailbreak": False,
    "pii": {"email": "redact"},
    "blocklists": [
        {"name": "internal", "terms": ["Project Falcon"], "patterns": [r"\bACME-\d{4}\b"]}
    ],
}


async def names(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/admin/policies")
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["data"]]


async def test_builtin_default_is_always_listed_and_readable(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/admin/policies")).json()
    assert listed["object"] == "list"
    [builtin] = listed["data"]
    assert builtin["name"] == "default" and builtin["builtin"] is True
    assert builtin["settings"] == DEFAULTS
    assert builtin["created_at"] is None and builtin["description"]
    assert (await client.get("/admin/policies/default")).json() == builtin


async def test_created_policy_is_stored_with_its_defaults_filled_in(
    client: httpx.AsyncClient,
) -> None:
    created = await create_policy(client, "strict", description="HR bots", settings=STRICT)
    assert created["name"] == "strict" and created["builtin"] is False
    assert created["description"] == "HR bots"
    assert created["created_at"] == created["updated_at"]
    expected = {
        **DEFAULTS,
        **STRICT,
        "pii": {**DEFAULTS["pii"], "email": "redact"},
    }
    assert created["settings"] == expected
    assert (await client.get("/admin/policies/strict")).json() == created
    await create_policy(client, "lenient")
    listed = (await client.get("/admin/policies")).json()["data"]
    assert [item["name"] for item in listed] == ["default", "lenient", "strict"]
    assert listed[1]["settings"] == DEFAULTS and listed[1]["description"] == ""


async def test_duplicate_name_is_409(client: httpx.AsyncClient) -> None:
    await create_policy(client, "strict", settings=STRICT)
    again = await client.post("/admin/policies", json={"name": "strict"})
    assert_openai_error(again, 409, "conflict", "name")
    shown = (await client.get("/admin/policies/strict")).json()
    assert shown["settings"]["jailbreak"] is False


async def test_concurrent_creations_of_one_name_give_one_201(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(client.post("/admin/policies", json={"name": "race"}) for _ in range(4))
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409]


def _settings(**fields: Any) -> dict[str, Any]:
    return {"name": "bad", "settings": fields}


def _blocklist(**fields: Any) -> dict[str, Any]:
    return _settings(blocklists=[{"name": "list", **fields}])


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"name": "bad name!"}, "invalid_value", "name"),
        ({"name": "-dash-first"}, "invalid_value", "name"),
        ({"name": "x" * 65}, "invalid_value", "name"),
        ({"name": "default"}, "invalid_value", "name"),
        ({"description": "no name"}, "missing_required_parameter", "name"),
        ({"name": "bad", "owner": "me"}, "unknown_parameter", "owner"),
        (_settings(hate={"prompt": "extreme"}), "invalid_value", "settings.hate.prompt"),
        (_settings(violence={"both": "low"}), "unknown_parameter", "settings.violence.both"),
        (_settings(colour="red"), "unknown_parameter", "settings.colour"),
        (_settings(mode="silent"), "invalid_value", "settings.mode"),
        (_settings(profanity="redact"), "invalid_value", "settings.profanity"),
        (_settings(on_classifier_error="retry"), "invalid_value", "settings.on_classifier_error"),
        (_settings(stream_window_chars=0), "invalid_value", "settings.stream_window_chars"),
        (_settings(stream_window_chars=4001), "invalid_value", "settings.stream_window_chars"),
        (_settings(pii={"email": "hide"}), "invalid_value", "settings.pii.email"),
        (_settings(pii={"passport": "block"}), "unknown_parameter", "settings.pii.passport"),
        (
            _settings(blocklists=[{"terms": ["x"]}]),
            "missing_required_parameter",
            "settings.blocklists[0].name",
        ),
        (_blocklist(name="bad name"), "invalid_value", "settings.blocklists[0].name"),
        (_blocklist(terms=[""]), "invalid_value", "settings.blocklists[0].terms[0]"),
        (_blocklist(terms=["ok", "  "]), "invalid_value", "settings.blocklists[0].terms[1]"),
        (_blocklist(terms=["x" * 1001]), "invalid_value", "settings.blocklists[0].terms[0]"),
        (_blocklist(patterns=["(unclosed"]), "invalid_value", "settings.blocklists[0].patterns[0]"),
        (_blocklist(patterns=["a*"]), "invalid_value", "settings.blocklists[0].patterns[0]"),
        # RE2 syntax: a backreference could backtrack catastrophically, so it is refused.
        (_blocklist(patterns=[r"(a)\1"]), "invalid_value", "settings.blocklists[0].patterns[0]"),
        (
            _settings(blocklists=[{"name": "twice"}, {"name": "twice"}]),
            "invalid_value",
            "settings.blocklists",
        ),
        ({"name": "bad", "settings": "strict"}, "invalid_value", "settings"),
    ],
)
async def test_invalid_policy_is_400(
    client: httpx.AsyncClient, body: dict[str, Any], code: str, param: str
) -> None:
    response = await client.post("/admin/policies", json=body)
    assert_openai_error(response, 400, code, param)
    assert await names(client) == ["default"]


async def test_blocklist_items_are_limited_per_policy(client: httpx.AsyncClient) -> None:
    terms = [f"term-{number}" for number in range(5000)]
    full = [{"name": "a", "terms": terms}, {"name": "b", "terms": terms[:4999], "patterns": ["z"]}]
    await create_policy(client, "full", settings={"blocklists": full})
    over = [*full, {"name": "c", "terms": ["one more"]}]
    response = await client.post("/admin/policies", json=_settings(blocklists=over))
    error = assert_openai_error(response, 400, "invalid_value", "settings.blocklists")
    assert "at most 10000" in error["message"] and "10001" in error["message"]
    assert len(error["message"]) < 600  # the 10,001 terms are not echoed back
    assert await names(client) == ["default", "full"]


async def test_patch_replaces_top_level_settings_fields(client: httpx.AsyncClient) -> None:
    created = await create_policy(client, "strict", description="v1", settings=STRICT)
    patched = await client.patch(
        "/admin/policies/strict",
        json={"settings": {"hate": {"prompt": "high"}, "pii": {"phone": "block"}}},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    settings = body["settings"]
    # The given fields are replaced whole; the others are kept.
    assert settings["hate"] == {"prompt": "high", "completion": "medium"}
    assert settings["pii"] == {**DEFAULTS["pii"], "phone": "block"}
    assert settings["jailbreak"] is False and settings["blocklists"] == STRICT["blocklists"]
    assert body["description"] == "v1" and body["created_at"] == created["created_at"]
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(
        created["updated_at"]
    )
    assert (await client.get("/admin/policies/strict")).json() == body
    described = await client.patch("/admin/policies/strict", json={"description": "v2"})
    assert described.json()["description"] == "v2"
    assert described.json()["settings"] == settings


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({}, "invalid_value", None),
        ({"settings": {}}, "invalid_value", None),
        ({"name": "renamed"}, "unknown_parameter", "name"),
        ({"description": None}, "invalid_value", None),
        ({"settings": None}, "invalid_value", None),
        ({"settings": {"mode": "loud"}}, "invalid_value", "settings.mode"),
        ({"settings": {"extra": 1}}, "unknown_parameter", "settings.extra"),
    ],
)
async def test_invalid_patch_is_400_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], code: str, param: str | None
) -> None:
    created = await create_policy(client, "strict", description="as made", settings=STRICT)
    response = await client.patch("/admin/policies/strict", json=body)
    assert_openai_error(response, 400, code, param)
    assert (await client.get("/admin/policies/strict")).json() == created


async def test_builtin_default_cannot_be_changed_or_deleted(client: httpx.AsyncClient) -> None:
    builtin = (await client.get("/admin/policies/default")).json()
    for response in (
        await client.post("/admin/policies", json={"name": "default", "description": "mine"}),
        await client.patch("/admin/policies/default", json={"description": "mine"}),
        await client.delete("/admin/policies/default"),
    ):
        error = assert_openai_error(response, 400, "invalid_value", "name")
        assert "built-in policy" in error["message"]
    assert (await client.get("/admin/policies/default")).json() == builtin
    assert await names(client) == ["default"]


async def test_unknown_policy_is_404(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/admin/policies/nowhere"),
        await client.patch("/admin/policies/nowhere", json={"description": "x"}),
        await client.delete("/admin/policies/nowhere"),
    ):
        assert_openai_error(response, 404, "not_found", None)


async def test_deployments_name_existing_policies_only(client: httpx.AsyncClient) -> None:
    refused = await client.post(
        "/admin/deployments", json={"name": "bot", "model": FAKE_MODEL, "content_policy": "ghost"}
    )
    error = assert_openai_error(refused, 400, "invalid_value", "content_policy")
    assert "'ghost'" in error["message"]
    assert_openai_error(await client.get("/admin/deployments/bot"), 404, "not_found", None)
    bot = await create_deployment(client, "bot", content_policy="default")
    assert bot["content_policy"] == "default"
    assert (await create_deployment(client, "plain"))["content_policy"] == "default"
    unfiltered = await create_deployment(client, "unfiltered", content_policy=None)
    assert unfiltered["content_policy"] is None
    await create_policy(client, "strict")
    patched = await client.patch("/admin/deployments/bot", json={"content_policy": "strict"})
    assert patched.status_code == 200 and patched.json()["content_policy"] == "strict"
    ghost = await client.patch("/admin/deployments/bot", json={"content_policy": "ghost"})
    assert_openai_error(ghost, 400, "invalid_value", "content_policy")
    assert (await client.get("/admin/deployments/bot")).json()["content_policy"] == "strict"
    cleared = await client.patch("/admin/deployments/bot", json={"content_policy": None})
    assert cleared.status_code == 200 and cleared.json()["content_policy"] is None


async def test_policy_in_use_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    await create_policy(client, "strict")
    await create_deployment(client, "b-bot", content_policy="strict")
    await create_deployment(client, "a-bot", content_policy="strict")
    refused = await client.delete("/admin/policies/strict")
    error = assert_openai_error(refused, 409, "conflict", None)
    assert "a-bot, b-bot" in error["message"]
    assert (await client.get("/admin/policies/strict")).status_code == 200
    await client.patch("/admin/deployments/a-bot", json={"content_policy": "default"})
    await client.delete("/admin/deployments/b-bot")
    deleted = await client.delete("/admin/policies/strict")
    assert deleted.status_code == 200 and deleted.json() == {"name": "strict", "deleted": True}
    assert_openai_error(await client.get("/admin/policies/strict"), 404, "not_found", None)
    again = await client.patch("/admin/deployments/a-bot", json={"content_policy": "strict"})
    assert_openai_error(again, 400, "invalid_value", "content_policy")
    assert (await create_policy(client, "strict"))["settings"] == DEFAULTS  # the name is free


async def test_policy_changes_are_audited(client: httpx.AsyncClient) -> None:
    await create_policy(client, "audited", description="v1", settings={"mode": "annotate"})
    await client.patch("/admin/policies/audited", json={"settings": {"profanity": "block"}})
    assert (await client.patch("/admin/policies/audited", json={})).status_code == 400
    assert (await client.delete("/admin/policies/default")).status_code == 400
    await client.delete("/admin/policies/audited")
    events = (await client.get("/admin/audit")).json()["data"]
    mine = [event for event in events if event["target_type"] == "policy"]
    assert [event["action"] for event in mine] == [
        "policy.delete",
        "policy.update",
        "policy.create",
    ]
    delete, update, create = mine
    assert {event["target_id"] for event in mine} == {"audited"}
    assert create["before"] is None and create["after"]["settings"]["mode"] == "annotate"
    assert create["after"]["description"] == "v1"
    assert update["before"]["settings"]["profanity"] == "annotate"
    assert update["after"]["settings"]["profanity"] == "block"
    assert update["after"]["settings"]["mode"] == "annotate"
    assert delete["before"] == update["after"] and delete["after"] is None
