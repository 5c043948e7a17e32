"""The engine interface.

The gateway and the HTTP API depend on nothing else of an engine. An engine streams a
generation for a canonical request as a sequence of events:

1. exactly one ``PromptProcessed`` (how many tokens the prompt took),
2. zero or more ``TokenDelta`` (new text of one choice and the token ids that produced it),
3. one ``GenerationFinished`` per choice (why it stopped, with the final token counts);
   with ``n > 1`` the deltas of the choices interleave, and the stream ends after the
   last choice finished.

Errors before the first event (unknown model, prompt too long) are raised as the typed
exceptions of ``atrium.errors``. Closing the async iterator early (``aclose()``, or the task
consuming it being cancelled) aborts the generation and frees its resources at once.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length"]
ToolFormat = Literal["envelope", "hermes"]
"""How a model takes tools, earlier tool calls and tool results, and writes its calls:

* ``envelope``: it does not know tools. The gateway writes them into the system prompt, earlier
  calls and results as plain JSON text, and the model answers with a JSON envelope
  (``atrium.structured.tools``). The engine sees plain ``system``/``user``/``assistant`` text.
* ``hermes``: its chat template renders ``tools``, assistant ``tool_calls`` and ``tool``
  messages itself, and the model writes ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
  blocks (Hermes 2 Pro / 3, Qwen 2.5 / 3; ``atrium.structured.hermes``). The engine gets the
  messages with their structure and the tool definitions (``GenerationRequest.tools``).
"""


@dataclass(frozen=True, slots=True)
class MessageToolCall:
    """A call an earlier assistant message made (``id`` is None for a legacy function call)."""

    id: str | None
    name: str
    arguments: str  # JSON text, as the client sent it

    def decoded_arguments(self) -> Any:
        """The arguments as JSON values (a dict for a well-formed call), or the text itself
        when it is not JSON."""
        try:
            return json.loads(self.arguments)
        except ValueError:
            return self.arguments


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation.

    Plain text for ``system``/``user``/``assistant``. With a model of the ``hermes`` tool
    format, an assistant message may carry ``tool_calls``, and a ``tool`` message is the
    result of the call ``tool_call_id`` (None for a legacy function result) of the function
    ``name``. Engines of ``envelope`` models never see either.
    """

    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[MessageToolCall, ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """A function the model may call: its name, description and the JSON Schema of its
    arguments (an object schema)."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to pick tokens. ``temperature == 0`` means greedy decoding.

    ``top_k == 0`` and ``min_p == 0`` disable those filters; ``repetition_penalty == 1``
    disables it. ``logit_bias`` holds ``(token_id, bias)`` pairs, bias in [-100, 100].
    ``n`` choices are generated from one prompt (choice ``i`` seeded with ``seed + i``).
    ``logprobs`` asks for the log-probability of each generated token and
    ``top_logprobs`` for that many most likely alternatives at each position.
    ``grammar`` (GBNF, root rule ``root``) constrains the generated text to its language:
    engines that cannot enforce it must refuse the request, never ignore it.
    """

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    grammar: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A canonical generation request: either a chat (``messages``) or a raw ``prompt``.

    ``tools`` are the functions a chat template of the ``hermes`` tool format lists (empty
    otherwise: the gateway has written them into the messages, or none may be called).
    """

    request_id: str
    model: str
    sampling: SamplingParams
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    tools: tuple[ToolDefinition, ...] = ()

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("a GenerationRequest needs exactly one of messages or prompt")


@dataclass(frozen=True, slots=True)
class PromptProcessed:
    prompt_tokens: int
    cached_tokens: int = 0
    """Prompt tokens whose KV came from the prefix cache instead of being computed."""


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token_id: int
    token: str
    bytes: bytes
    logprob: float


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The log-probability of one generated token, and the most likely alternatives."""

    token_id: int
    token: str
    bytes: bytes
    logprob: float
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class TokenDelta:
    """New text of choice ``choice``. ``logprobs`` (when asked for) has one entry per id."""

    text: str
    token_ids: tuple[int, ...]
    choice: int = 0
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationFinished:
    """Choice ``choice`` ended. With ``n`` choices there are ``n`` of these, and the stream
    ends after the last one; ``prompt_tokens`` is the same in each."""

    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    choice: int = 0
    cached_tokens: int = 0


GenerationEvent = PromptProcessed | TokenDelta | GenerationFinished


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model an engine serves, as listed by ``GET /v1/models``, and how it takes tools."""

    id: str
    context_size: int
    owned_by: str = "atrium"
    created: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    tool_format: ToolFormat = "envelope"


@dataclass(frozen=True, slots=True)
class EngineHealth:
    ready: bool
    detail: str = ""


class Engine(abc.ABC):
    """What every engine (embedded llama.cpp, HTTP upstream, fake) implements."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Load models / open connections. Called once from the app's lifespan."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Abort running work and release every resource. Idempotent."""

    @abc.abstractmethod
    def models(self) -> Sequence[ModelInfo]:
        """The models this engine serves (may be empty before ``start``)."""

    @abc.abstractmethod
    def health(self) -> EngineHealth:
        """Whether the engine can take requests now."""

    @abc.abstractmethod
    async def count_tokens(self, model: str, text: str) -> int:
        """Number of tokens ``text`` takes for ``model`` (no special tokens added)."""

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        """Stream the events of one generation (see the module docstring)."""

    def metrics(self) -> Mapping[str, float]:
        """Gauges and counters for the metrics endpoint (names are engine-defined)."""
        return {}

    @abc.abstractmethod
    async def abort(self, request_id: str) -> None:
        """Stop the generation with this id, if it is running. Unknown ids are ignored."""
