"""Structured outputs and tool calls with the official ``openai`` SDK and LangChain, end to end.

A real ``atrium serve`` with the real default model. The tests use a deployment without a
content policy (``structured``), so that they test constrained decoding, not the content filter;
it is removed afterwards, so the other tests see the server's deployments unchanged.

The default model has 135M parameters: strings in the schemas are bounded (``maxLength``) so a
looping model cannot run into ``max_tokens``, and requests are greedy (``temperature=0``) so
that the model's choices are reproducible.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import httpx
import jsonschema
import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel, Field

from tests.e2e.conftest import DEFAULT_MODEL, RunningServer

pytestmark = pytest.mark.e2e

DEPLOYMENT = "structured"
REPO = Path(__file__).resolve().parents[2]
SYSTEM = {"role": "system", "content": "You are a helpful assistant. Use the tools to answer."}
WEATHER_QUESTION = [SYSTEM, {"role": "user", "content": "What is the weather in Paris?"}]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 40}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Get the current time in a timezone.",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string", "maxLength": 40}},
                "required": ["timezone"],
                "additionalProperties": False,
            },
        },
    },
]
PARAMETERS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}
GREEDY: dict[str, Any] = {"temperature": 0, "max_tokens": 200}
# With parallel calls allowed the greedy model tends to repeat its call until max_tokens (the
# list of calls has no upper bound), so the tests that need one call ask for one.
ONE_CALL: dict[str, Any] = {**GREEDY, "parallel_tool_calls": False}


@pytest.fixture(scope="module")
def deployment(server: RunningServer) -> Iterator[str]:
    """A deployment of the default model without content filtering, removed afterwards."""
    headers = {"authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as admin:
        created = admin.post(
            "/admin/deployments",
            json={"name": DEPLOYMENT, "model": DEFAULT_MODEL, "content_policy": None},
        )
        assert created.status_code == 201, created.text
        try:
            yield DEPLOYMENT
        finally:
            admin.delete(f"/admin/deployments/{DEPLOYMENT}")


@pytest.fixture
def client(server: RunningServer) -> OpenAI:
    return OpenAI(
        base_url=f"{server.base_url}/v1", api_key=server.api_key, max_retries=0, timeout=300
    )


# -- response_format ----------------------------------------------------------------------------


class City(BaseModel):
    name: str = Field(max_length=40)
    country: str = Field(max_length=40)


class Capital(BaseModel):  # nested model, bounded number
    city: City
    population_millions: float = Field(ge=0, le=100)


class Color(StrEnum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Sky(BaseModel):  # enum and Literal
    color: Color
    mood: Literal["happy", "sad"]


class Fruits(BaseModel):  # a list with bounds
    fruits: list[str] = Field(min_length=2, max_length=4)


class Person(BaseModel):  # Optional fields (nullable, still required in strict mode)
    name: str = Field(max_length=30)
    nickname: str | None = Field(max_length=20)
    age: int | None = Field(ge=0, le=150)


PARSE_CASES = [
    (Capital, "What is the capital of France?"),
    (Sky, "What color is the sky?"),
    (Fruits, "Name some fruits."),
    (Person, "Describe a person named Alice who is 30."),
]


@pytest.mark.parametrize(
    ("schema", "prompt"), PARSE_CASES, ids=[c[0].__name__ for c in PARSE_CASES]
)
def test_parse_returns_a_valid_instance(
    client: OpenAI, deployment: str, schema: type[BaseModel], prompt: str
) -> None:
    completion = client.chat.completions.parse(
        model=deployment,
        messages=[{"role": "user", "content": prompt}],
        response_format=schema,
        **GREEDY,
    )
    [choice] = completion.choices
    assert choice.finish_reason == "stop"
    parsed = choice.message.parsed
    assert isinstance(parsed, schema)
    assert schema.model_validate_json(choice.message.content or "") == parsed


def test_beta_parse_helper(client: OpenAI, deployment: str) -> None:
    beta_chat = getattr(client.beta, "chat", None)
    if beta_chat is None:
        pytest.skip("this openai SDK has no client.beta.chat")
    completion = beta_chat.completions.parse(
        model=deployment,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        response_format=Capital,
        **GREEDY,
    )
    assert isinstance(completion.choices[0].message.parsed, Capital)


def test_parse_streaming(client: OpenAI, deployment: str) -> None:
    with client.chat.completions.stream(
        model=deployment,
        messages=[{"role": "user", "content": "What color is the sky?"}],
        response_format=Sky,
        **GREEDY,
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        completion = stream.get_final_completion()
    assert len(deltas) > 1  # JSON answers stream as ordinary content deltas
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Sky)
    assert Sky.model_validate_json("".join(deltas)) == parsed


def test_json_object(client: OpenAI, deployment: str) -> None:
    completion = client.chat.completions.create(
        model=deployment,
        messages=[
            {"role": "system", "content": "You reply with a short JSON object."},
            {"role": "user", "content": 'Reply with the keys "name" and "age" for Tom, aged 3.'},
        ],
        response_format={"type": "json_object"},
        **GREEDY,
    )
    [choice] = completion.choices
    assert choice.finish_reason == "stop"
    assert isinstance(json.loads(choice.message.content or ""), dict)


# -- tools --------------------------------------------------------------------------------------


def assert_valid_calls(calls: Any) -> list[Any]:
    """The calls have OpenAI's shape and arguments valid against their function's schema."""
    assert calls
    for call in calls:
        assert call.type == "function"
        assert call.id.startswith("call_")
        assert call.function.name in PARAMETERS
        jsonschema.validate(json.loads(call.function.arguments), PARAMETERS[call.function.name])
    assert len({call.id for call in calls}) == len(calls)
    return list(calls)


def tool_results(calls: list[Any]) -> list[dict[str, Any]]:
    results = {"get_weather": {"sky": "sunny", "celsius": 21}, "get_time": {"time": "14:05"}}
    return [
        {"role": "tool", "tool_call_id": c.id, "content": json.dumps(results[c.function.name])}
        for c in calls
    ]


def test_tool_round_trip(client: OpenAI, deployment: str) -> None:
    first = client.chat.completions.create(
        model=deployment,
        messages=WEATHER_QUESTION,
        tools=TOOLS,
        tool_choice="required",
        **ONE_CALL,
    )
    [choice] = first.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = assert_valid_calls(choice.message.tool_calls)

    messages: list[Any] = [
        *WEATHER_QUESTION,
        choice.message.model_dump(exclude_none=True),
        *tool_results(calls),
    ]
    second = client.chat.completions.create(
        model=deployment, messages=messages, tools=TOOLS, tool_choice="none", **GREEDY
    )
    [answer] = second.choices
    assert answer.finish_reason == "stop"
    assert not answer.message.tool_calls
    assert answer.message.content and answer.message.content.strip()


def test_tool_round_trip_streaming(client: OpenAI, deployment: str) -> None:
    with client.chat.completions.stream(
        model=deployment,
        messages=WEATHER_QUESTION,
        tools=TOOLS,
        tool_choice="required",
        **ONE_CALL,
    ) as stream:
        done = [e for e in stream if e.type == "tool_calls.function.arguments.done"]
        completion = stream.get_final_completion()
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    calls = assert_valid_calls(choice.message.tool_calls)
    assert [(e.name, e.arguments) for e in done] == [
        (c.function.name, c.function.arguments) for c in calls
    ]

    # the answer, streamed too, accumulating the deltas by hand
    assistant = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": c.function.model_dump(include={"name", "arguments"}),
            }
            for c in calls
        ],
    }
    pieces: list[str] = []
    finish_reasons: list[str] = []
    for chunk in client.chat.completions.create(
        model=deployment,
        messages=[*WEATHER_QUESTION, assistant, *tool_results(calls)],
        tools=TOOLS,
        tool_choice="none",
        stream=True,
        **GREEDY,
    ):
        for streamed in chunk.choices:
            assert not streamed.delta.tool_calls
            pieces.append(streamed.delta.content or "")
            if streamed.finish_reason:
                finish_reasons.append(streamed.finish_reason)
    assert "".join(pieces).strip()
    assert finish_reasons == ["stop"]


def test_streamed_tool_call_deltas(client: OpenAI, deployment: str) -> None:
    """Raw chunks: per call one with ``index``, ``id``, ``type`` and the name, then arguments."""
    calls: dict[int, dict[str, str]] = {}
    finish_reasons = []
    for chunk in client.chat.completions.create(
        model=deployment,
        messages=WEATHER_QUESTION,
        tools=TOOLS,
        tool_choice="required",
        stream=True,
        **ONE_CALL,
    ):
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                if delta.id:
                    assert delta.type == "function"
                    call["id"] = delta.id
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
            if choice.finish_reason:
                finish_reasons.append(choice.finish_reason)
    assert finish_reasons == ["tool_calls"]
    [call] = calls.values()
    assert call["id"].startswith("call_")
    jsonschema.validate(json.loads(call["arguments"]), PARAMETERS[call["name"]])


def test_named_tool_choice(client: OpenAI, deployment: str) -> None:
    completion = client.chat.completions.create(
        model=deployment,
        messages=WEATHER_QUESTION,  # a weather question, but the caller wants the time
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        **GREEDY,
    )
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    calls = assert_valid_calls(choice.message.tool_calls)
    assert [call.function.name for call in calls] == ["get_time"]


def test_auto_tool_choice(client: OpenAI, deployment: str) -> None:
    completion = client.chat.completions.create(
        model=deployment, messages=WEATHER_QUESTION, tools=TOOLS, tool_choice="auto", **GREEDY
    )
    [choice] = completion.choices
    if choice.finish_reason == "tool_calls":
        assert choice.message.content is None
        assert_valid_calls(choice.message.tool_calls)
    else:
        assert choice.finish_reason == "stop"
        assert not choice.message.tool_calls
        assert choice.message.content and choice.message.content.strip()


def test_parallel_tool_calls(client: OpenAI, deployment: str) -> None:
    question = [
        SYSTEM,
        {"role": "user", "content": "What is the weather in Paris and the time in Tokyo?"},
    ]
    parallel = client.chat.completions.create(
        model=deployment, messages=question, tools=TOOLS, tool_choice="required", **GREEDY
    )
    assert parallel.choices[0].finish_reason == "tool_calls"
    calls = assert_valid_calls(parallel.choices[0].message.tool_calls)
    assert len(calls) >= 2  # the greedy answer calls both tools

    single = client.chat.completions.create(
        model=deployment,
        messages=question,
        tools=TOOLS,
        tool_choice="required",
        **ONE_CALL,
    )
    assert single.choices[0].finish_reason == "tool_calls"
    assert len(assert_valid_calls(single.choices[0].message.tool_calls)) == 1


class GetWeather(BaseModel):
    """Get the current weather in a city."""

    city: str = Field(max_length=40)


def test_parse_with_pydantic_function_tools(client: OpenAI, deployment: str) -> None:
    """Strict tools from ``openai.pydantic_function_tool``: the SDK parses the arguments."""
    completion = client.chat.completions.parse(
        model=deployment,
        messages=WEATHER_QUESTION,
        tools=[openai.pydantic_function_tool(GetWeather, name="get_weather")],
        tool_choice="required",
        **ONE_CALL,
    )
    [call, *_] = completion.choices[0].message.tool_calls or []
    assert isinstance(call.function.parsed_arguments, GetWeather)


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "nonsense"}}},  # not a JSON Schema
        {
            "type": "object",
            "properties": {"a": {"type": "string", "pattern": "^a+$"}},
        },  # unsupported
    ],
    ids=["invalid", "unsupported"],
)
def test_bad_response_schema_is_a_400(
    client: OpenAI, deployment: str, schema: dict[str, Any]
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=deployment,
            messages=[{"role": "user", "content": "Hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
            max_tokens=4,
        )
    assert refused.value.param == "response_format.json_schema.schema"


def test_bad_tool_parameters_are_a_400(client: OpenAI, deployment: str) -> None:
    bad = {"type": "object", "properties": {"a": {"type": "string", "minLength": "x"}}}
    tools: list[Any] = [
        TOOLS[0],
        {"type": "function", "function": {"name": "f", "parameters": bad}},
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=deployment, messages=WEATHER_QUESTION, tools=tools, max_tokens=4
        )
    assert refused.value.param == "tools[1].function.parameters"


# -- the LangChain example ------------------------------------------------------------------------

# Runs the example with tiktoken's downloads failing at once (as in test_azure_sdk.py) and every
# connection to anything but this machine refused: the example must need no network.
OFFLINE_RUNNER = """
import ipaddress, runpy, socket, sys
import tiktoken.load

def no_downloads(*args, **kwargs):
    raise AssertionError("tiktoken tried to download an encoding")

tiktoken.load.read_file = no_downloads
connect = socket.socket.connect

def local_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            local = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            local = address[0] == "localhost"
        if not local:
            raise AssertionError(f"network access attempted: {address}")
    return connect(self, address)

socket.socket.connect = local_only
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_langchain_agent_example(server: RunningServer, deployment: str, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ATRIUM_", "OPENAI_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env |= {
        "ATRIUM_URL": server.base_url,
        "ATRIUM_API_KEY": server.api_key,
        "ATRIUM_MODEL": deployment,
        "TIKTOKEN_CACHE_DIR": str(tmp_path),
    }
    script = REPO / "examples" / "langchain_agent.py"
    finished = subprocess.run(
        [sys.executable, "-c", OFFLINE_RUNNER, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    for marker in ("AGENT OK multiply", "AGENT OK get_weather", "STRUCTURED OK", "ALL OK"):
        assert marker in finished.stdout, output
    assert "network access attempted" not in output
