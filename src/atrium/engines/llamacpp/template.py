"""Chat templates: the GGUF's ``tokenizer.chat_template`` rendered as Hugging Face does.

The template is compiled once, in a sandboxed jinja2 environment configured like
``transformers``' ``apply_chat_template`` (``trim_blocks``/``lstrip_blocks``, the
``raise_exception`` and ``strftime_now`` globals, a non-ASCII-escaping ``tojson``), so a
template written for Hugging Face renders the same prompt here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from atrium.engines.base import ChatMessage
from atrium.errors import InvalidRequestError

logger = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""Used when the GGUF carries no chat template (or one that does not compile)."""


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


def message_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Messages as the plain dicts chat templates expect."""
    result: list[dict[str, str]] = []
    for message in messages:
        item = {"role": message.role, "content": message.content}
        if message.name is not None:
            item["name"] = message.name
        result.append(item)
    return result


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

    def render(self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True) -> str:
        """The prompt text for ``messages``; ``ChatTemplateError`` when the template refuses."""
        try:
            return self._template.render(
                messages=message_dicts(messages),
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos_token,
                eos_token=self._eos_token,
            )
        except ChatTemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise ChatTemplateError(f"the chat template failed to render: {exc}") from exc
