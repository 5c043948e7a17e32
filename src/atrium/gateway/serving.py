"""The serving layer: one generation pipeline for every dialect and every engine.

The HTTP edge decodes its dialect into a ``GenerationRequest`` and renders what comes out
of here; this layer resolves the deployment the request names, admits the request to its
engine, enforces stop sequences (per choice) and produces the authoritative token usage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from atrium.engines.base import (
    Engine,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    PromptProcessed,
    TokenDelta,
    TokenLogprob,
)
from atrium.errors import EngineError, EngineUnavailableError
from atrium.gateway.deployments import DeploymentService
from atrium.gateway.roles import Principal
from atrium.gateway.stops import StopMatcher


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TextPiece:
    """Text of one choice, ready to send (stop sequences removed), with its logprobs."""

    choice: int
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class ChoiceFinished:
    choice: int
    finish_reason: FinishReason


StreamItem = TextPiece | ChoiceFinished


@dataclass(frozen=True, slots=True)
class Outcome:
    finish_reasons: tuple[FinishReason, ...]
    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class CompletedChoice:
    text: str
    finish_reason: FinishReason
    logprobs: tuple[TokenLogprob, ...]


@dataclass(frozen=True, slots=True)
class CompletedGeneration:
    choices: tuple[CompletedChoice, ...]
    usage: TokenUsage


@dataclass(slots=True)
class _ChoiceState:
    matcher: StopMatcher
    completion_tokens: int = 0
    finish_reason: FinishReason | None = None
    held_logprobs: list[TokenLogprob] = field(default_factory=list)

    def take_logprobs(self) -> tuple[TokenLogprob, ...]:
        taken = tuple(self.held_logprobs)
        self.held_logprobs.clear()
        return taken


class GenerationStream:
    """An admitted generation: the prompt fit and the engine has started.

    ``items()`` yields text pieces and per-choice finish markers; ``outcome`` is set once
    every choice finished. Closing ``items()`` early aborts the generation in the engine.
    """

    def __init__(
        self,
        events: AsyncGenerator[GenerationEvent, None],
        prompt: PromptProcessed,
        stops: tuple[str, ...],
        choices: int,
    ) -> None:
        self._events = events
        self._choices = [_ChoiceState(StopMatcher(stops)) for _ in range(choices)]
        self.prompt_tokens = prompt.prompt_tokens
        self.cached_tokens = prompt.cached_tokens
        self.outcome: Outcome | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(state.completion_tokens for state in self._choices)

    def items(self) -> AsyncGenerator[StreamItem, None]:
        return self._items()

    async def _items(self) -> AsyncGenerator[StreamItem, None]:
        async with aclosing(self._events):
            async for event in self._events:
                if isinstance(event, TokenDelta):
                    for item in self._on_delta(event):
                        yield item
                elif isinstance(event, GenerationFinished):
                    for item in self._on_finished(event):
                        yield item
                if all(state.finish_reason is not None for state in self._choices):
                    self._settle()
                    return
        raise EngineError("the engine ended the generation before every choice finished")

    def _state(self, choice: int) -> _ChoiceState:
        if not 0 <= choice < len(self._choices):
            raise EngineError(f"the engine sent choice {choice} of {len(self._choices)}")
        return self._choices[choice]

    def _on_delta(self, event: TokenDelta) -> list[StreamItem]:
        state = self._state(event.choice)
        if state.finish_reason is not None:  # already cut by a stop sequence
            return []
        state.completion_tokens += len(event.token_ids)
        state.held_logprobs.extend(event.logprobs)
        scan = state.matcher.feed(event.text)
        items: list[StreamItem] = []
        if scan.text or (scan.stopped and state.held_logprobs):
            items.append(TextPiece(event.choice, scan.text, state.take_logprobs()))
        if scan.stopped:
            state.finish_reason = "stop"
            items.append(ChoiceFinished(event.choice, "stop"))
        return items

    def _on_finished(self, event: GenerationFinished) -> list[StreamItem]:
        state = self._state(event.choice)
        if state.finish_reason is not None:
            return []
        items: list[StreamItem] = []
        tail = state.matcher.flush()
        if tail or state.held_logprobs:
            items.append(TextPiece(event.choice, tail, state.take_logprobs()))
        state.completion_tokens = event.completion_tokens
        state.finish_reason = event.finish_reason
        self.cached_tokens = max(self.cached_tokens, event.cached_tokens)
        items.append(ChoiceFinished(event.choice, event.finish_reason))
        return items

    def _settle(self) -> None:
        reasons = tuple(state.finish_reason or "stop" for state in self._choices)
        usage = TokenUsage(self.prompt_tokens, self.completion_tokens, self.cached_tokens)
        self.outcome = Outcome(reasons, usage)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: the deployment it named, its engine and model id there."""

    deployment: str
    engine: Engine
    model: str


class CompletionService:
    """Resolves deployments and runs generations on their engines."""

    def __init__(self, deployments: DeploymentService) -> None:
        self._deployments = deployments

    async def resolve(self, deployment: str, principal: Principal) -> Target:
        row = await self._deployments.resolve(deployment, principal)
        engine = self._deployments.engine(row.engine)
        if not any(info.id == row.model for info in engine.models()):
            raise EngineUnavailableError(
                f"deployment '{row.name}' points at model '{row.model}', which its engine "
                "does not serve now"
            )
        return Target(row.name, engine, row.model)

    async def open(self, request: GenerationRequest, target: Target) -> GenerationStream:
        """Admit ``request`` on ``target``: errors about the request itself are raised here,
        before any response has started, so every dialect answers them with a status."""
        engine = target.engine
        health = engine.health()
        if not health.ready:
            raise EngineUnavailableError(health.detail or "the engine is not ready yet")
        events = engine.generate(replace(request, model=target.model))
        try:
            first = await anext(events)
        except StopAsyncIteration as exc:
            raise EngineError("the engine produced no events") from exc
        if not isinstance(first, PromptProcessed):
            await events.aclose()
            raise EngineError(f"the engine started with {type(first).__name__}")
        return GenerationStream(events, first, request.sampling.stop, request.sampling.n)

    async def complete(self, request: GenerationRequest, target: Target) -> CompletedGeneration:
        stream = await self.open(request, target)
        texts: list[list[str]] = [[] for _ in range(request.sampling.n)]
        logprobs: list[list[TokenLogprob]] = [[] for _ in range(request.sampling.n)]
        async with aclosing(stream.items()) as items:
            async for item in items:
                if isinstance(item, TextPiece):
                    texts[item.choice].append(item.text)
                    logprobs[item.choice].extend(item.logprobs)
        if stream.outcome is None:
            raise EngineError("the generation ended without an outcome")
        choices = tuple(
            CompletedChoice("".join(text), reason, tuple(probs))
            for text, reason, probs in zip(
                texts, stream.outcome.finish_reasons, logprobs, strict=True
            )
        )
        return CompletedGeneration(choices, stream.outcome.usage)
