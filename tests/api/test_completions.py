"""Legacy text completions (``POST /v1/completions``)."""

from __future__ import annotations

import httpx
import pytest

from atrium.config import Settings
from atrium.engines.fake import FakeEngine, fake_tokenize
from tests.api.conftest import FAKE_MODEL
from tests.api.sse import parse_sse
from tests.api.test_errors import assert_openai_error


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Generation mechanics, token by token: the quick-start deployment is not filtered here
    (content filtering is tested in test_content_filter.py)."""
    return settings.model_copy(update={"default_content_policy": None})


async def test_text_completion_shape(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    response = await client.post(
        "/v1/completions", json={"model": FAKE_MODEL, "prompt": "Once upon a time"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    [choice] = body["choices"]
    assert choice == {
        "text": " and then Once upon a time",
        "index": 0,
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert body["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": 6,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    assert fake_engine.requests[0].prompt == "Once upon a time"
    assert fake_engine.requests[0].sampling.max_tokens == 16  # OpenAI's legacy default


async def test_prompt_as_a_one_element_list(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/completions", json={"model": FAKE_MODEL, "prompt": ["a b"], "max_tokens": 2}
    )
    body = response.json()
    assert body["choices"][0]["text"] == " and then"
    assert body["choices"][0]["finish_reason"] == "length"


async def test_streamed_text_completion(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/completions",
        json={
            "model": FAKE_MODEL,
            "prompt": "one two three",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    events, done = parse_sse(response.text)
    assert done
    assert {event["object"] for event in events} == {"text_completion"}
    text = "".join(event["choices"][0]["text"] for event in events[:-1])
    assert text == " and then one two three"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == len(fake_tokenize(text))


@pytest.mark.parametrize(
    ("prompt", "code"),
    [
        (["a", "b"], "unsupported_parameter"),
        ([1, 2, 3], "unsupported_parameter"),
        ([], "invalid_value"),
    ],
)
async def test_unsupported_prompt_forms(
    client: httpx.AsyncClient, prompt: object, code: str
) -> None:
    response = await client.post("/v1/completions", json={"model": FAKE_MODEL, "prompt": prompt})
    assert_openai_error(response, 400, code, "prompt")


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"echo": True}, "echo"), ({"best_of": 3}, "best_of"), ({"suffix": "x"}, "suffix")],
)
async def test_unsupported_completion_parameters(
    client: httpx.AsyncClient, extra: dict[str, object], param: str
) -> None:
    response = await client.post(
        "/v1/completions", json={"model": FAKE_MODEL, "prompt": "x", **extra}
    )
    assert_openai_error(response, 400, "unsupported_parameter", param)


async def test_missing_prompt(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/completions", json={"model": FAKE_MODEL})
    assert_openai_error(response, 400, "missing_required_parameter", "prompt")
