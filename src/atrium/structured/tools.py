"""Tool calling and structured outputs as plain text plus a grammar (the fallback format).

Used for models whose chat template knows no tools (``ToolFormat`` ``"envelope"``; SmolLM2's
and Gemma 3's do not). Engines then only see plain ``system``/``user``/``assistant`` messages
and a GBNF grammar; the gateway owns the format. The format follows llama.cpp's generic tool
handler and minja's polyfills. (Templates that know tools get them natively instead:
``atrium.structured.hermes``.)

* **Tools in the prompt.** A section is appended to the first system message (or a system
  message is added in front)::

      # Tools

      You can call these tools (the JSON Schema of each one's arguments is under "parameters"):
      [{"name": "get_weather", "description": "...", "parameters": {...}}]

      To call tools, reply with only this JSON object:
      {"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}
      ...

  followed by one line on what this turn allows (any tool or a direct answer, one call only,
  a named tool). With ``tool_choice: "none"`` no tools are listed and no grammar is used.
* **The model's turn** is one JSON object: ``{"tool_calls": [{"name": ..., "arguments": {...}},
  ...]}`` (one element when parallel calls are off), or, when the model may answer directly
  (``auto``), ``{"response": "<text>"}`` (with ``response_format: json_schema`` the ``response``
  value follows that schema instead of being a string). The grammar admits nothing else.
* **Earlier assistant tool calls** are rendered as exactly that envelope (compact
  ``json.dumps``), so the prompt and the grammar agree; text content next to tool calls is not
  rendered.
* **Tool results** (``role: "tool"``, and legacy ``role: "function"``) become user messages
  ``{"tool_response": {"tool_call_id": ..., "name": ..., "content": ...}}`` (no
  ``tool_call_id`` for legacy function results).

Call ids are made by the gateway (``call_`` + 24 random letters and digits), never by the model.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from atrium.engines.base import ChatMessage, ToolDefinition
from atrium.structured.schema_gbnf import relocate_refs

TOOLS_HEADING: Final = "# Tools"
CALL_ID_ALPHABET: Final = string.ascii_letters + string.digits
EMPTY_PARAMETERS: Final[Mapping[str, Any]] = {"type": "object", "properties": {}}

FunctionSpec = ToolDefinition
"""A callable function as the request declared it (a tool, or a legacy function)."""


@dataclass(frozen=True, slots=True)
class ParsedCall:
    name: str
    arguments: Any  # the decoded JSON arguments


def new_call_id() -> str:
    return "call_" + "".join(secrets.choice(CALL_ID_ALPHABET) for _ in range(24))


def dump_json(value: Any) -> str:
    """Compact-ish canonical JSON as the envelope uses it (``", "`` and ``": "``)."""
    return json.dumps(value, ensure_ascii=False)


# -- prompt -----------------------------------------------------------------------------------


def prompt_entry(function: FunctionSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": function.name}
    if function.description:
        entry["description"] = function.description
    entry["parameters"] = function.parameters
    return entry


def tools_section(
    functions: Sequence[FunctionSpec], *, forced: str | None, required: bool, parallel: bool
) -> str:
    """The system-prompt section that lists ``functions`` and the reply format."""
    listing = json.dumps([prompt_entry(f) for f in functions], ensure_ascii=False, indent=2)
    example_name = forced or functions[0].name
    lines = [
        TOOLS_HEADING,
        "",
        "You can call these tools (the JSON Schema of each one's arguments is under "
        '"parameters"):',
        listing,
        "",
        "To call tools, reply with only this JSON object:",
        '{"tool_calls": [{"name": "<tool name>", "arguments": {<arguments>}}]}',
        f'Example: {{"tool_calls": [{{"name": "{example_name}", "arguments": {{...}}}}]}}',
    ]
    if parallel and forced is None:
        lines.append("You may call several tools at once: put one object per call in the list.")
    else:
        lines.append("Call exactly one tool.")
    if forced is not None:
        lines.append(f'You must call the tool "{forced}" now.')
    elif required:
        lines.append("You must call at least one tool now.")
    else:
        lines.append(
            'To answer the user directly instead, reply with only {"response": "<your answer>"}.'
        )
    lines.append(
        'Tool results come back as {"tool_response": {"tool_call_id": ..., "name": ..., '
        '"content": ...}}.'
    )
    return "\n".join(lines)


def tool_calls_text(calls: Sequence[ParsedCall]) -> str:
    """An earlier assistant turn that called tools, as the model would have written it."""
    return dump_json({"tool_calls": [{"name": c.name, "arguments": c.arguments} for c in calls]})


def tool_response_text(call_id: str | None, name: str | None, content: str) -> str:
    response: dict[str, Any] = {}
    if call_id is not None:
        response["tool_call_id"] = call_id
    response["name"] = name
    response["content"] = content
    return dump_json({"tool_response": response})


def envelope_message(message: ChatMessage) -> ChatMessage:
    """A canonical message in this format: tool calls as the envelope, a tool result as a
    user message; other messages as they are."""
    if message.role == "tool":
        text = tool_response_text(message.tool_call_id, message.name, message.content)
        return ChatMessage(role="user", content=text)
    if message.tool_calls:
        calls = [ParsedCall(call.name, call.decoded_arguments()) for call in message.tool_calls]
        return ChatMessage(role="assistant", content=tool_calls_text(calls), name=message.name)
    return message


def envelope_messages(
    messages: Sequence[ChatMessage], section: str | None
) -> tuple[ChatMessage, ...]:
    """``messages`` in this format, with the tools ``section`` in the system message."""
    converted = tuple(envelope_message(message) for message in messages)
    return converted if section is None else with_system_section(converted, section)


def with_system_section(messages: tuple[ChatMessage, ...], section: str) -> tuple[ChatMessage, ...]:
    """``section`` appended to the first system message, or a system message put first."""
    for index, message in enumerate(messages):
        if message.role == "system":
            merged = replace(message, content=f"{message.content}\n\n{section}")
            return (*messages[:index], merged, *messages[index + 1 :])
    return (ChatMessage(role="system", content=section), *messages)


# -- grammar ----------------------------------------------------------------------------------


def call_schemas(
    functions: Sequence[FunctionSpec],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One ``{"name": <const>, "arguments": <parameters>}`` object schema per function, and
    the ``$defs`` (``f0``, ``f1``, ...) holding their parameters, for a document root."""
    defs: dict[str, Any] = {}
    calls: list[dict[str, Any]] = []
    for index, function in enumerate(functions):
        key = f"f{index}"
        defs[key] = relocate_refs(function.parameters, f"#/$defs/{key}")
        calls.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": function.name},
                    "arguments": {"$ref": f"#/$defs/{key}"},
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    return calls, defs


