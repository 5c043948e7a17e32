"""The fallback tool format: envelope schema, ``$ref`` relocation and parsing."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from atrium.structured import schema_to_gbnf
from atrium.structured.schema_gbnf import relocate_refs
from atrium.structured.tools import (
    FunctionSpec,
    envelope_schema,
    parse_turn,
    tool_calls_text,
)

NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {"where": {"$ref": "#/$defs/Place"}, "enum": {"enum": [{"$ref": "#/x"}]}},
    "required": ["where"],
    "additionalProperties": False,
    "$defs": {
        "Place": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "inner": {"$ref": "#/$defs/Place"}},
            "required": ["city"],
            "additionalProperties": False,
        }
    },
}


def test_refs_are_relocated_but_not_inside_values() -> None:
    moved = relocate_refs(NESTED, "#/$defs/f0")
    assert moved["properties"]["where"] == {"$ref": "#/$defs/f0/$defs/Place"}
    assert moved["$defs"]["Place"]["properties"]["inner"] == {"$ref": "#/$defs/f0/$defs/Place"}
    assert moved["properties"]["enum"] == {"enum": [{"$ref": "#/x"}]}


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("allow_response", [True, False])
def test_envelope_with_refs_compiles_and_validates_turns(
    parallel: bool, allow_response: bool
) -> None:
    specs = [FunctionSpec("find", None, NESTED), FunctionSpec("noop")]
    schema = envelope_schema(specs, parallel=parallel, allow_response=allow_response)
    grammar = schema_to_gbnf(schema)
    assert '\\"find\\"' in grammar
    assert ('\\"response\\"' in grammar) == allow_response
    call = {"name": "find", "arguments": {"where": {"city": "Paris", "inner": {"city": "X"}}}}
    jsonschema.validate({"tool_calls": [call]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tool_calls": [{"name": "find", "arguments": {}}]}, schema)
    two = {"tool_calls": [call, {"name": "noop", "arguments": {}}]}
    if parallel:
        jsonschema.validate(two, schema)
    else:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(two, schema)


def test_parse_turn_round_trips_the_rendered_calls() -> None:
    turn = parse_turn(
        tool_calls_text(parse_turn('{"tool_calls": [{"name": "a", "arguments": {"x": 1}}]}').calls)
    )
    assert [(c.name, c.arguments) for c in turn.calls] == [("a", {"x": 1})]
    assert parse_turn('{"response": "hi"}').content == "hi"
    assert parse_turn('{"response": {"a": 1}}').content == '{"a": 1}'
    for bad in ("[]", '{"other": 1}', '{"tool_calls": []}', "not json"):
        with pytest.raises(ValueError):
            parse_turn(bad)
