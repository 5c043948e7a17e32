"""Chat templates: the GGUF's ``tokenizer.chat_template`` rendered as Hugging Face does.

The template is compiled once, in a sandboxed jinja2 environment configured like
``transformers``' ``apply_chat_template`` (``trim_blocks``/``lstrip_blocks``, the
``raise_exception`` and ``strftime_now`` globals, a non-ASCII-escaping ``tojson``), so a
template written for Hugging Face renders the same prompt here. It gets what
``apply_chat_template`` passes: ``messages`` (assistant ``tool_calls`` as
``[{"id", "type": "function", "function": {"name", "arguments": <decoded JSON>}}]``,
``role: "tool"`` results with ``tool_call_id`` and ``name``), and ``tools`` as
``[{"type": "function", "function": {"name", "description", "parameters"}}]`` when there are.

**Tool format** (``ChatTemplate.tool_format``, see ``atrium.engines.base.ToolFormat``): a
template knows tools in the ``hermes`` format when its source contains ``<tool_call>`` and a
probe conversation (one tool, an assistant call of it, the call's result) renders with the
tool's description, the result's text, and the call as a ``<tool_call>`` block holding exactly
``{"name": ..., "arguments": {...}}`` JSON (Qwen 2.5 / 3, Hermes 2 Pro / 3). Every other
template, and one that fails on the probe, is ``envelope`` (this is how minja finds a
template's tool capabilities: by trial renders, not by reading the source).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from atrium.engines.base import ChatMessage, MessageToolCall, ToolDefinition, ToolFormat
from atrium.errors import ConfigurationError, InvalidRequestError

logger = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Used when the GGUF carries no chat template (or one that does not compile)."""

_PROBE_DESCRIPTION: Final = "Atrium probe tool description."
_PROBE_TOOL: Final = ToolDefinition(
    "atrium_probe",
    _PROBE_DESCRIPTION,
    {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
)
_PROBE_CALL: Final = {"name": "atrium_probe", "arguments": {"n": 7}}
_PROBE_RESULT: Final = "Atrium probe result."
_PROBE_BLOCK: Final = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)


class ChatTemplateError(InvalidRequestError):
    """The conversation cannot be rendered by the model's chat template."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="messages")


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(message)


def _tojson(
    value: object,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


def message_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages as the plain dicts chat templates expect (tool calls with their arguments
    decoded: Qwen's and Hermes' templates apply ``tojson`` to them)."""
    result: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.name is not None:
            item["name"] = message.name
        if message.tool_calls:
            item["tool_calls"] = [
                {
                    **({"id": call.id} if call.id is not None else {}),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.decoded_arguments()},
                }
                for call in message.tool_calls
            ]
        if message.tool_call_id is not None:
            item["tool_call_id"] = message.tool_call_id
        result.append(item)
    return result


def tool_dicts(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    """Tools as ``apply_chat_template(tools=...)`` passes them."""
    result = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool.name}
        if tool.description:
            function["description"] = tool.description
        function["parameters"] = tool.parameters
        result.append({"type": "function", "function": function})
    return result


def check_template_source(source: str) -> None:
    """``ConfigurationError`` when ``source`` (a configured template) does not compile."""
    try:
        _environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigurationError(
            f"the chat template does not compile: {exc.message} (line {exc.lineno})"
        ) from exc
    except jinja2.TemplateError as exc:
        raise ConfigurationError(f"the chat template does not compile: {exc.message}") from exc


def _probe_messages() -> tuple[ChatMessage, ...]:
    call = MessageToolCall("call_probe", "atrium_probe", json.dumps(_PROBE_CALL["arguments"]))
    return (
        ChatMessage(role="user", content="Atrium probe question."),
        ChatMessage(role="assistant", content="", tool_calls=(call,)),
        ChatMessage(
            role="tool", content=_PROBE_RESULT, name="atrium_probe", tool_call_id="call_probe"
        ),
    )


class ChatTemplate:
    """A compiled chat template with the model's special-token texts bound to it."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        env = _environment()
        template: jinja2.Template | None = None
        if source:
            try:
                template = env.from_string(source)
            except jinja2.TemplateError as exc:
                logger.warning("the model's chat template does not compile (%s); using ChatML", exc)
        elif source is not None:
            logger.info("the model has an empty chat template; using ChatML")
        self.is_fallback = template is None
        self.source = CHATML_TEMPLATE if template is None else source or ""
        self._template = template if template is not None else env.from_string(CHATML_TEMPLATE)
        self._bos_token = bos_token
        self._eos_token = eos_token
        self.tool_format: ToolFormat = "hermes" if self._knows_hermes_tools() else "envelope"

    def render(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolDefinition] = (),
        add_generation_prompt: bool = True,
    ) -> str:
        """The prompt text for ``messages`` (and ``tools``, passed only when there are);
        ``ChatTemplateError`` when the template refuses or fails."""
        extra = {"tools": tool_dicts(tools)} if tools else {}
        try:
            return self._template.render(
                messages=message_dicts(messages),
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos_token,
                eos_token=self._eos_token,
                **extra,
            )
        except ChatTemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise ChatTemplateError(f"the chat template failed to render: {exc}") from exc
        except (TypeError, ValueError) as exc:  # e.g. ``'text' + none`` in the template
            raise ChatTemplateError(f"the chat template failed to render: {exc}") from exc

    def _knows_hermes_tools(self) -> bool:
        """The rule of the module docstring."""
        if "<tool_call>" not in self.source:
            return False
        try:
            text = self.render(_probe_messages(), tools=(_PROBE_TOOL,))
        except ChatTemplateError as exc:
            logger.info("the chat template mentions <tool_call> but fails a tool probe: %s", exc)
            return False
        if _PROBE_DESCRIPTION not in text or _PROBE_RESULT not in text:
            return False
        for match in _PROBE_BLOCK.finditer(text):
            try:
                if json.loads(match.group(1)) == _PROBE_CALL:
                    return True
            except ValueError:
                continue
        return False
