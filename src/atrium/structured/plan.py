"""What a chat request asks of the model's output, and how the output is read back.

The edge checks ``response_format`` / ``tools`` / ``functions`` (``atrium.protocol.tools``)
into an :class:`OutputRequest`. Once the deployment is resolved, the model's tool format
(``ModelInfo.tool_format``) turns it into an :class:`OutputPlan` (:meth:`OutputRequest.plan`):
the grammar the engine must enforce, how the messages and tools reach the engine
(:meth:`OutputPlan.apply`: the fallback format of ``atrium.structured.tools``, or natively
through the chat template, ``atrium.structured.hermes``), and how the finished text of a choice
becomes the answer OpenAI returns (:meth:`OutputPlan.finish`): plain content, content validated
against a JSON Schema, or tool calls. The reading happens on the text after the content filter,
at the HTTP edge.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn

import jsonschema

from atrium.engines.base import GenerationRequest, ToolFormat
from atrium.errors import EngineError
from atrium.structured.hermes import hermes_grammar, parse_hermes_turn
from atrium.structured.schema_gbnf import schema_to_gbnf
from atrium.structured.tools import (
    FunctionSpec,
    dump_json,
    envelope_messages,
    envelope_schema,
    new_call_id,
    parse_turn,
    tools_section,
)

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
    """``response_schema``: what content must validate against (a direct answer's, with
    tools); ``functions``: the declared tools; ``prompt_section``: the fallback format's tools
    section; ``allow_answer``: whether a turn with tools may answer without calling."""

    mode: OutputMode = "text"
    grammar: str | None = None
    response_schema: Mapping[str, Any] | None = None
    functions: tuple[FunctionSpec, ...] = ()
    prompt_section: str | None = None
    legacy: bool = False
    tool_format: ToolFormat = "envelope"
    allow_answer: bool = True

    @property
    def calls_tools(self) -> bool:
        return self.mode == "tools"

    def apply(self, request: GenerationRequest) -> GenerationRequest:
        """``request`` as the engine gets it: with the grammar (and without stop sequences,
        which could cut a constrained output short), and a chat's messages and tools in the
        tool format: rewritten as plain text (``envelope``), or kept with their structure and
        the tools listed for the template (``hermes``)."""
        if self.grammar is not None:
            sampling = replace(request.sampling, grammar=self.grammar, stop=())
            request = replace(request, sampling=sampling)
        if request.messages is None:
            return request
        if self.tool_format == "envelope":
            messages = envelope_messages(request.messages, self.prompt_section)
            return replace(request, messages=messages, tools=())
        return replace(request, tools=self.functions if self.calls_tools else ())

    def finish(self, text: str | None, finish_reason: str) -> FinalTurn:
        """The answer for a choice that ended with ``finish_reason``. Only ``stop`` outputs are
        guaranteed complete: anything else is returned as raw content, as OpenAI does."""
        if text is None or finish_reason != "stop" or self.mode in ("text", "json_object"):
            return FinalTurn(text, (), finish_reason)
        if self.mode == "json_schema":
            self._validate(text, self.response_schema, "response_format")
            return FinalTurn(text, (), finish_reason)
        what = "the tool envelope" if self.tool_format == "envelope" else "the <tool_call> blocks"
        try:
            turn = parse_turn(text) if self.tool_format == "envelope" else parse_hermes_turn(text)
        except ValueError as exc:
            self._bug(text, what, str(exc))
        if not turn.calls:
            if not self.allow_answer:
                self._bug(text, what, "no tool call where one is required")
            content = turn.content
            if self.response_schema is not None:
                self._validate(content, self.response_schema, "response_format")
            return FinalTurn(content, (), finish_reason)
        by_name = {function.name: function for function in self.functions}
        calls = []
        for call in turn.calls:
            function = by_name.get(call.name)
            if function is None:
                self._bug(text, what, f"unknown function {call.name!r}")
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


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The functions a request declared (checked) and what the model may do with them:
    call ``forced`` exactly once (a named function), call at least one (``required``), or
    call or answer (``auto``); several calls at once only when ``parallel``."""

    functions: tuple[FunctionSpec, ...]
    forced: str | None = None
    required: bool = False
    parallel: bool = True
    legacy: bool = False

    @property
    def callable(self) -> tuple[FunctionSpec, ...]:
        if self.forced is None:
            return self.functions
        return tuple(function for function in self.functions if function.name == self.forced)

    @property
    def allow_answer(self) -> bool:
        return self.forced is None and not self.required

    @property
    def many_calls(self) -> bool:
        return self.parallel and self.forced is None  # a named function: one call


@dataclass(frozen=True, slots=True)
class OutputRequest:
    """What a chat request asks of the output, checked, before the model is known: the plan
    of its ``response_format`` and its tools (None: no tools, or ``tool_choice: "none"``)."""

    base: OutputPlan = TEXT_PLAN
    tools: ToolUse | None = None

    def plan(self, tool_format: ToolFormat) -> OutputPlan:
        """The plan for a model of ``tool_format``."""
        if self.tools is None:
            return replace(self.base, tool_format=tool_format)
        use = self.tools
        answer_schema = self.base.response_schema if self.base.mode != "text" else None
        section = None
        if tool_format == "envelope":
            schema = envelope_schema(
                use.callable,
                parallel=use.many_calls,
                allow_response=use.allow_answer,
                response_schema=answer_schema,
            )
            grammar = schema_to_gbnf(schema)
            section = tools_section(
                use.functions, forced=use.forced, required=use.required, parallel=use.parallel
            )
        else:
            grammar = hermes_grammar(
                use.callable,
                parallel=use.many_calls,
                allow_answer=use.allow_answer,
                answer_schema=answer_schema,
            )
        return OutputPlan(
            "tools",
            grammar,
            answer_schema if use.allow_answer else None,
            use.functions,
            section,
            use.legacy,
            tool_format,
            use.allow_answer,
        )
