"""Every bad request gets OpenAI's error envelope, the right status and the right param."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atrium.engines.fake import FakeEngine
from tests.api.conftest import FAKE_CONTEXT, FAKE_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def assert_openai_error(
    response: httpx.Response, status: int, code: str | None, param: str | None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["code"] == code
    assert error["param"] == param
    return dict(error)


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        content=b'{"model": "fake-model", "messages": [',
        headers={"content-type": "application/json"},
    )
    error = assert_openai_error(response, 400, None, None)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b""])
async def test_body_that_is_not_an_object_is_400(client: httpx.AsyncClient, payload: bytes) -> None:
    response = await client.post(
        "/v1/chat/completions", content=payload, headers={"content-type": "application/json"}
    )
    assert_openai_error(response, 400, None, None)


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": FAKE_MODEL}, "missing_required_parameter", "messages"),
        ({"messages": HELLO}, "missing_required_parameter", "model"),
        ({"model": FAKE_MODEL, "messages": []}, "invalid_value", "messages"),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "temperature": 3},
            "invalid_value",
            "temperature",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "temperature": "hot"},
            "invalid_value",
            "temperature",
        ),
        ({"model": FAKE_MODEL, "messages": HELLO, "top_p": 1.5}, "invalid_value", "top_p"),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "presence_penalty": -3},
            "invalid_value",
            "presence_penalty",
        ),
        ({"model": FAKE_MODEL, "messages": HELLO, "max_tokens": 0}, "invalid_value", "max_tokens"),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "max_completion_tokens": -1},
            "invalid_value",
            "max_completion_tokens",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]},
            "invalid_value",
            "stop",
        ),
        ({"model": FAKE_MODEL, "messages": HELLO, "stop": [""]}, "invalid_value", "stop"),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "stream_options": {"include_usage": True}},
            "invalid_value",
            "stream_options",
        ),
        (
            {"model": FAKE_MODEL, "messages": [{"role": "robot", "content": "x"}]},
            "invalid_value",
            "messages[0].role",
        ),
        (
            {"model": FAKE_MODEL, "messages": [{"content": "x"}]},
            "missing_required_parameter",
            "messages[0].role",
        ),
        (
            {"model": FAKE_MODEL, "messages": [{"role": "user", "content": 5}]},
            "invalid_value",
            "messages[0].content",
        ),
        (
            {"model": FAKE_MODEL, "messages": [{"role": "user", "content": None}]},
            "invalid_value",
            "messages[0].content",
        ),
        (
            {"model": FAKE_MODEL, "messages": [{"role": "user", "content": "x", "colour": 1}]},
            "unknown_parameter",
            "messages[0].colour",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "frobnicate": True},
            "unknown_parameter",
            "frobnicate",
        ),
        ({"model": FAKE_MODEL, "messages": HELLO, "n": 0}, "invalid_value", "n"),
        ({"model": FAKE_MODEL, "messages": HELLO, "n": 17}, "invalid_value", "n"),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "logprobs": True, "top_logprobs": 21},
            "invalid_value",
            "top_logprobs",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "top_logprobs": 2},
            "invalid_value",
            "top_logprobs",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "logit_bias": {"abc": 5}},
            "invalid_value",
            "logit_bias",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "logit_bias": {"42": 101}},
            "invalid_value",
            "logit_bias",
        ),
        ({"model": FAKE_MODEL, "messages": HELLO, "top_k": -1}, "invalid_value", "top_k"),
        ({"model": FAKE_MODEL, "messages": HELLO, "min_p": 1.5}, "invalid_value", "min_p"),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "repetition_penalty": 0},
            "invalid_value",
            "repetition_penalty",
        ),
        (
            {"model": FAKE_MODEL, "messages": HELLO, "response_format": {"type": "xml"}},
            "invalid_value",
            "response_format.type",
        ),
        (
            {
                "model": FAKE_MODEL,
                "messages": HELLO,
                "tools": [
                    {"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}
                ],
            },
            "invalid_value",
            "tools[0].function.parameters",
        ),
        (
            {
                "model": FAKE_MODEL,
                "messages": [{"role": "tool", "content": "4", "tool_call_id": "c1"}],
            },
            "invalid_value",
            "messages[0].tool_call_id",
        ),
        (
            {
                "model": FAKE_MODEL,
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ],
            },
            "unsupported_parameter",
            "messages[0].content[0].type",
        ),
    ],
)
async def test_invalid_chat_requests_name_the_param(
    client: httpx.AsyncClient, fake_engine: FakeEngine, body: dict[str, Any], code: str, param: str
) -> None:
    response = await client.post("/v1/chat/completions", json=body)
    error = assert_openai_error(response, 400, code, param)
    assert error["type"] == "invalid_request_error"
    assert fake_engine.requests == []  # rejected before any engine work


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        (
            "/v1/chat/completions",
            '{"model": "fake-model", "messages": [{"role": "user", "content": "a\\ud800"}]}',
            "messages[0].content",
        ),
        (
            "/v1/chat/completions",
            '{"model": "fake-model", "messages": [], "stop": "\\udfff"}',
            "stop",
        ),
        ("/v1/completions", '{"model": "fake-model", "prompt": "\\ud83d"}', "prompt"),
        ("/v1/completions", '{"model": "\\ud83d", "prompt": "x"}', "model"),
        ("/v1/completions", '{"model": "fake-model", "prompt": "x", "user": "\\ud83d"}', "user"),
        (
            "/v1/completions",
            '{"model": "fake-model", "prompt": "x", "best_of": {"\\ud83d": 1}}',
            "best_of",
        ),
    ],
)
async def test_unpaired_surrogates_are_refused(
    client: httpx.AsyncClient, route: str, body: str, param: str
) -> None:
    response = await client.post(route, content=body, headers={"content-type": "application/json"})
    assert_openai_error(response, 400, "invalid_value", param)


async def test_neutral_values_of_unsupported_parameters_pass(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": FAKE_MODEL,
            "messages": HELLO,
            "n": 1,
            "logprobs": False,
            "response_format": {"type": "text"},
            "store": False,
        },
    )
    assert response.status_code == 200, response.text


async def test_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": "gpt-17", "messages": HELLO}
    )
    error = assert_openai_error(response, 404, "model_not_found", "model")
    assert "gpt-17" in error["message"]


async def test_prompt_longer_than_context_is_400(client: httpx.AsyncClient) -> None:
    long_text = "word " * (FAKE_CONTEXT + 10)
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": [{"role": "user", "content": long_text}]},
    )
    error = assert_openai_error(response, 400, "context_length_exceeded", "messages")
    assert str(FAKE_CONTEXT) in error["message"]


async def test_prompt_plus_max_tokens_over_context_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": FAKE_MODEL, "messages": HELLO, "max_tokens": FAKE_CONTEXT},
    )
    assert_openai_error(response, 400, "context_length_exceeded", "messages")


async def test_streaming_errors_before_the_stream_starts_keep_their_status(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": "nope", "messages": HELLO, "stream": True}
    )
    assert_openai_error(response, 404, "model_not_found", "model")
    assert response.headers["content-type"].startswith("application/json")


async def test_engine_not_ready_is_503(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    fake_engine.ready = False
    response = await client.post(
        "/v1/chat/completions", json={"model": FAKE_MODEL, "messages": HELLO}
    )
    error = assert_openai_error(response, 503, "engine_unavailable", None)
    assert error["type"] == "server_error"


async def test_unknown_route_and_wrong_method_use_the_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.post("/v1/nothing-here", json={})
    assert_openai_error(missing, 404, None, None)
    assert "/v1/nothing-here" in missing.json()["error"]["message"]
    wrong_method = await client.get("/v1/chat/completions")
    assert_openai_error(wrong_method, 405, None, None)
