"""Native tool calling with the real llama.cpp engine: the default model (SmolLM2-135M) with
its chat template replaced by Qwen 2.5's (the ``chat_template`` option operators use), served by
the whole app. The template makes the model a ``hermes`` one: the prompt is Qwen's, the grammar
forces ``<tool_call>`` blocks, and a call and a round trip come back in OpenAI's shapes.

The model has 135M parameters: strings are bounded (``maxLength``) and requests greedy, so the
answers are short and reproducible; what is asserted is the shape, not the model's judgement.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from atrium.app import build_app
from atrium.cli import main
from atrium.config import Settings, load_settings
from atrium.engines.base import ChatMessage, MessageToolCall
from atrium.engines.factory import create_engine
from atrium.engines.llamacpp import LlamaCppEngine
from atrium.errors import ConfigurationError
from atrium.models.registry import resolve_model

MODEL = "smollm2-135m-instruct"
QWEN_TEMPLATE = (
    Path(__file__).parents[1] / "fixtures" / "chat_templates" / "qwen2.5-7b-instruct.jinja"
).read_text()
CITY: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": CITY,
        },
    }
]
QUESTION = [
    {"role": "system", "content": "You are a helpful assistant. Use the tools."},
    {"role": "user", "content": "What is the weather in Paris?"},
]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # One thread: on a small, busy machine more threads wait on each other (30x slower).
    engine = LlamaCppEngine(
        resolve_model(MODEL),
        max_sequences=2,
        context_size=2048,
        threads=1,
        chat_template=QWEN_TEMPLATE,
    )
    settings = Settings(
        model=MODEL,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'atrium.db'}",
        auth=False,
        default_content_policy=None,
        content_classifier="fake",
        usage_flush_interval_s=0.05,
    )
    app = build_app(settings, engine=engine)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://atrium") as client:
            yield client


async def completion(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"model": MODEL, "temperature": 0, "max_tokens": 60, "tools": TOOLS, **fields}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    choice: dict[str, Any] = response.json()["choices"][0]
    return choice


async def test_a_required_call_and_a_round_trip(client: httpx.AsyncClient) -> None:
    choice = await completion(
        client, messages=QUESTION, tool_choice="required", parallel_tool_calls=False
    )
    assert choice["finish_reason"] == "tool_calls", choice
    [call] = choice["message"]["tool_calls"]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"])
    assert call["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(call["function"]["arguments"]), CITY)

    # The call and its result go back through Qwen's <tool_call> / <tool_response>; with
    # tool_choice "none" the model must answer (under "auto" this small one calls again).
    result = {"role": "tool", "tool_call_id": call["id"], "content": "22 degrees and sunny"}
    answer = await completion(
        client, messages=[*QUESTION, choice["message"], result], tool_choice="none", max_tokens=24
    )
    assert answer["finish_reason"] in ("stop", "length"), answer
    assert answer["message"]["content"]
    assert "tool_calls" not in answer["message"]


async def test_the_prompt_is_qwens_native_one() -> None:
    engine = LlamaCppEngine(
        resolve_model(MODEL), context_size=512, threads=1, chat_template=QWEN_TEMPLATE
    )
    await engine.start()
    try:
        assert engine.models()[0].tool_format == "hermes"
        call = MessageToolCall("call_1", "get_weather", '{"city": "Paris"}')
        messages = (
            ChatMessage(role="user", content="Weather in Paris?"),
            ChatMessage(role="assistant", content="", tool_calls=(call,)),
            ChatMessage(role="tool", content="22C", name="get_weather", tool_call_id="call_1"),
        )
        prompt = engine.render_chat(messages)
    finally:
        await engine.stop()
    assert prompt.startswith("<|im_start|>system\nYou are Qwen")
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n' in prompt
    assert "<|im_start|>user\n<tool_response>\n22C\n</tool_response><|im_end|>\n" in prompt


def test_a_configured_template_that_does_not_compile_stops_the_start() -> None:
    with pytest.raises(ConfigurationError, match="chat template"):
        LlamaCppEngine(resolve_model(MODEL), chat_template="{% for m in messages %}")


async def test_the_default_models_own_template_knows_no_tools() -> None:
    engine = LlamaCppEngine(resolve_model(MODEL), context_size=512, threads=1)
    await engine.start()
    try:
        assert engine.models()[0].tool_format == "envelope"
    finally:
        await engine.stop()


def test_the_chat_template_setting_reaches_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "qwen.jinja"
    path.write_text(QWEN_TEMPLATE)
    settings = load_settings(chat_template=str(path), threads="1", context_size="512")
    engine = create_engine(settings)
    asyncio.run(engine.start())
    try:
        assert engine.models()[0].tool_format == "hermes"
    finally:
        asyncio.run(engine.stop())


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (None, "cannot read the chat template file"),
        ("{% if %}", "the chat template does not compile: "),
    ],
)
def test_a_bad_chat_template_file_stops_the_start_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, fragment: str
) -> None:
    path = tmp_path / "template.jinja"
    if text is not None:
        path.write_text(text)
    arguments = ["serve", "--chat-template", str(path), "--data-dir", str(tmp_path / "data")]
    assert main(arguments) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"atrium: {fragment}"), err
    assert "\n" not in err
