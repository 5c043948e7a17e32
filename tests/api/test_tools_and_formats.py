"""Structured outputs (``response_format``) and tool calling through the whole app.

The fake engine ignores the grammar: tests script its reply and check the grammar and the
prompt it received. The quick-start deployment filters content (fake classifier), so the
streamed tool calls here are read from the filter's released windows.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from atrium.engines.base import GenerationRequest
from atrium.engines.fake import FakeEngine
from atrium.structured import JSON_OBJECT_GBNF, schema_to_gbnf
from atrium.structured.tools import FunctionSpec, envelope_schema
from tests.api.conftest import FAKE_MODEL
from tests.api.sse import parse_sse

CHAT = "/v1/chat/completions"
AZURE_CHAT = "/openai/deployments/fake-model/chat/completions?api-version=2024-10-21"
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
CALL_ID = re.compile(r"^call_[A-Za-z0-9]{24}$")

WEATHER_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["c", "f"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
TIME_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"zone": {"type": "string"}},
    "required": ["zone"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": WEATHER_PARAMS,
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": TIME_PARAMS}},
]
SPECS = [
    FunctionSpec("get_weather", "Current weather", WEATHER_PARAMS),
    FunctionSpec("get_time", None, TIME_PARAMS),
]
PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
# A system prompt, the question, the model's call of get_weather and its result.
ROUND_TRIP: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    *ASK,
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_abc", "content": "22C"},
]
WEATHER_CALL = '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}'


def scripted(fake_engine: FakeEngine, reply: str) -> None:
    fake_engine.behaviour.reply = lambda request: reply


def last_request(fake_engine: FakeEngine) -> GenerationRequest:
    return fake_engine.requests[-1]


def system_text(request: GenerationRequest) -> str:
    assert request.messages is not None
    return "\n".join(m.content for m in request.messages if m.role == "system")


async def chat(client: httpx.AsyncClient, url: str = CHAT, **fields: Any) -> dict[str, Any]:
    body = {"model": FAKE_MODEL, "messages": ASK, **fields}
    response = await client.post(url, json=body)
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def bad_request(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"model": FAKE_MODEL, "messages": ASK, **fields}
    response = await client.post(CHAT, json=body)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


# -- response_format ----------------------------------------------------------------------------


async def test_json_object(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(fake_engine, '{"answer": 42}')
    body = await chat(client, response_format={"type": "json_object"})
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": '{"answer": 42}', "refusal": None}
    assert choice["finish_reason"] == "stop"
    assert last_request(fake_engine).sampling.grammar == JSON_OBJECT_GBNF


async def test_json_schema_grammar_and_validated_output(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"name": "Ada", "age": 36}')
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": PERSON, "strict": True},
    }
    body = await chat(client, response_format=response_format, stop=["Ada"])
    assert json.loads(body["choices"][0]["message"]["content"]) == {"name": "Ada", "age": 36}
    sampling = last_request(fake_engine).sampling
    assert sampling.grammar == schema_to_gbnf(PERSON)
    assert sampling.stop == ()  # stop sequences would cut the JSON short


async def test_json_schema_output_that_fails_validation_is_a_server_error(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"name": "Ada", "age": -1}')  # cannot happen with the grammar
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    response = await client.post(
        CHAT, json={"model": FAKE_MODEL, "messages": ASK, "response_format": response_format}
    )
    assert response.status_code == 500


async def test_sdk_parse_with_a_pydantic_model(
    running_app: FastAPI, admin_key: str, fake_engine: FakeEngine
) -> None:
    class City(BaseModel):
        name: str
        population: int | None

    scripted(fake_engine, '{"name": "Paris", "population": 2100000}')
    async with sdk(running_app, admin_key) as client:
        completion = await client.chat.completions.parse(
            model=FAKE_MODEL, messages=ASK, response_format=City
        )
    assert completion.choices[0].message.parsed == City(name="Paris", population=2100000)


async def test_json_output_streams_as_content(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"name": "Ada", "age": 36}')
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    events = await stream(client, response_format=response_format)
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    assert text == '{"name": "Ada", "age": 36}'
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("response_format", "param", "words"),
    [
        (
            {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "strin"}}},
            "response_format.json_schema.schema",
            ["Invalid schema"],
        ),
        (
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "p",
                    "schema": {"type": "object", "properties": {"x": {"not": {}}}},
                },
            },
            "response_format.json_schema.schema",
            ["'not'", "properties.x.not"],
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "bad name!", "schema": PERSON}},
            "response_format.json_schema.name",
            [],
        ),
        ({"type": "json_schema"}, "response_format.json_schema", []),
    ],
)
async def test_bad_response_formats(
    client: httpx.AsyncClient,
    fake_engine: FakeEngine,
    response_format: dict[str, Any],
    param: str,
    words: list[str],
) -> None:
    error = await bad_request(client, response_format=response_format)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    for word in words:
        assert word in error["message"]
    assert fake_engine.requests == []


# -- tools ----------------------------------------------------------------------------------------


async def test_tool_call_auto(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(fake_engine, WEATHER_CALL)
    body = await chat(client, tools=TOOLS)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    [call] = message["tool_calls"]
    assert CALL_ID.match(call["id"])
    assert call["type"] == "function"
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert "function_call" not in message
    request = last_request(fake_engine)
    expected = envelope_schema(SPECS, parallel=True, allow_response=True)
    assert request.sampling.grammar == schema_to_gbnf(expected)
    system = system_text(request)
    assert "# Tools" in system
    assert '"name": "get_weather"' in system
    assert '{"response": "<your answer>"}' in system


async def test_auto_answer_without_a_call(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"response": "It is sunny, \\"really\\"."}')
    body = await chat(client, tools=TOOLS, tool_choice="auto")
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "role": "assistant",
        "content": 'It is sunny, "really".',
        "refusal": None,
    }


async def test_required_forces_a_call(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(fake_engine, WEATHER_CALL)
    body = await chat(client, tools=TOOLS, tool_choice="required")
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    grammar = last_request(fake_engine).sampling.grammar
    expected = envelope_schema(SPECS, parallel=True, allow_response=False)
    assert grammar == schema_to_gbnf(expected)
    assert grammar is not None
    assert '\\"response\\"' not in grammar
    assert "You must call at least one tool" in system_text(last_request(fake_engine))


async def test_named_tool_choice_allows_only_that_function(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"tool_calls": [{"name": "get_time", "arguments": {"zone": "CET"}}]}')
    choice = {"type": "function", "function": {"name": "get_time"}}
    body = await chat(client, tools=TOOLS, tool_choice=choice)
    [call] = body["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "get_time", "arguments": '{"zone": "CET"}'}
    grammar = last_request(fake_engine).sampling.grammar
    assert grammar is not None
    assert '\\"get_time\\"' in grammar
    assert "get_weather" not in grammar
    assert '\\"response\\"' not in grammar
    # one call, as the prompt says ("Call exactly one tool"), even with parallel calls on
    expected = envelope_schema(SPECS[1:], parallel=False, allow_response=False)
    assert grammar == schema_to_gbnf(expected)


async def test_tool_choice_none_sends_no_grammar_and_no_tools(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, "Just text.")
    body = await chat(client, tools=TOOLS, tool_choice="none")
    assert body["choices"][0]["message"]["content"] == "Just text."
    request = last_request(fake_engine)
    assert request.sampling.grammar is None
    assert "# Tools" not in system_text(request)


async def test_parallel_calls(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(
        fake_engine,
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}, '
        '{"name": "get_time", "arguments": {"zone": "CET"}}]}',
    )
    body = await chat(client, tools=TOOLS, tool_choice="required")
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris", "unit": "c"}
    assert len({c["id"] for c in calls}) == 2


async def test_parallel_tool_calls_false_allows_one_call(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, WEATHER_CALL)
    await chat(client, tools=TOOLS, parallel_tool_calls=False)
    expected = envelope_schema(SPECS, parallel=False, allow_response=True)
    assert last_request(fake_engine).sampling.grammar == schema_to_gbnf(expected)
    assert "Call exactly one tool." in system_text(last_request(fake_engine))


async def test_tool_round_trip_prompt(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(fake_engine, '{"response": "22 degrees in Paris."}')
    response = await client.post(
        CHAT, json={"model": FAKE_MODEL, "messages": ROUND_TRIP, "tools": TOOLS}
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "22 degrees in Paris."
    request = last_request(fake_engine)
    assert request.messages is not None
    roles = [m.role for m in request.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert request.messages[0].content.startswith("You are terse.\n\n# Tools")
    assert request.messages[2].content == WEATHER_CALL
    assert request.messages[3].content == (
        '{"tool_response": {"tool_call_id": "call_abc", "name": "get_weather", "content": "22C"}}'
    )


async def test_length_cut_returns_raw_text(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, WEATHER_CALL)
    body = await chat(client, tools=TOOLS, max_tokens=3)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "length"
    assert "tool_calls" not in choice["message"]
    assert WEATHER_CALL.startswith(choice["message"]["content"])


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [TOOLS[0], TOOLS[0]]}, "tools[1].function.name"),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
        ),
        ({"tools": TOOLS, "functions": [TOOLS[0]["function"]]}, "functions"),
        (
            {
                "tools": [
                    TOOLS[0],
                    {
                        "type": "function",
                        "function": {
                            "name": "f",
                            "parameters": {"type": "object", "uniqueItems": True},
                        },
                    },
                ]
            },
            "tools[1].function.parameters",
        ),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": []}, "tools"),
    ],
)
async def test_bad_tool_requests(
    client: httpx.AsyncClient, fake_engine: FakeEngine, fields: dict[str, Any], param: str
) -> None:
    error = await bad_request(client, **fields)
    assert error["param"] == param
    assert fake_engine.requests == []


# -- streaming ------------------------------------------------------------------------------------


async def stream(client: httpx.AsyncClient, **fields: Any) -> list[dict[str, Any]]:
    body = {"model": FAKE_MODEL, "messages": ASK, "stream": True, **fields}
    response = await client.post(CHAT, json=body)
    assert response.status_code == 200, response.text
    events, done = parse_sse(response.text)
    assert done
    return [e for e in events if e.get("object") == "chat.completion.chunk"]


async def test_streamed_tool_calls_fragments(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(
        fake_engine,
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_time", "arguments": {"zone": "CET"}}]}',
    )
    events = await stream(client, tools=TOOLS)
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert deltas[0] == {"role": "assistant"}  # no content: the SDKs read it as None
    calls = [d["tool_calls"] for d in deltas if "tool_calls" in d]
    assert len(calls) == 4
    first, first_args, second, second_args = (c[0] for c in calls)
    assert CALL_ID.match(first["id"])
    assert first == {
        "index": 0,
        "id": first["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert first_args == {"index": 0, "function": {"arguments": '{"city": "Paris"}'}}
    assert second["index"] == 1
    assert second["function"] == {"name": "get_time", "arguments": ""}
    assert second_args == {"index": 1, "function": {"arguments": '{"zone": "CET"}'}}
    assert not any("content" in d and d["content"] for d in deltas)
    last = events[-1]["choices"][0]
    assert last["delta"] == {}
    assert last["finish_reason"] == "tool_calls"


def sdk(app: FastAPI, api_key: str) -> openai.AsyncOpenAI:
    transport = httpx.ASGITransport(app=app)
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url="http://atrium/v1",
        http_client=httpx.AsyncClient(transport=transport, base_url="http://atrium"),
    )


async def test_sdk_reconstructs_streamed_tool_calls(
    running_app: FastAPI, admin_key: str, fake_engine: FakeEngine
) -> None:
    scripted(
        fake_engine,
        '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Zürich"}}, '
        '{"name": "get_time", "arguments": {"zone": "CET"}}]}',
    )
    async with (
        sdk(running_app, admin_key) as client,
        client.chat.completions.stream(
            model=FAKE_MODEL,
            messages=ASK,
            tools=TOOLS,
        ) as events,
    ):
        completion = await events.get_final_completion()
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", '{"city": "Zürich"}'),
        ("get_time", '{"zone": "CET"}'),
    ]


async def test_streamed_auto_answer_is_content(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"response": "Sunny all day."}')
    events = await stream(client, tools=TOOLS)
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    text = "".join(d.get("content", "") for d in deltas)
    assert text == "Sunny all day."
    assert not any("tool_calls" in d for d in deltas)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"


# -- legacy functions -----------------------------------------------------------------------------


async def test_legacy_function_call(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(fake_engine, WEATHER_CALL)
    functions = [TOOLS[0]["function"], TOOLS[1]["function"]]
    body = await chat(client, functions=functions, function_call={"name": "get_weather"})
    [choice] = body["choices"]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["content"] is None
    assert choice["message"]["function_call"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert "tool_calls" not in choice["message"]
    expected = envelope_schema(SPECS[:1], parallel=False, allow_response=False)
    assert last_request(fake_engine).sampling.grammar == schema_to_gbnf(expected)


async def test_legacy_function_round_trip_and_stream(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, WEATHER_CALL)
    messages = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"role": "function", "name": "get_weather", "content": "22C"},
    ]
    events = await stream(client, messages=messages, functions=[TOOLS[0]["function"]])
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    pieces = [d["function_call"] for d in deltas if "function_call" in d]
    assert pieces == [
        {"name": "get_weather", "arguments": ""},
        {"arguments": '{"city": "Paris"}'},
    ]
    assert events[-1]["choices"][0]["finish_reason"] == "function_call"
    request = last_request(fake_engine)
    assert request.messages is not None
    assert request.messages[-1].content == (
        '{"tool_response": {"name": "get_weather", "content": "22C"}}'
    )


# -- Azure ----------------------------------------------------------------------------------------


async def test_azure_classic_route_tool_call(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, WEATHER_CALL)
    body = await chat(client, AZURE_CHAT, tools=TOOLS, tool_choice="required")
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert "content_filter_results" in choice


async def test_azure_classic_route_json_schema(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"name": "Ada", "age": 36}')
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    body = await chat(client, AZURE_CHAT, response_format=response_format)
    assert json.loads(body["choices"][0]["message"]["content"]) == {"name": "Ada", "age": 36}


# -- content filter -------------------------------------------------------------------------------

FLAGGED_CALL = (
    '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris, where the weather is '
    'fine and mild all day long, nothing to report <<violence:high>>"}}]}'
)


async def test_filtered_tool_call_is_withheld(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, FLAGGED_CALL)
    body = await chat(client, tools=TOOLS)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] is None
    assert "tool_calls" not in choice["message"]
    assert choice["content_filter_results"]["violence"]["filtered"] is True


async def test_streamed_tool_call_cut_by_the_filter_sends_no_call(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, FLAGGED_CALL)
    events = await stream(client, tools=TOOLS)
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert not any("tool_calls" in d for d in deltas)
    released = "".join(d.get("content", "") for d in deltas)
    assert FLAGGED_CALL.startswith(released)  # the windows that passed, as raw text
    assert "<<violence" not in released
    assert events[-1]["choices"][0]["finish_reason"] == "content_filter"


async def test_tools_with_a_json_schema_answer(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"response": {"name": "Ada", "age": 36}}')
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    body = await chat(client, tools=TOOLS, response_format=response_format)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert json.loads(choice["message"]["content"]) == {"name": "Ada", "age": 36}
    expected = envelope_schema(SPECS, parallel=True, allow_response=True, response_schema=PERSON)
    assert last_request(fake_engine).sampling.grammar == schema_to_gbnf(expected)
