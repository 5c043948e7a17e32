"""Applications written for Azure OpenAI, unchanged but for the endpoint and the key.

The official ``AzureOpenAI`` client against a real ``atrium serve`` with the real model,
for an old GA, the newest GA and a recent preview api-version.
"""

from __future__ import annotations

from pathlib import Path

import openai
import pytest
from openai import AzureOpenAI, OpenAI

from tests.e2e.conftest import DEFAULT_MODEL, RunningServer

pytestmark = pytest.mark.e2e

VERSIONS = ("2023-05-15", "2024-10-21", "2025-04-01-preview")
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def azure(server: RunningServer, version: str, **options: object) -> AzureOpenAI:
    credentials = options or {"api_key": server.api_key}
    return AzureOpenAI(
        azure_endpoint=server.base_url, api_version=version, max_retries=0, **credentials
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_chat_streaming_and_completions(server: RunningServer, version: str) -> None:
    client = azure(server, version)
    answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=QUESTION, max_tokens=8)
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.completion_tokens > 0

    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model=DEFAULT_MODEL, messages=QUESTION, max_tokens=8, stream=True
        )
        if chunk.choices
    ]
    assert "".join(pieces)

    text = client.completions.create(model=DEFAULT_MODEL, prompt="Once upon a time", max_tokens=5)
    assert text.choices[0].text
    assert text.usage is not None
    finished_early = text.choices[0].finish_reason == "stop"
    assert text.usage.completion_tokens == 5 or (
        finished_early and text.usage.completion_tokens < 5
    )


def test_models_lists_the_served_model(server: RunningServer) -> None:
    models = azure(server, "2024-10-21").models.list()
    assert DEFAULT_MODEL in [model.id for model in models]


def test_usage_in_streams_from_the_version_that_has_it(server: RunningServer) -> None:
    chunks = list(
        azure(server, "2025-04-01-preview").chat.completions.create(
            model=DEFAULT_MODEL,
            messages=QUESTION,
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None
    assert 1 <= usage.completion_tokens <= 4  # the model may end its answer before max_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    with pytest.raises(openai.BadRequestError) as too_old:
        azure(server, "2024-06-01").chat.completions.create(
            model=DEFAULT_MODEL,
            messages=QUESTION,
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
    assert "Unrecognized request argument supplied: stream_options" in str(too_old.value)


def test_errors_are_azures(server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        azure(server, "2024-10-21").chat.completions.create(
            model="no-such-deployment", messages=QUESTION, max_tokens=4
        )
    assert missing.value.body == {
        "code": "DeploymentNotFound",
        "message": "The API deployment for this resource does not exist. If you created the "
        "deployment within the last 5 minutes, please wait a moment and try again.",
    }
    bad_key = AzureOpenAI(
        azure_endpoint=server.base_url, api_version="2024-10-21", api_key="wrong", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as denied:
        bad_key.chat.completions.create(model=DEFAULT_MODEL, messages=QUESTION, max_tokens=4)
    assert denied.value.body["code"] == "401"  # type: ignore[index]
    assert denied.value.response.headers["apim-request-id"]


def test_entra_style_bearer_token(server: RunningServer) -> None:
    client = azure(server, "2024-10-21", azure_ad_token_provider=lambda: server.api_key)
    answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=QUESTION, max_tokens=4)
    assert answer.choices[0].message.content


def test_openai_client_on_the_v1_routes(server: RunningServer) -> None:
    client = OpenAI(base_url=f"{server.base_url}/openai/v1/", api_key=server.api_key)
    answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=QUESTION, max_tokens=4)
    assert answer.choices[0].message.content
    assert DEFAULT_MODEL in [model.id for model in client.models.list()]


def test_langchain_azure_chat_openai(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """LangChain's ``AzureChatOpenAI``, unchanged but for the endpoint and the key."""
    import tiktoken.load
    from langchain_openai import AzureChatOpenAI

    def no_downloads(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to download an encoding")

    monkeypatch.setattr(tiktoken.load, "read_file", no_downloads)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    for variable in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2"):
        monkeypatch.delenv(variable, raising=False)
    chat = AzureChatOpenAI(
        azure_endpoint=server.base_url,
        api_key=server.api_key,  # type: ignore[arg-type]
        api_version="2024-10-21",
        azure_deployment=DEFAULT_MODEL,
        max_tokens=8,  # type: ignore[call-arg]
        max_retries=0,
    )
    answer = chat.invoke("What is the capital of France?")
    assert isinstance(answer.content, str) and answer.content
    assert answer.response_metadata["model_name"] == DEFAULT_MODEL
    streamed = "".join(str(chunk.content) for chunk in chat.stream("Say hello."))
    assert streamed