def envelope_schema(
    functions: Sequence[FunctionSpec],
    *,
    parallel: bool,
    allow_response: bool,
    response_schema: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON Schema of the model's turn (see the module docstring); ``functions`` are the
    ones the grammar may call (one for a named ``tool_choice``)."""
    calls, defs = call_schemas(functions)
    items: dict[str, Any] = calls[0] if len(calls) == 1 else {"anyOf": calls}
    array: dict[str, Any] = {"type": "array", "items": items, "minItems": 1}
    if not parallel:
        array["maxItems"] = 1
    tool_calls = {
        "type": "object",
        "properties": {"tool_calls": array},
        "required": ["tool_calls"],
        "additionalProperties": False,
    }
    if not allow_response:
        return {**tool_calls, "$defs": defs}
    response: dict[str, Any] = {"type": "string"}
    if response_schema is not None:
        defs["response"] = relocate_refs(response_schema, "#/$defs/response")
        response = {"$ref": "#/$defs/response"}
    answer = {
        "type": "object",
        "properties": {"response": response},
        "required": ["response"],
        "additionalProperties": False,
    }
    return {"anyOf": [tool_calls, answer], "$defs": defs}


# -- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedTurn:
    """The model's envelope, decoded: either tool calls or a direct answer."""

    calls: tuple[ParsedCall, ...] = ()
    response: Any = None

    @property
    def content(self) -> str:
        """The direct answer as message content (a non-string answer as JSON text)."""
        if isinstance(self.response, str):
            return self.response
        return dump_json(self.response)


def parse_turn(text: str) -> ParsedTurn:
    """Decode an envelope; ``ValueError`` when ``text`` is not one (a grammar bug)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("the envelope is not a JSON object")
    if "tool_calls" in value:
        raw = value["tool_calls"]
        if not isinstance(raw, list) or not raw:
            raise ValueError("'tool_calls' is not a non-empty list")
        return ParsedTurn(calls=tuple(parsed_call_object(call) for call in raw))
    if "response" in value:
        return ParsedTurn(response=value["response"])
    raise ValueError("the envelope has neither 'tool_calls' nor 'response'")


def parsed_call_object(call: Any) -> ParsedCall:
    """A decoded ``{"name": ..., "arguments": ...}`` call; ``ValueError`` when it is not one."""
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise ValueError("a tool call without a name")
    return ParsedCall(call["name"], call.get("arguments", {}))
