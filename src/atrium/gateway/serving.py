"""The serving layer: one generation pipeline for every dialect and every engine.

The HTTP edge decodes its dialect into a ``GenerationRequest`` and renders what comes out
of here; this layer resolves the deployment the request names, admits the request to its
engine, enforces stop sequences (per choice) and produces the authoritative token usage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
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
    ToolFormat,
)
from atrium.errors import EngineError, EngineUnavailableError
from atrium.gateway.deployments import DeploymentService
from atrium.gateway.filtering import ContentScreen, OutcomeHook, StreamGuard
from atrium.gateway.items import ChoiceEnd, ChoiceFinished, StreamItem, TextPiece
from atrium.gateway.roles import Principal
from atrium.gateway.stops import StopMatcher
from atrium.safety.pipeline import ContentFilter
from atrium.safety.policy import ContentPolicySettings
from atrium.safety.results import FilterResults, PromptFilterResults


@dataclass(frozen=True, slots=True)
class TokenUsage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Outcome:
    finish_reasons: tuple[ChoiceEnd, ...]
    usage: TokenUsage


@dataclass(frozen=True, slots=True)
class CompletedChoice:
    """One choice's answer; ``text`` is None when the content filter withheld it."""

    text: str | None
    finish_reason: ChoiceEnd
    logprobs: tuple[TokenLogprob, ...]
    filter_results: FilterResults | None = None


@dataclass(frozen=True, slots=True)
class CompletedGeneration:
    choices: tuple[CompletedChoice, ...]
    usage: TokenUsage
    prompt_results: tuple[PromptFilterResults, ...] = ()


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
        *,
        guard: StreamGuard | None = None,
        prompt_results: tuple[PromptFilterResults, ...] = (),
    ) -> None:
        self._events = events
        self._choices = [_ChoiceState(StopMatcher(stops)) for _ in range(choices)]
        self._guard = guard
        self._cut: set[int] = set()
        self.prompt_tokens = prompt.prompt_tokens
        self.cached_tokens = prompt.cached_tokens
        self.prompt_results = prompt_results
        self.outcome: Outcome | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(state.completion_tokens for state in self._choices)

    def items(self) -> AsyncGenerator[StreamItem, None]:
        if self._guard is None:
            return self._items()
        return self._guarded_items(self._guard)

    async def _guarded_items(self, guard: StreamGuard) -> AsyncGenerator[StreamItem, None]:
        """The items after the content filter: released in checked windows; a cut choice
        ends with ``content_filter``, and when every choice has ended the engine stops."""
        async with aclosing(self._items()) as raw, aclosing(guard.apply(raw)) as items:
            async for item in items:
                if isinstance(item, ChoiceFinished) and item.finish_reason == "content_filter":
                    self._cut.add(item.choice)
                yield item
        if self.outcome is None and guard.all_ended():
            self._settle()
        elif self.outcome is not None and self._cut:
            self._settle()  # a choice the engine finished was cut by the final check

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
        reasons: tuple[ChoiceEnd, ...] = tuple(
            "content_filter" if index in self._cut else state.finish_reason or "stop"
            for index, state in enumerate(self._choices)
        )
        usage = TokenUsage(self.prompt_tokens, self.completion_tokens, self.cached_tokens)
        self.outcome = Outcome(reasons, usage)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: the deployment it named, its engine and model id there, the
    content policy of the deployment (None: no filtering), and how the model takes tools."""

    deployment: str
    engine: Engine
    model: str
    policy: ContentPolicySettings | None = None
    tool_format: ToolFormat = "envelope"


PolicyLookup = Callable[[str], Awaitable[ContentPolicySettings]]
RequestPreparation = Callable[[GenerationRequest], GenerationRequest]


class CompletionService:
    """Resolves deployments and runs generations on their engines, through the content
    filter of the deployment's policy."""

    def __init__(
        self,
        deployments: DeploymentService,
        policy_lookup: PolicyLookup | None = None,
        content_filter: ContentFilter | None = None,
    ) -> None:
        self._deployments = deployments
        self._policy_lookup = policy_lookup
        self._content_filter = content_filter

    async def resolve(self, deployment: str, principal: Principal) -> Target:
        row = await self._deployments.resolve(deployment, principal)
        engine = self._deployments.engine(row.engine)
        info = next((info for info in engine.models() if info.id == row.model), None)
        if info is None:
            raise EngineUnavailableError(
                f"deployment '{row.name}' points at model '{row.model}', which its engine "
                "does not serve now"
            )
        policy = None
        if row.content_policy is not None and self._policy_lookup is not None:
            policy = await self._policy_lookup(row.content_policy)
        return Target(row.name, engine, row.model, policy, info.tool_format)

    def screen_for(
        self, target: Target, on_outcome: OutcomeHook | None = None
    ) -> ContentScreen | None:
        if target.policy is None or self._content_filter is None:
            return None
        return ContentScreen(self._content_filter, target.policy, on_outcome)

    async def open(
        self,
        request: GenerationRequest,
        target: Target,
        screen: ContentScreen | None = None,
        *,
        windowed: bool = True,
        prepare: RequestPreparation | None = None,
    ) -> GenerationStream:
        """Admit ``request`` on ``target``: errors about the request itself (a filtered
        prompt included) are raised here, before any response has started, so every dialect
        answers them with a status. The content filter sees the request as the client sent
        it (tool results as tool messages); ``prepare`` then shapes it for the engine (the
        tool format of an output plan)."""
        prompt_results: tuple[PromptFilterResults, ...] = ()
        if screen is not None:
            screened = await screen.screen_prompt(request)
            request, prompt_results = screened.request, screened.results
        if prepare is not None:
            request = prepare(request)
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
        # Streamed text is checked in windows; an unstreamed answer is checked whole instead.
        guard = screen.guard(request.sampling.n) if screen is not None and windowed else None
        return GenerationStream(
            events,
            first,
            request.sampling.stop,
            request.sampling.n,
            guard=guard,
            prompt_results=prompt_results,
        )

    async def complete(
        self,
        request: GenerationRequest,
        target: Target,
        screen: ContentScreen | None = None,
        *,
        prepare: RequestPreparation | None = None,
    ) -> CompletedGeneration:
        """The whole answer; with a policy, each choice's final text is checked once."""
        stream = await self.open(request, target, screen, windowed=False, prepare=prepare)
        texts: list[list[str]] = [[] for _ in range(request.sampling.n)]
        logprobs: list[list[TokenLogprob]] = [[] for _ in range(request.sampling.n)]
        async with aclosing(stream.items()) as items:
            async for item in items:
                if isinstance(item, TextPiece):
                    texts[item.choice].append(item.text)
                    logprobs[item.choice].extend(item.logprobs)
        if stream.outcome is None:
            raise EngineError("the generation ended without an outcome")
        choices = []
        for text, reason, probs in zip(texts, stream.outcome.finish_reasons, logprobs, strict=True):
            choice = CompletedChoice("".join(text), reason, tuple(probs))
            if screen is not None:
                choice = await _screened_choice(screen, choice)
            choices.append(choice)
        usage = stream.outcome.usage
        return CompletedGeneration(tuple(choices), usage, stream.prompt_results)


async def _screened_choice(screen: ContentScreen, choice: CompletedChoice) -> CompletedChoice:
    """The choice after the completion checks: withheld (``content_filter``) or redacted."""
    screening = await screen.screen_completion(choice.text or "")
    if screening.blocked:
        return CompletedChoice(None, "content_filter", (), screening.results)
    return replace(choice, text=screening.texts[0], filter_results=screening.results)
