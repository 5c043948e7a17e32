"""Tool calling in the Hermes format, for models whose chat template knows tools natively.

Hermes 2 Pro / 3 and Qwen 2.5 / 3 were trained on it (``ToolFormat`` ``"hermes"``; how a
template is recognised: ``atrium.engines.llamacpp.template``). The gateway writes nothing into
the prompt: the engine renders the messages with their structure through the model's template,
which lists the tools (``tools=[{"type": "function", "function": {...}}]``), shows earlier
assistant ``tool_calls`` and ``role: "tool"`` results in its own way (Qwen 2.5:
``<tools>...</tools>`` in the system message, ``<tool_call>`` blocks, ``<tool_response>`` in a
user turn).

* **The model's turn** calling tools is one block per call, separated by a newline::

      <tool_call>
      {"name": "get_weather", "arguments": {"city": "Paris"}}
      </tool_call>

  ``name`` is one of the callable functions and ``arguments`` follows its parameters schema
  (one block when parallel calls are off or a function is named). The grammar admits exactly
  that (JSON whitespace as the JSON grammars allow it).
* **A direct answer** (``tool_choice: "auto"``) is plain text whose first character is neither
  ``<`` nor whitespace (so it can never be taken for a call), or, with ``response_format``
  ``json_object`` / ``json_schema``, JSON of that format.
* **``tool_choice: "none"``**: the tools are not given to the template and no grammar is used
  (unless ``response_format`` asks for one), as in the fallback format: the model must not call,
  so it is not shown what it could call. Earlier calls and results are still rendered natively.
  Text the model writes anyway is returned as content.

Call ids are made by the gateway (``call_`` + 24 random letters and digits), never by the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from atrium.structured.schema_gbnf import schemas_to_gbnf
from atrium.structured.tools import FunctionSpec, ParsedTurn, call_schemas, parsed_call_object

OPEN: Final = "<tool_call>"
CLOSE: Final = "</tool_call>"
_BLOCK: Final = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
# A plain answer: anything that starts with neither "<" nor whitespace.
TEXT_ANSWER_GBNF: Final = "[^<\\x09\\x0A\\x0D\\x20] [^\\x00]*"


def _literal(text: str) -> str:
    return json.dumps(text)  # a GBNF literal: the JSON string escapes are GBNF's too


def call_object_schema(functions: Sequence[FunctionSpec]) -> dict[str, Any]:
    """The JSON Schema of one call's ``{"name", "arguments"}`` object."""
    calls, defs = call_schemas(functions)
    body: dict[str, Any] = calls[0] if len(calls) == 1 else {"anyOf": calls}
    return {**body, "$defs": defs}


def hermes_grammar(
    functions: Sequence[FunctionSpec],
    *,
    parallel: bool,
    allow_answer: bool,
    answer_schema: Mapping[str, Any] | None = None,
) -> str:
    """The GBNF of the model's turn (see the module docstring): ``<tool_call>`` blocks calling
    ``functions`` (several when ``parallel``), or, when ``allow_answer``, a direct answer: JSON
    of ``answer_schema`` when given, else plain text."""
    schemas: dict[str, Mapping[str, Any]] = {"call": call_object_schema(functions)}
    if allow_answer and answer_schema is not None:
        schemas["answer"] = answer_schema

    def root(names: Mapping[str, str]) -> str:
        block = f"{_literal(OPEN + chr(10))} {names['call']} {_literal(chr(10) + CLOSE)}"
        calls = f"{block} ( {_literal(chr(10))} {block} )*" if parallel else block
        if not allow_answer:
            return calls
        answer = names.get("answer", TEXT_ANSWER_GBNF)
        return f"( {calls} ) | ( {answer} )"

    return schemas_to_gbnf(schemas, root)


def parse_hermes_turn(text: str) -> ParsedTurn:
    """The model's turn: ``<tool_call>`` blocks (only them, whitespace between), or, when
    the text does not start with one, a direct answer (the text as it is). ``ValueError``
    when the blocks are malformed (a grammar bug)."""
    stripped = text.strip()
    if not stripped.startswith(OPEN):
        return ParsedTurn(response=text)
    calls = []
    position = 0
    for match in _BLOCK.finditer(stripped):
        if stripped[position : match.start()].strip():
            raise ValueError("text between the tool calls")
        calls.append(parsed_call_object(json.loads(match.group(1))))
        position = match.end()
    if not calls or stripped[position:].strip():
        raise ValueError("text after the tool calls, or an unclosed <tool_call>")
    return ParsedTurn(calls=tuple(calls))
