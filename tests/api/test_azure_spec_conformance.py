"""Atrium's Azure answers validated against Microsoft's published inference specs
(``tests/fixtures/azure/``: 2024-10-21 GA and 2025-04-01-preview)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import FAKE_MODEL
from tests.api.sse import parse_sse
from tests.azure_spec import validate_azure_response, validate_azure_schema

SPEC_VERSIONS = ("2024-10-21", "2025-04-01-preview")
CHAT = "/deployments/{deployment-id}/chat/completions"
COMPLETIONS = "/deployments/{deployment-id}/completions"
MESSAGES = [{"role": "user", "content": "Hello"}]


def path(template: str) -> str:
    return "/openai" + template.replace("{deployment-id}", FAKE_MODEL)


@pytest.mark.parametrize("version", SPEC_VERSIONS)
async def test_chat_completion_matches_the_spec(client: httpx.AsyncClient, version: str) -> None:
    response = await client.post(
        path(CHAT),
        params={"api-version": version},
        json={"messages": MESSAGES, "max_tokens": 5, "logprobs": True, "top_logprobs": 2},
    )
    assert response.status_code == 200
    validate_azure_response(version, CHAT, "post", 200, response.json())


@pytest.mark.parametrize("version", SPEC_VERSIONS)
async def test_stream_chunks_match_the_spec(client: httpx.AsyncClient, version: str) -> None:
    response = await client.post(
        path(CHAT), params={"api-version": version}, json={"messages": MESSAGES, "stream": True}
    )
    events, done = parse_sse(response.text)
    assert done and events
    # The first frame is the prompt annotation exactly as the live service sends it
    # (``"object": ""``, no choices), which the published specs do not describe.
    annotation, *chunks = events
    assert annotation["object"] == "" and annotation["choices"] == []
    assert annotation["prompt_filter_results"][0]["prompt_index"] == 0
    assert chunks
    for event in chunks:
        validate_azure_schema(version, "createChatCompletionStreamResponse", event)


@pytest.mark.parametrize("version", SPEC_VERSIONS)
async def test_completion_matches_the_spec(client: httpx.AsyncClient, version: str) -> None:
    response = await client.post(
        path(COMPLETIONS),
        params={"api-version": version},
        json={"prompt": "Once upon", "max_tokens": 4, "logprobs": 2},
    )
    assert response.status_code == 200
    validate_azure_response(version, COMPLETIONS, "post", 200, response.json())


@pytest.mark.parametrize("version", SPEC_VERSIONS)
async def test_errors_match_the_spec(client: httpx.AsyncClient, version: str) -> None:
    bad_value = await client.post(
        path(CHAT), params={"api-version": version}, json={"messages": MESSAGES, "n": 99}
    )
    unknown = await client.post(
        "/openai/deployments/nope/chat/completions",
        params={"api-version": version},
        json={"messages": MESSAGES},
    )
    for response in (bad_value, unknown):
        # live_form: the service sends null type/param/code where the spec says string.
        validate_azure_response(
            version, CHAT, "post", response.status_code, response.json(), live_form=True
        )
        assert response.json()["error"]["message"]
