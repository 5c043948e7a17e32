"""The serving layer: one generation pipeline for every dialect and every engine.

The HTTP edge decodes its dialect into a ``GenerationRequest`` and renders what comes out
of here; this layer resolves the model, admits the request to the engine, enforces stop
sequences and produces the authoritative token usage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from atrium.engines.base import (
    Engine,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    PromptProcessed,
    TokenDelta,
)
from atrium.errors import EngineError, EngineUnavailableError, ModelNotFoundError
from atrium.gateway.stops import StopMatcher


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Outcome:
    finish_reason: FinishReason
    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class CompletedGeneration:
    text: str
    outcome: Outcome


class GenerationStream:
    """An admitted generation: the prompt fit and the engine has started.

    ``pieces()`` yields the text (stop sequences already removed); ``outcome`` is set once
    that iteration ended normally. Closing it early aborts the generation in the engine.
    """

    def __init__(
        self,
        events: AsyncGenerator[GenerationEvent, None],
        prompt_tokens: int,
        stops: tuple[str, ...],
    ) -> None:
        self._events = events
        self._matcher = StopMatcher(stops)
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.outcome: Outcome | None = None

    async def aclose(self) -> None:
        await self._events.aclose()

    def pieces(self) -> AsyncGenerator[str, None]:
        """The text of the answer, piece by piece; close it to abort the generation."""
        return self._pieces()

    async def _pieces(self) -> AsyncGenerator[str, None]:
        async with aclosing(self._events):
            async for event in self._events:
                if isinstance(event, TokenDelta):
                    self.completion_tokens += len(event.token_ids)
                    scan = self._matcher.feed(event.text)
                    if scan.text:
                        yield scan.text
                    if scan.stopped:
                        self._finish("stop", self.completion_tokens)
                        return
                elif isinstance(event, GenerationFinished):
                    tail = self._matcher.flush()
                    if tail:
                        yield tail
                    self._finish(event.finish_reason, event.completion_tokens)
                    return
        raise EngineError("the engine ended the generation without a finish event")

    def _finish(self, reason: FinishReason, completion_tokens: int) -> None:
        self.completion_tokens = completion_tokens
        self.outcome = Outcome(reason, TokenUsage(self.prompt_tokens, completion_tokens))


class CompletionService:
    """Resolves models and runs generations on the engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def served_models(self) -> Sequence[ModelInfo]:
        return self._engine.models()

    def model(self, model_id: str) -> ModelInfo:
        for info in self._engine.models():
            if info.id == model_id:
                return info
        raise ModelNotFoundError(model_id)

    async def open(self, request: GenerationRequest) -> GenerationStream:
        """Admit ``request``: errors about the request itself are raised here, before any
        response has started, so every dialect can answer them with a proper status."""
        health = self._engine.health()
        if not health.ready:
            raise EngineUnavailableError(health.detail or "the engine is not ready yet")
        self.model(request.model)
        events = self._engine.generate(request)
        try:
            first = await anext(events)
        except StopAsyncIteration as exc:
            raise EngineError("the engine produced no events") from exc
        if not isinstance(first, PromptProcessed):
            await events.aclose()
            raise EngineError(f"the engine started with {type(first).__name__}")
        return GenerationStream(events, first.prompt_tokens, request.sampling.stop)

    async def complete(self, request: GenerationRequest) -> CompletedGeneration:
        stream = await self.open(request)
        async with aclosing(stream.pieces()) as pieces:
            texts = [piece async for piece in pieces]
        if stream.outcome is None:
            raise EngineError("the generation ended without an outcome")
        return CompletedGeneration("".join(texts), stream.outcome)
