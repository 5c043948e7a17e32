"""Tool calling through the whole app with a model whose chat template knows tools natively
(the Hermes / Qwen ``<tool_call>`` format): the fake engine declares that format, tests script
its reply and check what it was given (structured messages, tool definitions, the grammar).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from atrium.engines.base import ChatMessage, GenerationRequest, MessageToolCall
from atrium.engines.fake import FakeEngine
from atrium.structured.hermes import hermes_grammar
from tests.api.conftest import FAKE_CONTEXT, FAKE_MODEL
from tests.api.sse import parse_sse
from tests.api.test_tools_and_formats import (
    ASK,
    AZURE_CHAT,
    CHAT,
    PERSON,
    ROUND_TRIP,
    SPECS,
    TOOLS,
    WEATHER_CALL,
    bad_request,
    chat,
    scripted,
    sdk,
)

CALL_ID = re.compile(r"^call_[A-Za-z0-9]{24}$")
PARIS = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
CET = '<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>'


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine(model_ids=(FAKE_MODEL,), context_size=FAKE_CONTEXT, tool_format="hermes")


def engine_request(fake_engine: FakeEngine) -> GenerationRequest:
    return fake_engine.requests[-1]


async def test_a_call_comes_back_in_openais_shape(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, PARIS)
    body = await chat(client, tools=TOOLS)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert CALL_ID.match(call["id"])
    assert call == {
        "id": call["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }


async def test_the_engine_gets_the_tools_not_a_prompt_section(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, PARIS)
    await chat(client, tools=TOOLS)
    request = engine_request(fake_engine)
    assert request.tools == tuple(SPECS)
    assert request.messages == (ChatMessage(role="user", content=ASK[0]["content"]),)
    assert request.sampling.grammar == hermes_grammar(SPECS, parallel=True, allow_answer=True)


async def test_a_round_trip_keeps_the_calls_and_results_structured(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, "It is 22C in Paris.")
    body = await chat(client, messages=ROUND_TRIP, tools=TOOLS)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "It is 22C in Paris."
    assert "tool_calls" not in choice["message"]
    messages = engine_request(fake_engine).messages
    assert messages == (
        ChatMessage(role="system", content="You are terse."),
        ChatMessage(role="user", content=ASK[0]["content"]),
        ChatMessage(
            role="assistant",
            content="",
            tool_calls=(MessageToolCall("call_abc", "get_weather", '{"city": "Paris"}'),),
        ),
        ChatMessage(role="tool", content="22C", name="get_weather", tool_call_id="call_abc"),
    )


@pytest.mark.parametrize(
    ("fields", "functions", "parallel"),
    [
        ({"tool_choice": "required"}, SPECS, True),
        ({"tool_choice": "required", "parallel_tool_calls": False}, SPECS, False),
        ({"tool_choice": {"type": "function", "function": {"name": "get_time"}}}, SPECS[1:], False),
    ],
)
async def test_required_and_named_choices_allow_only_calls(
    client: httpx.AsyncClient,
    fake_engine: FakeEngine,
    fields: dict[str, Any],
    functions: list[Any],
    parallel: bool,
) -> None:
    scripted(fake_engine, CET)
    body = await chat(client, tools=TOOLS, **fields)
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_time"
    request = engine_request(fake_engine)
    assert request.tools == tuple(SPECS)  # the template lists every tool
    expected = hermes_grammar(functions, parallel=parallel, allow_answer=False)
    assert request.sampling.grammar == expected


async def test_parallel_calls(client: httpx.AsyncClient, fake_engine: FakeEngine) -> None:
    scripted(fake_engine, f"{PARIS}\n{CET}")
    body = await chat(client, tools=TOOLS)
    calls = body["choices"][0]["message"]["tool_calls"]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("get_weather", '{"city": "Paris"}'),
        ("get_time", '{"zone": "CET"}'),
    ]
    assert len({c["id"] for c in calls}) == 2


async def test_tool_choice_none_shows_no_tools_and_sends_no_grammar(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, "22C.")
    body = await chat(client, messages=ROUND_TRIP, tools=TOOLS, tool_choice="none", stop=["X"])
    assert body["choices"][0]["message"]["content"] == "22C."
    request = engine_request(fake_engine)
    assert request.tools == ()
    assert request.sampling.grammar is None
    assert request.sampling.stop == ("X",)
    assert request.messages is not None
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]


async def test_a_json_schema_answer_next_to_tools(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, '{"name": "Ada", "age": 36}')
    response_format = {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}
    body = await chat(client, tools=TOOLS, response_format=response_format)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert json.loads(choice["message"]["content"]) == {"name": "Ada", "age": 36}
    expected = hermes_grammar(SPECS, parallel=True, allow_answer=True, answer_schema=PERSON)
    assert engine_request(fake_engine).sampling.grammar == expected


async def test_output_outside_the_format_is_a_server_error(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, WEATHER_CALL)  # the fallback envelope, not this model's format
    response = await client.post(
        CHAT, json={"model": FAKE_MODEL, "messages": ASK, "tools": TOOLS, "tool_choice": "required"}
    )
    assert response.status_code == 500, response.text
    assert "bug in Atrium" in response.json()["error"]["message"]


async def test_bad_tool_messages_are_still_a_400(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    messages = [*ASK, {"role": "tool", "tool_call_id": "call_nope", "content": "22C"}]
    error = await bad_request(client, messages=messages, tools=TOOLS)
    assert error["param"] == "messages[1].tool_call_id"
    assert fake_engine.requests == []


async def test_streamed_calls_are_fragments_at_the_end(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, f"{PARIS}\n{CET}")
    body = {"model": FAKE_MODEL, "messages": ASK, "tools": TOOLS, "stream": True}
    response = await client.post(CHAT, json=body)
    assert response.status_code == 200, response.text
    events, done = parse_sse(response.text)
    assert done
    deltas = [e["choices"][0]["delta"] for e in events if e.get("choices")]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [c["index"] for c in calls] == [0, 0, 1, 1]
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert calls[1] == {"index": 0, "function": {"arguments": '{"city": "Paris"}'}}
    assert not any(d.get("content") for d in deltas)
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_the_sdk_runs_a_tool_round_trip(
    running_app: FastAPI, admin_key: str, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, PARIS)
    async with sdk(running_app, admin_key) as client:
        first = await client.chat.completions.create(
            model=FAKE_MODEL,
            messages=ASK,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
        )
        message = first.choices[0].message
        assert message.tool_calls is not None
        call = message.tool_calls[0]
        scripted(fake_engine, "22C and sunny.")
        second = await client.chat.completions.create(
            model=FAKE_MODEL,
            messages=[
                *ASK,  # type: ignore[list-item]
                message.model_dump(exclude_none=True),  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": call.id, "content": "22C"},
            ],
            tools=TOOLS,  # type: ignore[arg-type]
        )
    assert second.choices[0].message.content == "22C and sunny."
    tool_message = engine_request(fake_engine).messages[-1]  # type: ignore[index]
    assert (tool_message.role, tool_message.tool_call_id) == ("tool", call.id)


async def test_legacy_functions_map_onto_the_same_format(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, PARIS)
    messages = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        },
        {"role": "function", "name": "get_weather", "content": "3C"},
    ]
    functions = [TOOLS[0]["function"], TOOLS[1]["function"]]
    body = await chat(client, messages=messages, functions=functions)
    [choice] = body["choices"]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["function_call"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    request = engine_request(fake_engine)
    assert request.messages is not None
    assert request.messages[1].tool_calls == (
        MessageToolCall(None, "get_weather", '{"city": "Oslo"}'),
    )
    assert request.messages[2] == ChatMessage(role="tool", content="3C", name="get_weather")
    assert request.sampling.grammar == hermes_grammar(SPECS, parallel=False, allow_answer=True)


async def test_azure_classic_route_gets_the_native_format(
    client: httpx.AsyncClient, fake_engine: FakeEngine
) -> None:
    scripted(fake_engine, PARIS)
    body = await chat(client, AZURE_CHAT, tools=TOOLS, tool_choice="required")
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert engine_request(fake_engine).tools == tuple(SPECS)
