"""The Azure OpenAI dialect, golden: bodies and headers compared field by field with the
wire format recorded in ``../shared/reference/azure-openai.md``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from atrium.api.azure.versions import API_VERSIONS
from atrium.engines.fake import FakeEngine
from tests.api.conftest import FAKE_MODEL, client_for
from tests.api.sse import parse_sse

GA = "2024-10-21"
CHAT_PATH = f"/openai/deployments/{FAKE_MODEL}/chat/completions"
MESSAGES = [{"role": "user", "content": "Hello"}]
UNRECOGNIZED = (
    "Unrecognized request argument supplied: {}. Please contact us through an Azure support "
    "request at: https://go.microsoft.com/fwlink/?linkid=2213926 for further questions."
)


async def chat(client: httpx.AsyncClient, version: str | None = GA, **body: Any) -> httpx.Response:
    params = {"api-version": version} if version else {}
    return await client.post(CHAT_PATH, params=params, json={"messages": MESSAGES, **body})


async def test_classic_chat_ignores_the_body_model_and_names_the_model(
    client: httpx.AsyncClient,
) -> None:
    response = await chat(client, model="whatever-the-app-says", max_tokens=4)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == FAKE_MODEL
    assert body["choices"][0]["message"]["role"] == "assistant"
    # The quick-start deployment has the default policy: annotated as Azure does.
    [prompt] = body["prompt_filter_results"]
    assert prompt["prompt_index"] == 0
    assert prompt["content_filter_results"]["jailbreak"] == {"filtered": False, "detected": False}
    assert body["choices"][0]["content_filter_results"]["violence"] == {
        "filtered": False,
        "severity": "safe",
    }


async def test_azure_headers_on_answers_and_errors(client: httpx.AsyncClient) -> None:
    for response in (await chat(client, max_tokens=2), await chat(client, version=None)):
        assert response.headers["apim-request-id"] == response.headers["x-request-id"]
        assert response.headers["x-ms-region"] == "local"
    openai_side = await client.get("/v1/models")
    assert "apim-request-id" not in openai_side.headers


async def test_missing_api_version_is_azures_404_saying_what_is_missing(
    client: httpx.AsyncClient,
) -> None:
    response = await chat(client, version=None)
    assert response.status_code == 404
    error = response.json()["error"]
    assert set(error) == {"code", "message"}
    assert error["code"] == "404"
    assert error["message"].startswith("Resource not found")
    assert "api-version" in error["message"]


async def test_unknown_api_version_lists_the_supported_ones(client: httpx.AsyncClient) -> None:
    response = await chat(client, version="2031-01-01")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert "'2031-01-01'" in error["message"]
    assert all(version in error["message"] for version in API_VERSIONS)


async def test_unknown_deployment_is_deployment_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/openai/deployments/nope/chat/completions",
        params={"api-version": GA},
        json={"messages": MESSAGES},
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created "
            "the deployment within the last 5 minutes, please wait a moment and try again.",
        }
    }


async def test_keys_are_checked_with_azures_401(running_app: FastAPI) -> None:
    async with client_for(running_app) as anonymous:
        missing = await chat(anonymous)
    async with client_for(running_app, "atr-not-a-key") as wrong:
        bad = await chat(wrong)
    assert (missing.status_code, bad.status_code) == (401, 401)
    assert missing.json()["error"] == {
        "code": "401",
        "message": "Access denied due to missing subscription key. Make sure to include "
        "subscription key when making requests to an API.",
    }
    assert bad.json()["error"] == {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make "
        "sure to provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    }


async def test_api_key_header_works(running_app: FastAPI, admin_key: str) -> None:
    transport = httpx.ASGITransport(app=running_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://atrium", headers={"api-key": admin_key}
    ) as client:
        assert (await chat(client, max_tokens=2)).status_code == 200


@pytest.mark.parametrize(
    ("argument", "value", "too_old", "new_enough"),
    [
        ("max_completion_tokens", 4, "2024-06-01", "2024-09-01-preview"),
        ("stream_options", {"include_usage": True}, "2024-06-01", "2024-10-21"),
        ("seed", 7, "2023-05-15", "2024-02-01"),
        ("top_k", 5, GA, None),  # an Atrium extension Azure never had
    ],
)
async def test_arguments_newer_than_the_api_version_are_unrecognized(
    client: httpx.AsyncClient, argument: str, value: Any, too_old: str, new_enough: str | None
) -> None:
    extra = {"stream": True} if argument == "stream_options" else {}
    rejected = await chat(client, version=too_old, max_tokens=2, **extra, **{argument: value})
    assert rejected.status_code == 400
    assert rejected.json() == {
        "error": {
            "message": UNRECOGNIZED.format(argument),
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    if new_enough is not None:
        accepted = await chat(client, version=new_enough, **extra, **{argument: value})
        assert accepted.status_code == 200, accepted.text


async def test_include_usage_streams_a_usage_chunk(client: httpx.AsyncClient) -> None:
    response = await chat(
        client,
        version="2025-04-01-preview",
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    events, done = parse_sse(response.text)
    assert done
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == 3
    assert events[0]["prompt_filter_results"] and events[0]["choices"] == []


async def test_invalid_values_get_the_model_services_400(client: httpx.AsyncClient) -> None:
    response = await chat(client, temperature=5)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", "temperature")
    malformed = await client.post(
        CHAT_PATH,
        params={"api-version": GA},
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["type"] == "invalid_request_error"


async def test_overloaded_engine_is_azures_429_with_retry_hints(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    fake_engine.max_active = 0
    response = await chat(client, max_tokens=2)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "429"  # a string, as Azure sends it
    assert error["message"].endswith("Please retry after 2 seconds.")
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "2000"


async def test_chat_does_not_exist_before_2023_05_15(client: httpx.AsyncClient) -> None:
    response = await chat(client, version="2022-12-01")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "404")
    completion = await client.post(
        f"/openai/deployments/{FAKE_MODEL}/completions",
        params={"api-version": "2022-12-01"},
        json={"prompt": "Once", "max_tokens": 3},
    )
    assert completion.status_code == 200
    assert completion.json()["object"] == "text_completion"


async def test_models_are_listed_as_azure_does(client: httpx.AsyncClient) -> None:
    body = (await client.get("/openai/models", params={"api-version": GA})).json()
    assert body["object"] == "list"
    [model] = body["data"]
    assert model["id"] == FAKE_MODEL
    assert model["object"] == "model"
    assert isinstance(model["created_at"], int) and "created" not in model
    assert model["capabilities"]["chat_completion"] is True
    assert model["lifecycle_status"] == "generally-available"


async def test_deployments_listing_only_in_the_old_previews(client: httpx.AsyncClient) -> None:
    old = await client.get("/openai/deployments", params={"api-version": "2023-03-15-preview"})
    assert old.status_code == 200
    [deployment] = old.json()["data"]
    assert (deployment["id"], deployment["model"], deployment["object"]) == (
        FAKE_MODEL, FAKE_MODEL, "deployment",
    )  # fmt: skip
    gone = await client.get("/openai/deployments", params={"api-version": GA})
    assert gone.status_code == 404


async def test_v1_routes_take_the_deployment_from_model(client: httpx.AsyncClient) -> None:
    body = {"model": FAKE_MODEL, "messages": MESSAGES, "max_tokens": 2}
    for params in ({}, {"api-version": "v1"}, {"api-version": "preview"}):
        response = await client.post("/openai/v1/chat/completions", params=params, json=body)
        assert response.status_code == 200, response.text
    wrong = await client.post("/openai/v1/chat/completions", params={"api-version": GA}, json=body)
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (400, "BadRequest")
    models = (await client.get("/openai/v1/models")).json()
    assert [card["id"] for card in models["data"]] == [FAKE_MODEL]
    unknown = await client.post("/openai/v1/chat/completions", json={**body, "model": "nope"})
    assert unknown.json()["error"]["code"] == "DeploymentNotFound"


async def test_unknown_azure_route_is_azures_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/openai/nothing-here", params={"api-version": GA})
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "404", "message": "Resource not found"}}
