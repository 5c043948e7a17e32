"""A deterministic engine for tests of everything above the engines.

It "tokenizes" text into words (each with its leading whitespace), answers with a reply
derived from the request (or a scripted one), and can be told to be slow, to fail after a
number of tokens, or to be not ready. It records what it was asked and what was aborted so
that tests can assert on the engine's side of a request.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field

from atrium.engines.base import (
    Engine,
    EngineHealth,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    PromptProcessed,
    TokenDelta,
)
from atrium.errors import ContextLengthExceededError, EngineError, ModelNotFoundError

TOKEN_PATTERN = re.compile(r"\s*\S+|\s+")
FAKE_VOCAB_SIZE = 32_000


def fake_tokenize(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def fake_token_id(piece: str) -> int:
    return zlib.crc32(piece.encode("utf-8")) % FAKE_VOCAB_SIZE


def default_reply(request: GenerationRequest) -> str:
    if request.messages is not None:
        last_user = next(
            (message.content for message in reversed(request.messages) if message.role == "user"),
            "",
        )
        return f"You said: {last_user}"
    return f" and then {request.prompt}"


def render_fake_prompt(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    assert request.messages is not None
    lines = [f"{message.role}: {message.content}" for message in request.messages]
    return "\n".join([*lines, "assistant:"])


@dataclass
class FakeBehaviour:
    """What the fake engine does; tests change it between requests."""

    reply: Callable[[GenerationRequest], str] = default_reply
    token_delay_s: float = 0.0
    fail_after_tokens: int | None = None


@dataclass
class FakeEngine(Engine):
    model_ids: tuple[str, ...] = ("fake-model",)
    context_size: int = 2048
    behaviour: FakeBehaviour = field(default_factory=FakeBehaviour)
    ready: bool = False
    requests: list[GenerationRequest] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    active: set[str] = field(default_factory=set)

    async def start(self) -> None:
        self.ready = True

    async def stop(self) -> None:
        self.ready = False

    def models(self) -> Sequence[ModelInfo]:
        return [
            ModelInfo(id=model_id, context_size=self.context_size) for model_id in self.model_ids
        ]

    def health(self) -> EngineHealth:
        return EngineHealth(ready=self.ready, detail="" if self.ready else "fake engine stopped")

    async def count_tokens(self, model: str, text: str) -> int:
        self._check_model(model)
        return len(fake_tokenize(text))

    async def abort(self, request_id: str) -> None:
        if request_id in self.active:
            self.active.discard(request_id)
            self.aborted.append(request_id)

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        return self._generate(request)

    async def _generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        self._check_model(request.model)
        self.requests.append(request)
        prompt_tokens = len(fake_tokenize(render_fake_prompt(request)))
        budget = self._completion_budget(request, prompt_tokens)
        pieces = fake_tokenize(self.behaviour.reply(request))
        self.active.add(request.request_id)
        completed = False
        try:
            yield PromptProcessed(prompt_tokens=prompt_tokens)
            emitted = 0
            for piece in pieces[:budget]:
                if self.behaviour.fail_after_tokens == emitted:
                    raise EngineError("fake engine failure (scripted)")
                await asyncio.sleep(self.behaviour.token_delay_s)
                emitted += 1
                yield TokenDelta(text=piece, token_ids=(fake_token_id(piece),))
            reason: FinishReason = "length" if len(pieces) > budget else "stop"
            completed = True
            yield GenerationFinished(reason, prompt_tokens, emitted)
        finally:
            if request.request_id in self.active:
                self.active.discard(request.request_id)
                (self.finished if completed else self.aborted).append(request.request_id)

    def _completion_budget(self, request: GenerationRequest, prompt_tokens: int) -> int:
        max_tokens = request.sampling.max_tokens
        param = "messages" if request.messages is not None else "prompt"
        if prompt_tokens >= self.context_size or (
            max_tokens is not None and prompt_tokens + max_tokens > self.context_size
        ):
            raise ContextLengthExceededError(
                context_size=self.context_size,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
                param=param,
            )
        room = self.context_size - prompt_tokens
        return room if max_tokens is None else min(room, max_tokens)

    def _check_model(self, model: str) -> None:
        if model not in self.model_ids:
            raise ModelNotFoundError(model)
