"""The embedded engine enforces an output grammar (structured outputs, tool calls)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import jsonschema
import pytest

from atrium.engines.base import (
    ChatMessage,
    GenerationFinished,
    GenerationRequest,
    SamplingParams,
    TokenDelta,
)
from atrium.engines.llamacpp import LlamaCppEngine
from atrium.errors import EngineError
from atrium.models.registry import resolve_model
from atrium.structured import JSON_OBJECT_GBNF, schema_to_gbnf

MODEL = "smollm2-135m-instruct"
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "colour": {"enum": ["red", "green", "blue"]},
    },
    "required": ["name", "age", "colour"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaCppEngine]:
    engine = LlamaCppEngine(resolve_model(MODEL), max_sequences=4, context_size=4096)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.stop())


async def generate(engine: LlamaCppEngine, grammar: str, **sampling: object) -> tuple[str, str]:
    params = {"max_tokens": 80, "temperature": 0.0, "grammar": grammar, **sampling}
    request = GenerationRequest(
        request_id="grammar",
        model=MODEL,
        sampling=SamplingParams(**params),  # type: ignore[arg-type]
        messages=(ChatMessage("user", "Describe a person as JSON."),),
    )
    text, reason = [], ""
    async for event in engine.generate(request):
        if isinstance(event, TokenDelta):
            text.append(event.text)
        elif isinstance(event, GenerationFinished):
            reason = event.finish_reason
    return "".join(text), reason


async def test_a_schema_grammar_gives_valid_json(engine: LlamaCppEngine) -> None:
    for temperature in (0.0, 1.0):
        text, reason = await generate(
            engine, schema_to_gbnf(PERSON), temperature=temperature, seed=7
        )
        assert reason == "stop", text
        jsonschema.validate(json.loads(text), PERSON)


async def test_json_object_grammar_gives_an_object(engine: LlamaCppEngine) -> None:
    text, reason = await generate(engine, JSON_OBJECT_GBNF, max_tokens=120)
    if reason == "stop":
        assert isinstance(json.loads(text), dict)
    else:  # cut by max_tokens: still a prefix of an object
        assert text.lstrip().startswith("{")


async def test_a_grammar_llama_cpp_cannot_parse_is_an_engine_error(
    engine: LlamaCppEngine,
) -> None:
    with pytest.raises(EngineError, match="grammar"):
        await generate(engine, "root ::= (")
