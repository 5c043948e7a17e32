"""What a chat request asks of the model's output, and how the output is read back.

An :class:`OutputPlan` is built at the edge from ``response_format`` / ``tools`` / ``functions``
(``atrium.protocol.tools``). It carries the grammar the engine must enforce and the tools
section of the prompt, and turns the finished text of a choice into the answer OpenAI returns
(:meth:`OutputPlan.finish`): plain content, content validated against a JSON Schema, or tool calls.
The conversion happens on the text after the content filter, at the HTTP edge.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import jsonschema

from atrium.errors import EngineError
from atrium.structured.tools import FunctionSpec, dump_json, new_call_id, parse_turn

log = logging.getLogger(__name__)

OutputMode = Literal["text", "json_object", "json_schema", "tools"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, slots=True)
class FinalTurn:
    """A choice's answer in OpenAI's terms: ``content`` or ``tool_calls``, and its reason."""

    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    legacy: bool = False  # render the (single) call as ``function_call``


@dataclass(frozen=True, slots=True)
class OutputPlan:
    mode: OutputMode = "text"
    grammar: str | None = None
    response_schema: Mapping[str, Any] | None = None
    functions: tuple[FunctionSpec, ...] = ()
    prompt_section: str | None = None
    legacy: bool = False

    @property
    def calls_tools(self) -> bool:
        return self.mode == "tools"

    def finish(self, text: str | None, finish_reason: str) -> FinalTurn:
        """The answer for a choice that ended with ``finish_reason``. Only ``stop`` outputs are
        guaranteed complete: anything else is returned as raw content, as OpenAI does."""
        if text is None or finish_reason != "stop" or self.mode in ("text", "json_object"):
            return FinalTurn(text, (), finish_reason)
        if self.mode == "json_schema":
            self._validate(text, self.response_schema, "response_format")
            return FinalTurn(text, (), finish_reason)
        try:
            turn = parse_turn(text)
        except ValueError as exc:
            self._bug(text, "the tool envelope", str(exc))
        if not turn.calls:
            content = turn.content
            if self.response_schema is not None:
                self._validate(content, self.response_schema, "response_format")
            return FinalTurn(content, (), finish_reason)
        by_name = {function.name: function for function in self.functions}
        calls = []
        for call in turn.calls:
            function = by_name.get(call.name)
            if function is None:
                self._bug(text, "the tool envelope", f"unknown function {call.name!r}")
            arguments = dump_json(call.arguments)
            self._validate(arguments, function.parameters, f"function {call.name!r}")
            calls.append(ToolCall(new_call_id(), call.name, arguments))
        reason = "function_call" if self.legacy else "tool_calls"
        return FinalTurn(None, tuple(calls), reason, self.legacy)

    def _validate(self, text: str, schema: Mapping[str, Any] | None, what: str) -> None:
        try:
            value = json.loads(text)
        except ValueError as exc:
            self._bug(text, what, f"not JSON: {exc}")
        if schema is None:
            return
        validator = jsonschema.validators.validator_for(schema)(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            self._bug(text, what, f"{error.message} (schema: {dump_json(schema)})")

    @staticmethod
    def _bug(text: str, what: str, detail: str) -> NoReturn:
        log.error("constrained output does not match %s: %s; output: %r", what, detail, text)
        raise EngineError(
            f"the model's constrained output does not match {what}; this is a bug in Atrium"
        )


TEXT_PLAN = OutputPlan()
